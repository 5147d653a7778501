//! An event: one story told by one or more outlets, with a short id people can type.

use super::{Entity, ItemId, TopicId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Six characters from an alphabet without look-alikes (no 0/o, 1/l/i), e.g. `k7mq2x`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

const ALPHABET: &[u8; 32] = b"23456789abcdefghjkmnpqrstuvwxyz_";

impl EventId {
    /// The id derived from a number (the first item's id, salted on a collision).
    pub fn from_number(mut number: u64) -> Self {
        let mut id = String::with_capacity(6);
        for _ in 0..6 {
            // Skip `_`, the 32nd symbol, so ids are letters and digits only.
            id.push(ALPHABET[(number % 31) as usize] as char);
            number /= 31;
        }
        Self(id)
    }

    /// Accepts what a user types: case and surrounding spaces do not matter.
    pub fn parse(raw: &str) -> Option<Self> {
        let id = raw.trim().trim_start_matches('#').to_ascii_lowercase();
        let valid = id.len() == 6 && id.bytes().all(|b| ALPHABET[..31].contains(&b));
        valid.then_some(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("`{value}` is not an event id"))
    }
}

impl From<EventId> for String {
    fn from(value: EventId) -> Self {
        value.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One outlet's article about the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSource {
    pub item: ItemId,
    pub outlet: String,
    pub title: String,
    pub link: Option<String>,
    pub time: DateTime<Utc>,
    /// The item's best topic score: the headline is the best-scored source's title.
    #[serde(default)]
    pub score: f32,
    /// Folded, stemmed significant words of the title and lead, to match later items.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// The report's own topics (an event's are the union of its reports'): reports split on
    /// opposed topics only when each has one clear topic. Empty in events stored before.
    #[serde(default)]
    pub topics: Vec<TopicId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub topics: Vec<TopicId>,
    pub entities: Vec<Entity>,
    /// The best source's title (see `events::headline_index`).
    pub headline: String,
    pub sources: Vec<EventSource>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl Event {
    pub fn headline_source(&self) -> Option<&EventSource> {
        self.sources
            .iter()
            .find(|s| s.title == self.headline)
            .or(self.sources.first())
    }

    pub fn outlets(&self) -> Vec<&str> {
        let mut outlets: Vec<&str> = Vec::new();
        for source in &self.sources {
            if !outlets.contains(&source.outlet.as_str()) {
                outlets.push(&source.outlet);
            }
        }
        outlets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_typeable_and_parse_back() {
        for number in [0, 1, 42, u64::MAX, 0xdead_beef_cafe] {
            let id = EventId::from_number(number);
            assert_eq!(id.as_str().len(), 6);
            assert!(
                id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()),
                "{id}"
            );
            assert_eq!(
                EventId::parse(&format!(" #{} ", id.as_str().to_uppercase())),
                Some(id)
            );
        }
        assert_ne!(EventId::from_number(1), EventId::from_number(2));
        assert_eq!(EventId::parse("abc"), None);
        assert_eq!(EventId::parse("k7mq2o"), None, "o is not in the alphabet");
    }
}

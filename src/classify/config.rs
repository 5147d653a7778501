//! The raw shape of `config/topics.toml` as serde reads it, before validation, and the
//! error that names the key a user got wrong. Nothing here compiles or matches text.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Why `topics.toml` was refused. Messages name the key, as a user would find it in the file.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The parser's message is the whole story (not also a `source`, which would make a
    /// report print it twice).
    #[error("topics.toml: {0}")]
    Toml(toml::de::Error),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("topics.toml: the term automaton could not be built: {0}")]
    Automaton(String),
}

impl From<toml::de::Error> for RulesError {
    fn from(error: toml::de::Error) -> Self {
        RulesError::Toml(error)
    }
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> RulesError {
    RulesError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRules {
    #[serde(default)]
    pub settings: RawSettings,
    /// Named term groups, used by `near`, `unless` and `context` (and `@name` in a list).
    #[serde(default)]
    pub groups: BTreeMap<String, RawTerms>,
    /// Entity kind (`company`, `chip`, …) → canonical name → aliases.
    #[serde(default)]
    pub entities: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Country entity → the entities (authorities, leaders) whose mention means that
    /// country acts: who acted is what tells Washington's move from Beijing's.
    #[serde(default)]
    pub actors: BTreeMap<String, Vec<String>>,
    /// Topics in file order (an array of tables keeps the order a map would lose).
    #[serde(default)]
    pub topic: Vec<RawTopic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    /// A rule that fires in the title counts this many times its weight.
    #[serde(default = "default_title_boost")]
    pub title_boost: f32,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            title_boost: default_title_boost(),
        }
    }
}

fn default_title_boost() -> f32 {
    1.5
}

/// A list of terms in three flavours. `it`: Italian words and phrases, Snowball-stemmed,
/// matched in Italian text only. `en`: English, stemmed, matched in any text (Italian
/// articles borrow "export", "open source"). `names`: exact words (codes, names, `@group`
/// and `$entity_kind` references), never stemmed. A leading `=` in `it`/`en` means exact.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerms {
    #[serde(default)]
    pub it: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    /// Used in `unless`, this group's own reach in words, overriding the rule's
    /// `unless_within` (a "non" negates the next word; a "nonostante" a whole clause).
    #[serde(default)]
    pub within: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopic {
    pub id: String,
    pub name_it: String,
    pub name_en: String,
    #[serde(default)]
    pub description_it: String,
    #[serde(default)]
    pub description_en: String,
    pub threshold: f32,
    /// Groups of which at least one term must occur somewhere in the item.
    #[serde(default)]
    pub context: Vec<String>,
    /// Words within which a context term must be of a rule's match; 0 means anywhere.
    #[serde(default)]
    pub context_within: u32,
    /// Topics this one gives way to: when one of them fires in the title and this topic
    /// fires only in the body, this topic is background ("despite the ban", a lifted ban).
    #[serde(default)]
    pub yields_to: Vec<String>,
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub weight: f32,
    #[serde(default)]
    pub it: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    /// Groups of which a term must occur within `within` words of the match.
    #[serde(default)]
    pub near: Vec<String>,
    #[serde(default = "default_within")]
    pub within: u32,
    /// Groups of which a term within `unless_within` words cancels the match (negation,
    /// denial, "despite").
    #[serde(default)]
    pub unless: Vec<String>,
    #[serde(default = "default_unless_within")]
    pub unless_within: u32,
    /// A topic whose matches this rule consumes: the `near` term that made this rule fire
    /// no longer counts for that topic ("revocato il divieto" is no ban).
    #[serde(default)]
    pub flips: Option<String>,
}

fn default_within() -> u32 {
    6
}

fn default_unless_within() -> u32 {
    3
}

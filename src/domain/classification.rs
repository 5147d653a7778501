//! What the classifier says about an item: topics with scores, entities, and why.

use super::TopicId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicScore {
    pub topic: TopicId,
    pub score: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Company,
    Chip,
    Authority,
    Country,
    Legal,
}

impl EntityKind {
    /// The name used in JSON and in the learned model's features.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Company => "company",
            EntityKind::Chip => "chip",
            EntityKind::Authority => "authority",
            EntityKind::Country => "country",
            EntityKind::Legal => "legal",
        }
    }
}

/// A named thing found in the text, normalised (`Nvidia` → `NVIDIA`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub name: String,
}

/// The classifier's verdict on one item. `topics` holds only the topics over their
/// threshold, best first; `scores` every topic that scored above zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub topics: Vec<TopicScore>,
    pub entities: Vec<Entity>,
    /// Human-readable reasons, e.g. `export_ban: "divieto di esportazione" (+3.0)`.
    pub why: Vec<String>,
    /// The named word groups of the rules (`restrict`, `licence`, `trade`, …) that the item
    /// used, sorted: what it says in words of no language, so an Italian and an English
    /// report of one story can be told alike. Only for relevant items.
    /// Shared with the compiled rules (`Arc<str>`): naming them costs no allocation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concepts: Vec<std::sync::Arc<str>>,
    /// Who acted, as far as the text says: the country of the first authority or country
    /// it names (see `[actors]` in topics.toml). Tells Washington's move from Beijing's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Classification {
    pub fn is_relevant(&self) -> bool {
        !self.topics.is_empty()
    }

    pub fn has_topic(&self, topic: &TopicId) -> bool {
        self.topics.iter().any(|t| &t.topic == topic)
    }
}

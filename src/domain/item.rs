//! A feed item as chipwatch keeps it, and the alert and delivery made from it.

use super::{ChatRef, Classification, EventId, FeedId, ItemId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    It,
    En,
}

impl Lang {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "it" | "ita" | "italian" | "italiano" => Some(Lang::It),
            "en" | "eng" | "english" | "inglese" => Some(Lang::En),
            other if other.starts_with("it-") || other.starts_with("it_") => Some(Lang::It),
            other if other.starts_with("en-") || other.starts_with("en_") => Some(Lang::En),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }
}

/// One article from one feed, with clean text (no HTML) and a stable id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub feed: FeedId,
    /// The outlet's display name (`Red Hot Cyber`).
    pub outlet: String,
    pub title: String,
    pub summary: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub lang: Lang,
}

impl Item {
    /// When the item happened as far as we know: its date, else when we first saw it.
    pub fn time(&self) -> DateTime<Utc> {
        self.published.unwrap_or(self.first_seen)
    }
}

/// What a chat is told about one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub item: Item,
    pub classification: Classification,
}

/// What a delivery says: a new story, or that more outlets now report one already sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DeliveryKind {
    #[default]
    Alert,
    /// "Also reported by …": the outlets that joined since the chat was last told.
    FollowUp {
        outlets: Vec<String>,
        sources: usize,
    },
    /// For the operators' admin chat: a feed has failed since `since`. The alert's item
    /// names the feed (outlet, URL) and its `summary` holds the last error.
    FeedFailing { since: DateTime<Utc> },
}

/// One alert queued for one chat, kept in the outbox until the platform accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Monotonic id from the store; also the idempotency key of the send.
    pub id: u64,
    pub chat: ChatRef,
    pub alert: Alert,
    /// The event the alert's item belongs to.
    #[serde(default)]
    pub event: Option<EventId>,
    #[serde(default)]
    pub kind: DeliveryKind,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Not before this time (back-off after a transient error or a rate limit).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// Set after the platform refused the formatted message: the retry goes as plain text.
    #[serde(default)]
    pub plain_text: bool,
    /// Held for the chat's daily digest (its `not_before` is the digest time).
    #[serde(default)]
    pub digest: bool,
}

impl Delivery {
    /// A new delivery of `alert` to `chat`; the store assigns the id when it queues it.
    pub fn new(
        chat: ChatRef,
        alert: Alert,
        event: Option<EventId>,
        kind: DeliveryKind,
        created: DateTime<Utc>,
    ) -> Self {
        Self {
            id: 0,
            chat,
            alert,
            event,
            kind,
            created,
            attempts: 0,
            last_error: None,
            not_before: None,
            plain_text: false,
            digest: false,
        }
    }
}

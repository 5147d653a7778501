//! What chipwatch remembers about each feed between polls: HTTP validators for
//! conditional GET, the schedule, and health counters that operators read.

use super::{FeedId, Lang};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A feed an operator added at run time (`/addfeed`), polled beside the configured ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub id: FeedId,
    pub name: String,
    pub url: String,
    pub lang: Lang,
    pub added_by: i64,
    pub added: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// False until the first successful poll recorded what the feed listed.
    pub primed: bool,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_bytes: u64,
    pub last_items: u32,
    pub polls: u64,
    pub not_modified: u64,
    pub consecutive_errors: u32,
    pub last_error: Option<String>,
    /// Since when the feed has failed without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    pub next_poll: Option<DateTime<Utc>>,
    /// Repairs the parser needed on the last body (bare `&`, wrong charset, …).
    #[serde(default)]
    pub repairs: Vec<String>,
    /// Items held without alerting by the flood breaker (re-listed, not news), in all.
    #[serde(default)]
    pub held_items: u64,
    #[serde(default)]
    pub last_flood: Option<DateTime<Utc>>,
    /// The newest publication date among the entries seen so far (never later than the
    /// poll that saw it): the flood breaker lets entries dated after it through.
    #[serde(default)]
    pub newest_published: Option<DateTime<Utc>>,
    /// Whether the operator was already told that this feed is failing.
    #[serde(default)]
    pub failure_reported: bool,
}

impl FeedState {
    /// The share of polls answered 304 Not Modified.
    pub fn not_modified_ratio(&self) -> f64 {
        if self.polls == 0 {
            0.0
        } else {
            self.not_modified as f64 / self.polls as f64
        }
    }
}

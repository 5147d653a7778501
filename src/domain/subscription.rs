//! A chat's subscription: which topics and keywords it follows, and how it wants alerts.

use super::{ChatRef, Classification, Item, Lang, TopicId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum DeliveryMode {
    #[default]
    Instant,
    /// One message a day at this local time (minutes after midnight).
    Digest { minute_of_day: u16 },
}

/// Quiet hours in the chat's time zone, as minutes after midnight; may wrap midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: u16,
    pub end: u16,
}

impl QuietHours {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub chat: ChatRef,
    pub topics: BTreeSet<TopicId>,
    /// Alert on items whose text contains one of these, whatever their topics.
    #[serde(default)]
    pub include_keywords: BTreeSet<String>,
    /// Never alert on items whose text contains one of these.
    #[serde(default)]
    pub exclude_keywords: BTreeSet<String>,
    /// False after the platform said the chat is gone or blocked us; kept so `/start`
    /// can bring it back.
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub lang: Lang,
    #[serde(default)]
    pub mode: DeliveryMode,
    #[serde(default)]
    pub quiet: Option<QuietHours>,
}

fn yes() -> bool {
    true
}

impl Subscription {
    pub fn new(chat: ChatRef) -> Self {
        Self {
            chat,
            topics: BTreeSet::new(),
            include_keywords: BTreeSet::new(),
            exclude_keywords: BTreeSet::new(),
            active: true,
            lang: Lang::default(),
            mode: DeliveryMode::default(),
            quiet: None,
        }
    }

    /// Whether this subscription wants an alert for this item. Keywords are matched on
    /// lowercased text, as whole-ish substrings; an exclude keyword always wins.
    pub fn wants(&self, item: &Item, classification: &Classification) -> bool {
        self.wants_text(&Self::match_text(item), classification)
    }

    /// The lowercased text keywords are matched against; compute it once per item when
    /// many subscriptions are asked about the same item.
    pub fn match_text(item: &Item) -> String {
        format!("{} {}", item.title, item.summary).to_lowercase()
    }

    /// [`Subscription::wants`] with the item's [`Subscription::match_text`] already made.
    pub fn wants_text(&self, text: &str, classification: &Classification) -> bool {
        if !self.active {
            return false;
        }
        if self
            .exclude_keywords
            .iter()
            .any(|k| text.contains(k.as_str()))
        {
            return false;
        }
        if self.topics.iter().any(|t| classification.has_topic(t)) {
            return true;
        }
        self.include_keywords
            .iter()
            .any(|k| text.contains(k.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight() {
        let night = QuietHours {
            start: 22 * 60,
            end: 7 * 60,
        };
        assert!(night.contains(23 * 60));
        assert!(night.contains(0));
        assert!(night.contains(6 * 60 + 59));
        assert!(!night.contains(7 * 60));
        assert!(!night.contains(12 * 60));
        let lunch = QuietHours {
            start: 12 * 60,
            end: 14 * 60,
        };
        assert!(lunch.contains(13 * 60));
        assert!(!lunch.contains(14 * 60));
    }
}

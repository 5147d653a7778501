//! A chat's subscription: which topics and keywords it follows, and how it wants alerts.

use super::{ChatRef, Classification, Lang, TopicId};
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

    /// The most keywords (followed and excluded together) one chat may keep.
    pub const MAX_KEYWORDS: usize = 50;

    /// Whether this subscription wants an alert for an item of `classification` whose
    /// title and lead, folded as `classify::keyword_text` folds them, are `text`: words
    /// separated by single spaces, with a space at each end. Keywords (folded the same
    /// way when added) match whole words only, so `ai` never matches `mai`; an exclude
    /// keyword always wins.
    pub fn wants_text(&self, text: &str, classification: &Classification) -> bool {
        if !self.active {
            return false;
        }
        let found = |keyword: &String| {
            text.match_indices(keyword.as_str()).any(|(at, _)| {
                let before = text[..at].ends_with(' ');
                let after = text[at + keyword.len()..].starts_with(' ');
                before && after
            })
        };
        if self.exclude_keywords.iter().any(found) {
            return false;
        }
        if self.topics.iter().any(|t| classification.has_topic(t)) {
            return true;
        }
        self.include_keywords.iter().any(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_and_an_exclusion_wins() {
        let mut subscription = Subscription::new(ChatRef::console());
        subscription.include_keywords.insert("ai".into());
        subscription
            .include_keywords
            .insert("export control".into());
        let none = Classification::default();
        // As `classify::keyword_text` folds a title and lead.
        assert!(!subscription.wants_text(" non mai cosi tanti chip ", &none));
        assert!(!subscription.wants_text(" mai ", &none));
        assert!(subscription.wants_text(" chip per l ai cinese ", &none));
        assert!(subscription.wants_text(" ai ", &none));
        assert!(subscription.wants_text(" new export control rules ", &none));
        assert!(!subscription.wants_text(" new export controls ", &none));
        subscription.exclude_keywords.insert("smartphone".into());
        assert!(!subscription.wants_text(" ai per smartphone ", &none));
        assert!(subscription.wants_text(" ai per smartphones ", &none));
    }

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

//! Pure: an alert or a reply → the text each platform shows. Every piece of feed text is
//! made safe for its target here (escaped for Telegram HTML, control characters removed
//! for terminals); nothing here sends.

mod alert;
pub mod discord;
pub mod doc;
pub mod telegram;

pub use alert::{alert_doc, burst_doc, digest_doc, feed_failing_doc, follow_up_doc};
pub use doc::{Doc, Span};

use crate::domain::{Alert, Delivery, DeliveryKind};
use serde_json::json;

/// Removes control characters (ANSI escapes, newlines, bidi overrides) that a hostile
/// title could use to forge or hide terminal output, and folds whitespace.
pub fn terminal_safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Length as Telegram and Discord count it: in UTF-16 code units.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Joins rendered lines into messages of at most `limit` (UTF-16 units), split only
/// between lines; always at least one message. Lines must each fit already.
pub(crate) fn join_lines(lines: impl IntoIterator<Item = String>, limit: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for rendered in lines {
        let needed = utf16_len(&rendered) + usize::from(!current.is_empty());
        if !current.is_empty() && utf16_len(&current) + needed > limit {
            chunks.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&rendered);
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Cuts `text` to at most `max` characters on a char boundary, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One readable line per alert: topics, title, outlet, link, why.
pub fn console_line(alert: &Alert) -> String {
    let topics: Vec<&str> = alert
        .classification
        .topics
        .iter()
        .map(|t| t.topic.as_str())
        .collect();
    let item = &alert.item;
    let mut line = format!(
        "ALERT [{}] {} — {}",
        topics.join(","),
        terminal_safe(&truncate(&item.title, 200)),
        terminal_safe(&item.outlet)
    );
    if let Some(link) = &item.link {
        line.push_str(" <");
        line.push_str(&terminal_safe(link));
        line.push('>');
    }
    if !alert.classification.why.is_empty() {
        line.push_str(" · why: ");
        line.push_str(&terminal_safe(&alert.classification.why.join("; ")));
    }
    line
}

/// A delivery as a console line: the alert, or an "ALSO" line for a follow-up.
pub fn console_delivery(delivery: &Delivery) -> String {
    let event = delivery
        .event
        .as_ref()
        .map_or(String::new(), |e| format!(" · event {e}"));
    match &delivery.kind {
        DeliveryKind::Alert => {
            let line = console_line(&delivery.alert);
            match line.find(" · why: ") {
                Some(at) => format!("{}{event}{}", &line[..at], &line[at..]),
                None => format!("{line}{event}"),
            }
        }
        DeliveryKind::FeedFailing { since } => format!(
            "FEED FAILING {} since {since}: {}",
            terminal_safe(&delivery.alert.item.outlet),
            terminal_safe(&delivery.alert.item.summary)
        ),
        DeliveryKind::FollowUp { outlets, sources } => format!(
            "ALSO{event}: {} — {sources} sources: {}",
            terminal_safe(&truncate(&delivery.alert.item.title, 200)),
            terminal_safe(&outlets.join(", "))
        ),
    }
}

/// The same alert as one JSON line, for `--json` and scripts.
pub fn json_line(alert: &Alert) -> String {
    json_value(alert).to_string()
}

fn json_value(alert: &Alert) -> serde_json::Value {
    let c = &alert.classification;
    let scores: serde_json::Map<String, serde_json::Value> = c
        .topics
        .iter()
        .map(|t| (t.topic.to_string(), json!(t.score)))
        .collect();
    json!({
        "item": alert.item.id.to_string(),
        "feed": alert.item.feed,
        "outlet": alert.item.outlet,
        "title": alert.item.title,
        "link": alert.item.link,
        "published": alert.item.published,
        "topics": c.topics.iter().map(|t| t.topic.as_str()).collect::<Vec<_>>(),
        "scores": scores,
        "entities": c.entities,
        "why": c.why,
    })
}

/// A delivery as one JSON object: the alert's fields plus its event and kind.
pub fn json_delivery(delivery: &Delivery) -> String {
    let mut value = json_value(&delivery.alert);
    if let Some(object) = value.as_object_mut() {
        object.insert("event".into(), json!(delivery.event));
        object.insert("delivery".into(), json!(delivery.kind));
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_forge_terminal_lines() {
        let cases = [
            ("plain", "plain"),
            ("two\nlines", "two lines"),
            ("\u{1b}[2J\u{1b}[31mred", "[2J [31mred"),
            ("a\u{202E}evil", "a evil"),
            ("  spaced \t out ", "spaced out"),
        ];
        for (input, expected) in cases {
            assert_eq!(terminal_safe(input), expected, "{input:?}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("perché", 10), "perché");
        assert_eq!(truncate("perché sì", 7), "perché…");
        assert_eq!(truncate("", 3), "");
    }
}

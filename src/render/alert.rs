//! An alert as a document: topics as hashtags, the title linked, outlet and time, key
//! entities, and a one-line "why". Pure: the time zone and language are parameters.

use super::doc::{Doc, Span};
use super::truncate;
use crate::domain::{Alert, EntityKind, EventId, Lang};
use crate::i18n;
use chrono_tz::Tz;

/// Titles longer than this are cut: a headline, not an article.
const MAX_TITLE: usize = 300;
const MAX_WHY: usize = 400;
const MAX_ENTITIES: usize = 8;

pub fn alert_doc(alert: &Alert, lang: Lang, zone: Tz) -> Doc {
    let item = &alert.item;
    let classification = &alert.classification;
    let mut doc = Doc::new();
    let hashtags: Vec<String> = classification
        .topics
        .iter()
        .map(|t| format!("#{}", t.topic))
        .collect();
    doc.push(vec![Span::Bold(hashtags.join(" "))]);
    let title = truncate(
        if item.title.trim().is_empty() {
            &item.summary
        } else {
            &item.title
        },
        MAX_TITLE,
    );
    doc.push(vec![match &item.link {
        Some(url) => Span::Link {
            text: title,
            url: url.clone(),
        },
        None => Span::Bold(title),
    }]);
    let time = item.time().with_timezone(&zone).format("%d/%m/%Y %H:%M");
    doc.push(vec![Span::Italic(format!("{} · {time}", item.outlet))]);
    let mut entities: Vec<&crate::domain::Entity> = classification.entities.iter().collect();
    // Chips and companies first: they are what a reader scans for.
    entities.sort_by_key(|e| match e.kind {
        EntityKind::Chip => 0,
        EntityKind::Company => 1,
        EntityKind::Authority => 2,
        EntityKind::Legal => 3,
        EntityKind::Country => 4,
    });
    if !entities.is_empty() {
        let names: Vec<&str> = entities
            .iter()
            .take(MAX_ENTITIES)
            .map(|e| e.name.as_str())
            .collect();
        doc.push(vec![Span::Text(names.join(" · "))]);
    }
    if !classification.why.is_empty() {
        doc.push(vec![
            Span::Bold(format!("{}: ", i18n::text(lang, "alert_why"))),
            Span::Text(truncate(&classification.why.join("; "), MAX_WHY)),
        ]);
    }
    doc
}

/// One alert in a list (burst or digest): hashtags, linked title, outlet.
fn alert_line(alert: &Alert, event: Option<&EventId>) -> Vec<Span> {
    let hashtags: Vec<String> = alert
        .classification
        .topics
        .iter()
        .map(|t| format!("#{}", t.topic))
        .collect();
    let title = truncate(
        if alert.item.title.trim().is_empty() {
            &alert.item.summary
        } else {
            &alert.item.title
        },
        MAX_TITLE,
    );
    let mut line = vec![Span::Text("• ".into())];
    line.push(match &alert.item.link {
        Some(url) => Span::Link {
            text: title,
            url: url.clone(),
        },
        None => Span::Bold(title),
    });
    line.push(Span::Italic(format!(" — {} ", alert.item.outlet)));
    line.push(Span::Text(hashtags.join(" ")));
    if let Some(event) = event {
        line.push(Span::Text(" ".into()));
        line.push(Span::Code(event.to_string()));
    }
    line
}

/// Several alerts for one chat as one message: a header and a line each.
pub fn burst_doc(alerts: &[(&Alert, Option<&EventId>)], lang: Lang) -> Doc {
    let mut doc = Doc::new();
    doc.push(vec![Span::Bold(i18n::format(
        lang,
        "batch_header",
        &[("count", &alerts.len().to_string())],
    ))]);
    for (alert, event) in alerts {
        doc.push(alert_line(alert, *event));
    }
    doc
}

/// A chat's daily digest: the day's alerts grouped under their first topic.
pub fn digest_doc(alerts: &[(&Alert, Option<&EventId>)], lang: Lang) -> Doc {
    let mut doc = Doc::new();
    doc.push(vec![Span::Bold(i18n::format(
        lang,
        "digest_header",
        &[("count", &alerts.len().to_string())],
    ))]);
    let mut topics: Vec<String> = Vec::new();
    for (alert, _) in alerts {
        let topic = alert
            .classification
            .topics
            .first()
            .map_or_else(|| "other".to_string(), |t| t.topic.to_string());
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    for topic in topics {
        doc.push(vec![Span::Bold(format!("#{topic}"))]);
        for (alert, event) in alerts {
            let first = alert
                .classification
                .topics
                .first()
                .map_or_else(|| "other".to_string(), |t| t.topic.to_string());
            if first == topic {
                doc.push(alert_line(alert, *event));
            }
        }
    }
    doc
}

/// For the admin chat: a feed has been failing since `since`.
pub fn feed_failing_doc(alert: &Alert, since: chrono::DateTime<chrono::Utc>, zone: Tz) -> Doc {
    let mut doc = Doc::new();
    let since = since.with_timezone(&zone).format("%d/%m/%Y %H:%M");
    doc.push(vec![
        Span::Bold(format!("⚠️ {}", alert.item.outlet)),
        Span::Text(format!(" — failing since {since}")),
    ]);
    doc.push(vec![Span::Code(alert.item.title.clone())]);
    doc.push(vec![Span::Text(truncate(&alert.item.summary, MAX_WHY))]);
    doc
}

/// At most this many outlets are named in a follow-up; the rest are counted.
const MAX_OUTLETS: usize = 6;

/// "Also reported by …": a short note about a story the chat was already alerted to.
pub fn follow_up_doc(
    alert: &Alert,
    event: Option<&EventId>,
    outlets: &[String],
    sources: usize,
    lang: Lang,
) -> Doc {
    let mut named: Vec<&str> = outlets
        .iter()
        .take(MAX_OUTLETS)
        .map(String::as_str)
        .collect();
    let rest = outlets.len().saturating_sub(MAX_OUTLETS);
    let more = if rest > 0 {
        format!(" +{rest}")
    } else {
        String::new()
    };
    named.dedup();
    let mut doc = Doc::new();
    doc.push(vec![
        Span::Bold(format!("{}: ", i18n::text(lang, "alert_also"))),
        Span::Text(format!("{}{more} ({sources})", named.join(", "))),
    ]);
    let title = truncate(&alert.item.title, MAX_TITLE);
    doc.push(vec![match &alert.item.link {
        Some(url) => Span::Link {
            text: title,
            url: url.clone(),
        },
        None => Span::Text(title),
    }]);
    if let Some(event) = event {
        doc.push(vec![Span::Code(format!("/event {event}"))]);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Classification, Entity, FeedId, Item, ItemId, TopicId, TopicScore};
    use crate::render::telegram::{MAX_MESSAGE, html_chunks};

    fn alert(title: &str, link: Option<&str>) -> Alert {
        let when = chrono::DateTime::parse_from_rfc3339("2026-01-29T08:30:00Z")
            .expect("date")
            .to_utc();
        Alert {
            item: Item {
                id: ItemId(1),
                feed: FeedId::parse("hdblog").expect("id"),
                outlet: "HDblog".into(),
                title: title.into(),
                summary: "lead".into(),
                link: link.map(str::to_string),
                published: Some(when),
                first_seen: when,
                lang: Lang::It,
            },
            classification: Classification {
                topics: vec![TopicScore {
                    topic: TopicId::parse("approval").expect("id"),
                    score: 3.0,
                }],
                entities: vec![
                    Entity {
                        kind: EntityKind::Country,
                        name: "China".into(),
                    },
                    Entity {
                        kind: EntityKind::Chip,
                        name: "H200".into(),
                    },
                ],
                why: vec!["approval: \"via libera\" (+3.0)".into()],
                concepts: vec![],
                actor: None,
            },
        }
    }

    #[test]
    fn an_alert_renders_as_escaped_telegram_html() {
        let doc = alert_doc(
            &alert(
                "Via libera <b>H200</b> & co",
                Some("https://hdblog.it/a?x=1&y=2"),
            ),
            Lang::It,
            chrono_tz::Europe::Rome,
        );
        let html = html_chunks(&doc, MAX_MESSAGE);
        assert_eq!(
            html,
            vec![
                "<b>#approval</b>\n\
                 <a href=\"https://hdblog.it/a?x=1&amp;y=2\">Via libera &lt;b&gt;H200&lt;/b&gt; &amp; co</a>\n\
                 <i>HDblog · 29/01/2026 09:30</i>\n\
                 H200 · China\n\
                 <b>Perché: </b>approval: &quot;via libera&quot; (+3.0)"
                    .to_string()
            ]
        );
    }

    #[test]
    fn an_item_without_link_or_title_still_renders() {
        let doc = alert_doc(&alert("", None), Lang::En, chrono_tz::Europe::Rome);
        assert_eq!(doc.lines[1], vec![Span::Bold("lead".into())]);
        assert!(doc.plain().contains("Why: "));
    }
}

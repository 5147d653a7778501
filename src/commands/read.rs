//! The read-only commands: recent events, one event's sources, search, status, feeds.

use super::{Engine, Reply};
use crate::domain::{Event, Lang};
use crate::i18n;
use crate::render::{Doc, Span};
use crate::store::StoreError;
use std::collections::BTreeSet;

/// How many of the newest events `/search` looks through.
const SEARCH_DEPTH: usize = 1000;
const SEARCH_RESULTS: usize = 10;

impl Engine {
    /// One line per event: headline, outlets, and the command that shows it whole.
    fn event_line(&self, event: &Event) -> Vec<Span> {
        let outlets = event.outlets();
        let more = if outlets.len() > 1 {
            format!(" (+{})", outlets.len() - 1)
        } else {
            String::new()
        };
        let time = event
            .last_seen
            .with_timezone(&self.zone)
            .format("%d/%m %H:%M");
        vec![
            Span::Text("• ".into()),
            Span::Bold(crate::render::truncate(&event.headline, 200)),
            Span::Italic(format!(
                " — {}{more}, {time} ",
                outlets.first().copied().unwrap_or("")
            )),
            Span::Code(format!("/event {}", event.id)),
        ]
    }

    pub(super) fn recent(
        &self,
        lang: Lang,
        topic: Option<&str>,
        count: usize,
    ) -> Result<Reply, StoreError> {
        if let Some(topic) = topic
            && self.rules.topic(topic).is_none()
        {
            return Ok(Reply::text(&i18n::format(
                lang,
                "unknown_topics",
                &[("topics", topic)],
            )));
        }
        let events = self.store.recent_events(topic, count)?;
        if events.is_empty() {
            return Ok(Reply::text(&i18n::text(lang, "recent_none")));
        }
        let suffix = topic.map(|t| format!(" ({t})")).unwrap_or_default();
        let mut doc = Doc::text(&i18n::format(lang, "recent_header", &[("topic", &suffix)]));
        for event in &events {
            doc.push(self.event_line(event));
        }
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }

    pub(super) fn event(&self, lang: Lang, raw_id: &str) -> Result<Reply, StoreError> {
        let event = match crate::domain::EventId::parse(raw_id) {
            Some(id) => self.store.event(&id)?,
            None => None,
        };
        let Some(event) = event else {
            return Ok(Reply::text(&i18n::format(
                lang,
                "event_not_found",
                &[("id", raw_id)],
            )));
        };
        let mut doc = Doc::new();
        let hashtags: Vec<String> = event.topics.iter().map(|t| format!("#{t}")).collect();
        doc.push(vec![
            Span::Bold(hashtags.join(" ")),
            Span::Text(" ".into()),
            Span::Code(event.id.to_string()),
        ]);
        doc.push(vec![Span::Bold(event.headline.clone())]);
        if !event.entities.is_empty() {
            let names: Vec<&str> = event
                .entities
                .iter()
                .take(10)
                .map(|e| e.name.as_str())
                .collect();
            doc.push(vec![Span::Text(names.join(" · "))]);
        }
        doc.push_text(&i18n::format(
            lang,
            "event_sources",
            &[("count", &event.sources.len().to_string())],
        ));
        for source in &event.sources {
            let time = source.time.with_timezone(&self.zone).format("%d/%m %H:%M");
            let title = crate::render::truncate(&source.title, 200);
            let title = match &source.link {
                Some(url) => Span::Link {
                    text: title,
                    url: url.clone(),
                },
                None => Span::Text(title),
            };
            doc.push(vec![
                Span::Text("• ".into()),
                title,
                Span::Italic(format!(" — {}, {time}", source.outlet)),
            ]);
        }
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }

    /// Ranks stored events by how many of the query's stemmed words they contain (in
    /// titles and leads) plus entity-name matches; Italian-aware through the classifier's
    /// normaliser, so "esportazioni" finds "esportazione".
    pub(super) fn search(&self, lang: Lang, words: &str) -> Result<Reply, StoreError> {
        let query_lang = crate::classify::detect_lang(words);
        let mut query: BTreeSet<String> = crate::events::significant_tokens(words, query_lang);
        // Stems of the other language too: a query may be English on an Italian event.
        let other = if query_lang == Lang::It {
            Lang::En
        } else {
            Lang::It
        };
        query.extend(crate::events::significant_tokens(words, other));
        let folded = crate::classify::fold(words);
        let mut ranked: Vec<(usize, Event)> = self
            .store
            .recent_events(None, SEARCH_DEPTH)?
            .into_iter()
            .filter_map(|event| {
                let tokens: BTreeSet<&str> = event
                    .sources
                    .iter()
                    .flat_map(|s| s.tokens.iter().map(String::as_str))
                    .collect();
                let word_hits = query.iter().filter(|q| tokens.contains(q.as_str())).count();
                let entity_hits = event
                    .entities
                    .iter()
                    .filter(|e| folded.contains(&crate::classify::fold(&e.name)))
                    .count();
                let score = word_hits + 2 * entity_hits;
                (score > 0).then_some((score, event))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.last_seen.cmp(&a.1.last_seen)));
        if ranked.is_empty() {
            return Ok(Reply::text(&i18n::format(
                lang,
                "search_none",
                &[("words", words)],
            )));
        }
        let mut doc = Doc::text(&i18n::format(lang, "search_header", &[("words", words)]));
        for (_, event) in ranked.iter().take(SEARCH_RESULTS) {
            doc.push(self.event_line(event));
        }
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }

    pub(super) fn status(&self, lang: Lang) -> Result<Reply, StoreError> {
        let states = self.store.feed_states()?;
        let failing: Vec<_> = states
            .iter()
            .filter(|(_, s)| s.consecutive_errors > 0)
            .collect();
        let ok = states
            .iter()
            .filter(|(_, s)| s.consecutive_errors == 0 && s.last_success.is_some())
            .count();
        let mut doc = Doc::text(&i18n::text(lang, "status_header"));
        doc.push_text(&i18n::format(
            lang,
            "status_feeds",
            &[
                ("ok", &ok.to_string()),
                ("failing", &failing.len().to_string()),
                ("total", &self.feeds.len().max(states.len()).to_string()),
            ],
        ));
        for (feed, state) in failing.iter().take(5) {
            let error = crate::render::truncate(state.last_error.as_deref().unwrap_or("?"), 120);
            doc.push_text(&i18n::format(
                lang,
                "status_failing",
                &[("feed", feed.as_str()), ("error", &error)],
            ));
        }
        let outbox = self.store.outbox_stats();
        doc.push_text(&i18n::format(
            lang,
            "status_outbox",
            &[
                ("pending", &outbox.pending.to_string()),
                ("delivered", &outbox.delivered.to_string()),
                ("dead", &outbox.dead_letters.to_string()),
            ],
        ));
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }

    pub(super) fn feeds_list(&self, lang: Lang) -> Result<Reply, StoreError> {
        let mut doc = Doc::text(&i18n::text(lang, "feeds_header"));
        let mut feeds: Vec<(crate::domain::FeedId, String)> = self
            .feeds
            .iter()
            .map(|f| (f.id.clone(), f.name.clone()))
            .collect();
        feeds.extend(
            self.store
                .feed_records()?
                .into_iter()
                .map(|r| (r.id, format!("{} (+)", r.name))),
        );
        for (id, name) in &feeds {
            let state = self.store.feed_state(id)?.unwrap_or_default();
            let health = match (state.consecutive_errors, state.last_success) {
                (0, Some(_)) => "✅",
                (0, None) => "⏳",
                _ => "⚠️",
            };
            doc.push(vec![
                Span::Text(format!("{health} ")),
                Span::Code(id.to_string()),
                Span::Text(format!(
                    " {} — {} items, {} errors",
                    name, state.last_items, state.consecutive_errors
                )),
            ]);
        }
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }
}

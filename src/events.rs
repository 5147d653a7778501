//! Pure: which items tell the same story. An item joins the event it best matches within
//! a time window — sharing a topic, key entities (chips, companies, authorities) and
//! words of title and lead — or starts a new one. A different topic is a different
//! story: "licence revoked" after "licence granted" is a new event, not a follow-up.

use crate::classify::{self, Lang};
use crate::domain::{
    Classification, EntityKind, Event, EventId, EventSource, Item, TopicId, stable_hash,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

/// Thresholds, from `[events]` in config.
#[derive(Debug, Clone, PartialEq)]
pub struct EventParams {
    /// How far apart in time two items of one story may be.
    pub window: Duration,
    /// The least similarity to join an event.
    pub min_score: f32,
}

impl Default for EventParams {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(72 * 3600),
            min_score: 0.3,
        }
    }
}

/// What grouping looks at in an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFeatures {
    pub topics: BTreeSet<TopicId>,
    /// Normalised names of chips, companies and authorities: what makes a story specific.
    pub key_entities: BTreeSet<String>,
    pub tokens: BTreeSet<String>,
    pub time: DateTime<Utc>,
}

/// Title and the start of the lead: enough to say what the story is.
const LEAD_CHARS: usize = 400;

pub fn features(item: &Item, classification: &Classification) -> ItemFeatures {
    let lead: String = item.summary.chars().take(LEAD_CHARS).collect();
    let text = format!("{} {}", item.title, lead);
    ItemFeatures {
        topics: classification
            .topics
            .iter()
            .map(|t| t.topic.clone())
            .collect(),
        key_entities: classification
            .entities
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EntityKind::Chip | EntityKind::Company | EntityKind::Authority
                )
            })
            .map(|e| e.name.clone())
            .collect(),
        tokens: significant_tokens(&text, item.lang),
        time: item.time(),
    }
}

/// Stemmed words that carry meaning: stop words and very short words dropped.
pub fn significant_tokens(text: &str, lang: Lang) -> BTreeSet<String> {
    classify::stems(text, lang)
        .into_iter()
        .filter(|t| t.chars().count() >= 3 && !classify::is_stop_word(t))
        .collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f32 {
    let shared = a.intersection(b).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f32 / union as f32
    }
}

/// How alike an item is to an event, 0 when they cannot be one story.
pub fn similarity(event: &Event, features: &ItemFeatures, params: &EventParams) -> f32 {
    if !event.topics.iter().any(|t| features.topics.contains(t)) {
        return 0.0;
    }
    let window = chrono::Duration::from_std(params.window).unwrap_or(chrono::Duration::days(3));
    if features.time < event.first_seen - window || features.time > event.last_seen + window {
        return 0.0;
    }
    let shared_entities = event
        .entities
        .iter()
        .filter(|e| features.key_entities.contains(&e.name))
        .count()
        .min(3);
    let words = event
        .sources
        .iter()
        .map(|s| jaccard(&s.tokens.iter().cloned().collect(), &features.tokens))
        .fold(0.0, f32::max);
    if shared_entities == 0 && words < 0.5 {
        return 0.0;
    }
    words + 0.15 * shared_entities as f32
}

/// The event the item belongs to, if any: the most similar one over the threshold.
pub fn best_match<'a>(
    events: &'a [Event],
    features: &ItemFeatures,
    params: &EventParams,
) -> Option<&'a Event> {
    events
        .iter()
        .map(|event| (event, similarity(event, features, params)))
        .filter(|(_, score)| *score >= params.min_score)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(event, _)| event)
}

fn source(item: &Item, classification: &Classification, features: &ItemFeatures) -> EventSource {
    EventSource {
        item: item.id,
        outlet: item.outlet.clone(),
        title: if item.title.trim().is_empty() {
            item.summary.chars().take(120).collect()
        } else {
            item.title.clone()
        },
        link: item.link.clone(),
        time: features.time,
        score: classification.topics.first().map_or(0.0, |t| t.score),
        tokens: features.tokens.iter().cloned().collect(),
    }
}

/// A new event started by `item`. `taken` says whether an id is already in use; the id is
/// salted until it is free.
pub fn new_event(
    item: &Item,
    classification: &Classification,
    features: &ItemFeatures,
    taken: impl Fn(&EventId) -> bool,
) -> Event {
    let mut salt = 0u64;
    let id = loop {
        let candidate =
            EventId::from_number(stable_hash(&[&item.id.to_string(), &salt.to_string()]));
        if !taken(&candidate) || salt > 64 {
            break candidate;
        }
        salt += 1;
    };
    let first = source(item, classification, features);
    Event {
        id,
        topics: features.topics.iter().cloned().collect(),
        entities: classification.entities.clone(),
        headline: first.title.clone(),
        sources: vec![first],
        first_seen: features.time,
        last_seen: features.time,
    }
}

/// Adds `item` to `event`: topics and entities merged, the headline kept as the best
/// source's title, first/last seen widened. An item already there is not added twice.
pub fn add_source(
    event: &mut Event,
    item: &Item,
    classification: &Classification,
    features: &ItemFeatures,
) {
    if event.sources.iter().any(|s| s.item == item.id) {
        return;
    }
    let new = source(item, classification, features);
    for topic in &features.topics {
        if !event.topics.contains(topic) {
            event.topics.push(topic.clone());
        }
    }
    for entity in &classification.entities {
        if !event.entities.contains(entity) {
            event.entities.push(entity.clone());
        }
    }
    event.first_seen = event.first_seen.min(new.time);
    event.last_seen = event.last_seen.max(new.time);
    event.sources.push(new);
    event.sources.sort_by_key(|s| s.time);
    if let Some(best) = event
        .sources
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
    {
        event.headline = best.title.clone();
    }
}

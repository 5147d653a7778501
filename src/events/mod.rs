//! Pure: which items tell the same story. No I/O, no clock: times come with the items.
//!
//! The rule. An item joins the event it matches best, or starts a new one. It matches an
//! event when all of these hold:
//!
//! 1. **Time**: it is within `window` of the event (before its first or after its last item).
//! 2. **Topic**: it shares a topic with the event and brings no topic *opposed* to one the
//!    event is about (`opposed_topics`, by default approval ↔ export_ban): "licence revoked"
//!    after "licence granted" is a new development, so a new event. An item that names both
//!    sides ("revoked the licences granted last week") tells the newer development: it may
//!    join a one-sided event only when an older matching event holds the other side
//!    (see [`topics`]).
//! 3. **Content**: the weighted Jaccard similarity of its features with those of one of the
//!    event's items reaches `min_score`. Features are the stemmed, accent-folded significant
//!    words of title and lead (weight 1), the countries (weight 1), the key entities —
//!    chips, companies, authorities, legal instruments — (weight `entity_weight` each):
//!    entities are what makes a story specific; and the concepts the classifier found
//!    (its named word groups: `restrict`, `licence`, `trade`, … — weight
//!    `concept_weight` each), which an English and an Italian report of one story share
//!    where their words do not ("require permits for exports" ~ "impone permessi per
//!    l'export").
//!
//! Comparing with each item of the event (the best one counts) rather than with their
//! union keeps a large event from diluting the score of a new report.

mod batch;
mod topics;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod tests;

pub use batch::{Batch, processing_order};

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
    /// The least similarity (weighted Jaccard, 0..=1) to join an event.
    pub min_score: f32,
    /// How many words one shared key entity is worth.
    pub entity_weight: f32,
    /// How many words one shared concept (a named word group of the rules) is worth.
    pub concept_weight: f32,
    /// Pairs of topics that are opposite developments of a story.
    pub opposed_topics: Vec<(TopicId, TopicId)>,
}

impl Default for EventParams {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(72 * 3600),
            min_score: 0.18,
            entity_weight: 6.0,
            concept_weight: 1.5,
            opposed_topics: topics::default_opposed(),
        }
    }
}

/// What grouping looks at in an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFeatures {
    pub topics: BTreeSet<TopicId>,
    /// Names of chips, companies, authorities and legal instruments: what makes a story
    /// specific. Countries are left out: nearly every item names China or the US.
    pub key_entities: BTreeSet<String>,
    /// Countries named: worth one word each, since nearly every item names China or the
    /// US, but they tie an English report to an Italian one ("Dutch", "l'Aja").
    pub places: BTreeSet<String>,
    pub tokens: BTreeSet<String>,
    /// The classifier's concepts (see `Classification::concepts`).
    pub concepts: BTreeSet<String>,
    /// The item's language: concepts count only between reports in different languages.
    pub lang: Lang,
    pub time: DateTime<Utc>,
}

/// Title and the start of the lead: enough to say what the story is.
const LEAD_CHARS: usize = 400;

/// Mark key entities and places among a source's stored tokens. Words are folded
/// alphanumerics, so a marked name never equals a word (nor a search query's word).
const ENTITY_MARK: char = '#';
const PLACE_MARK: char = '@';
const CONCEPT_MARK: char = '%';
const LANG_MARK: char = '~';

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
                    EntityKind::Chip
                        | EntityKind::Company
                        | EntityKind::Authority
                        | EntityKind::Legal
                )
            })
            .map(|e| e.name.clone())
            .collect(),
        places: classification
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Country)
            .map(|e| e.name.clone())
            .collect(),
        tokens: significant_tokens(&text, item.lang),
        concepts: classification
            .concepts
            .iter()
            .map(|c| c.to_string())
            .collect(),
        lang: item.lang,
        time: item.time(),
    }
}

/// Stemmed words that carry meaning: stop words and very short words dropped, but numbers
/// of two digits or more kept ("15%", "15 per cento", "15 per cent" all say 15): a figure is
/// what an English and an Italian report of one story most often share.
pub fn significant_tokens(text: &str, lang: Lang) -> BTreeSet<String> {
    classify::stems(text, lang)
        .into_iter()
        .filter(|t| {
            let number = t.len() >= 2 && t.bytes().all(|b| b.is_ascii_digit());
            number || (t.chars().count() >= 3 && !classify::is_stop_word(t))
        })
        .collect()
}

/// Weighted Jaccard of an item's features with one source's stored tokens (words, places
/// and key entities, see [`source_tokens`]): the weight shared over the weight of the union.
fn weighted_jaccard(features: &ItemFeatures, source: &EventSource, params: &EventParams) -> f32 {
    // (in the source, shared with the item) for words, places, key entities and concepts.
    let mut counts = [(0usize, 0usize); 4];
    let mut source_has_concepts = false;
    // Concepts stand in for words across languages only: two reports in one language
    // share words where they share meaning, and concepts shared by every story of a
    // kind ("suspends a rule") would only blur different stories together.
    let same_lang = source
        .tokens
        .iter()
        .find_map(|t| t.strip_prefix(LANG_MARK))
        .is_none_or(|lang| lang == features.lang.as_str());
    for token in &source.tokens {
        if token.starts_with(LANG_MARK) || (same_lang && token.starts_with(CONCEPT_MARK)) {
            continue;
        }
        let (slot, shared) = if let Some(name) = token.strip_prefix(ENTITY_MARK) {
            (2, features.key_entities.contains(name))
        } else if let Some(name) = token.strip_prefix(PLACE_MARK) {
            (1, features.places.contains(name))
        } else if let Some(name) = token.strip_prefix(CONCEPT_MARK) {
            source_has_concepts = true;
            (3, features.concepts.contains(name))
        } else {
            (0, features.tokens.contains(token))
        };
        counts[slot].0 += 1;
        counts[slot].1 += usize::from(shared);
    }
    // A source stored before concepts existed has none: it is compared on the rest alone
    // rather than made to look unlike every new item.
    let item_concepts = if source_has_concepts && !same_lang {
        features.concepts.len()
    } else {
        0
    };
    let item_sizes = [
        features.tokens.len(),
        features.places.len(),
        features.key_entities.len(),
        item_concepts,
    ];
    let weights = [1.0, 1.0, params.entity_weight, params.concept_weight];
    let (mut shared, mut union) = (0.0, 0.0);
    for ((&(in_source, in_both), item_size), weight) in counts.iter().zip(item_sizes).zip(weights) {
        shared += weight * in_both as f32;
        union += weight * (in_source + item_size - in_both) as f32;
    }
    if union <= 0.0 { 0.0 } else { shared / union }
}

fn within_window(event: &Event, time: DateTime<Utc>, window: Duration) -> bool {
    // A window too large for chrono is as good as no limit.
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let earliest = event.first_seen.checked_sub_signed(window);
    let latest = event.last_seen.checked_add_signed(window);
    earliest.is_none_or(|t| time >= t) && latest.is_none_or(|t| time <= t)
}

/// How alike an item is to an event, 0 when they cannot be one story (out of the window,
/// or no topic in common, or an opposed topic: see the module doc).
pub fn similarity(event: &Event, features: &ItemFeatures, params: &EventParams) -> f32 {
    if !within_window(event, features.time, params.window)
        || topics::relation(&event.topics, &features.topics, &params.opposed_topics)
            == topics::Relation::Incompatible
    {
        return 0.0;
    }
    event
        .sources
        .iter()
        .map(|source| weighted_jaccard(features, source, params))
        .fold(0.0, f32::max)
}

/// The event the item belongs to, if any: the most similar one over the threshold.
pub fn best_match<'a>(
    events: &'a [Event],
    features: &ItemFeatures,
    params: &EventParams,
) -> Option<&'a Event> {
    let candidates: Vec<(&Event, f32)> = events
        .iter()
        .map(|event| (event, similarity(event, features, params)))
        .filter(|(_, score)| *score >= params.min_score)
        .collect();
    candidates
        .iter()
        .filter(|(event, _)| {
            topics::admissible(event, &candidates, features, &params.opposed_topics)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(event, _)| *event)
}

/// What a source keeps to be matched later: its words, then its places, key entities and
/// concepts marked so that they cannot be mistaken for words.
fn source_tokens(features: &ItemFeatures) -> Vec<String> {
    let places = features.places.iter().map(|p| format!("{PLACE_MARK}{p}"));
    let entities = features
        .key_entities
        .iter()
        .map(|e| format!("{ENTITY_MARK}{e}"));
    let concepts = features
        .concepts
        .iter()
        .map(|c| format!("{CONCEPT_MARK}{c}"));
    let lang = std::iter::once(format!("{LANG_MARK}{}", features.lang.as_str()));
    features
        .tokens
        .iter()
        .cloned()
        .chain(places)
        .chain(entities)
        .chain(concepts)
        .chain(lang)
        .collect()
}

fn source(item: &Item, classification: &Classification, features: &ItemFeatures) -> EventSource {
    let tokens = source_tokens(features);
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
        tokens,
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

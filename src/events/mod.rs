//! Pure: which items tell the same story. No I/O, no clock: times come with the items.
//!
//! Every item gets an event: topics decide who is alerted, never whether an item is
//! grouped, so a story whose first report the classifier misses still gathers its later
//! reports. An item joins the event whose reports it matches best *on average*, or starts
//! a new one. It matches when
//!
//! 1. **Time**: it lies within `window` of the event (7 days by default: real reports of
//!    one story spread over 3–6 days). An item without a date is placed at the time it was
//!    first seen; offline, a month-only date is a span and no date at all passes.
//! 2. **Opposed topics**: never across a pair of reports that each have one clear topic,
//!    opposed to the other's (`opposed_topics`: approval ↔ export_ban) — "licence revoked"
//!    after "licence granted" is a new development.
//! 3. **Entities**: never with a report when both name companies or chips and share
//!    none: two bans of one morning (Nvidia's and ASML's) are two acts.
//! 4. **Content**: the mean, over the event's reports, of the probability that the two
//!    tell one story reaches `min_score`. That probability is the grouping model's
//!    (`model.rs`): a logistic regression learned from real stories over the TF-IDF cosine
//!    of the stemmed words (IDF from real text), shared key entities, places and figures,
//!    topics, concepts, who acted, and days apart.
//!
//! Comparing with each report and averaging keeps one stray report from pulling a
//! different development in, as matching the best single report would.

mod batch;
mod grouper;
mod model;
pub mod quality;
mod topics;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod tests;

pub use batch::{Batch, processing_order};
pub use grouper::{Grouper, Placed, vector};
pub use model::{
    FEATURES, FORMAT as GROUPING_FORMAT, Grouping, GroupingError, GroupingModel, GroupingTrainedOn,
    VERSION as GROUPING_VERSION, Vector, pair_features,
};

use crate::classify::{self, Lang};
use crate::domain::{
    Classification, EntityKind, Event, EventId, EventSource, Item, TopicId, stable_hash,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Thresholds, from `[events]` in config, and the grouping model.
#[derive(Debug, Clone, PartialEq)]
pub struct EventParams {
    /// How far apart in time two items of one story may be.
    pub window: Duration,
    /// The least mean same-story probability (0..1) to join an event.
    pub min_score: f32,
    /// Pairs of topics that are opposite developments of a story.
    pub opposed_topics: Vec<(TopicId, TopicId)>,
    pub grouping: Arc<Grouping>,
}

/// Seven days: the corpus's stories spread over up to six (see README, "Event grouping").
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(7 * 86_400);

impl Default for EventParams {
    fn default() -> Self {
        EventParams::with_model(GroupingModel::built_in())
    }
}

impl EventParams {
    /// The defaults, with `model`'s calibrated threshold.
    pub fn with_model(model: GroupingModel) -> Self {
        Self {
            window: DEFAULT_WINDOW,
            min_score: model.min_score,
            opposed_topics: topics::default_opposed(),
            grouping: Arc::new(Grouping::new(model)),
        }
    }
}

/// When an item happened, as far as is known. The poller always knows (the date, or when
/// it first saw the item); offline input may give only a month, or nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Exact(DateTime<Utc>),
    Between(DateTime<Utc>, DateTime<Utc>),
    Unknown,
}

impl When {
    /// The earliest and latest it can be.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match *self {
            When::Exact(at) => Some((at, at)),
            When::Between(low, high) => Some((low.min(high), low.max(high))),
            When::Unknown => None,
        }
    }

    /// The least time between the two (zero when they overlap); `None` if either is unknown.
    pub fn gap(&self, other: &When) -> Option<chrono::Duration> {
        let ((a_low, a_high), (b_low, b_high)) = (self.span()?, other.span()?);
        Some(if a_high < b_low {
            b_low - a_high
        } else if b_high < a_low {
            a_low - b_high
        } else {
            chrono::Duration::zero()
        })
    }

    /// The time to order items by: the middle of the span.
    pub fn middle(&self) -> Option<DateTime<Utc>> {
        let (low, high) = self.span()?;
        Some(low + (high - low) / 2)
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
    pub lang: Lang,
    /// Who acted (see `Classification::actor`).
    pub actor: Option<String>,
    /// The words of the head: the title and the lead's first sentence, where the news is;
    /// the rest of a lead is often background.
    pub head: BTreeSet<String>,
    pub when: When,
}

/// Title and the start of the lead: enough to say what the story is.
const LEAD_CHARS: usize = 400;

/// Mark key entities and places among a source's stored tokens. Words are folded
/// alphanumerics, so a marked name never equals a word (nor a search query's word).
pub(crate) const ENTITY_MARK: char = '#';
pub(crate) const PLACE_MARK: char = '@';
pub(crate) const CONCEPT_MARK: char = '%';
pub(crate) const LANG_MARK: char = '~';
pub(crate) const ACTOR_MARK: char = '!';
pub(crate) const HEAD_MARK: char = '^';

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
        actor: classification.actor.clone(),
        head: significant_tokens(
            &format!("{} {}", item.title, first_sentence(&item.summary)),
            item.lang,
        ),
        when: When::Exact(item.time()),
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

/// The lead up to the end of its first sentence (at least a few words in, so that "U.S."
/// or "St." do not end it), or its first 200 characters.
fn first_sentence(lead: &str) -> &str {
    let mut end = lead.len().min(200);
    while !lead.is_char_boundary(end) {
        end -= 1;
    }
    let head = &lead[..end];
    head.char_indices()
        .filter(|(i, c)| matches!(c, '.' | '!' | '?') && *i > 40)
        .map(|(i, _)| &head[..i])
        .next()
        .unwrap_or(head)
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
    let actor = features.actor.iter().map(|a| format!("{ACTOR_MARK}{a}"));
    let head = features.head.iter().map(|h| format!("{HEAD_MARK}{h}"));
    features
        .tokens
        .iter()
        .cloned()
        .chain(places)
        .chain(entities)
        .chain(concepts)
        .chain(lang)
        .chain(actor)
        .chain(head)
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
        time: features.when.middle().unwrap_or_else(|| item.time()),
        score: classification.topics.first().map_or(0.0, |t| t.score),
        tokens,
        topics: features.topics.iter().cloned().collect(),
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
        first_seen: first.time,
        last_seen: first.time,
        sources: vec![first],
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

//! The online grouping: events built so far (or loaded from the store), each report kept
//! as a comparison vector, and `place` to put one more item where it belongs. The poller
//! (`poller::route`) and `chipwatch cluster` (`Batch`) both place items through it.

use super::model::{ENTITIES_DISAGREE, Parts, Vector, pair_features};
use super::{EventParams, ItemFeatures, When, add_source, features, new_event, topics};
use crate::domain::{Classification, Event, EventId, EventSource, Item};
use chrono::{DateTime, Utc};

/// The events, with each report as a vector and each event's time span (`None` while only
/// reports of unknown time are in it, which happens only offline).
#[derive(Debug)]
pub struct Grouper {
    params: EventParams,
    events: Vec<Event>,
    vectors: Vec<Vec<Vector>>,
    spans: Vec<Option<(DateTime<Utc>, DateTime<Utc>)>>,
}

/// Where `place` put an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub index: usize,
    pub id: EventId,
    pub new: bool,
}

impl Grouper {
    pub fn new(params: EventParams) -> Grouper {
        Grouper::with_events(params, Vec::new())
    }

    /// Starts from stored events (the window's, as the poller loads them).
    pub fn with_events(params: EventParams, events: Vec<Event>) -> Grouper {
        let vectors = events
            .iter()
            .map(|event| {
                event
                    .sources
                    .iter()
                    .map(|source| stored_vector(&params, source))
                    .collect()
            })
            .collect();
        let spans = events
            .iter()
            .map(|e| Some((e.first_seen, e.last_seen)))
            .collect();
        Grouper {
            params,
            events,
            vectors,
            spans,
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// The reports of event `index` as compared (for tests).
    #[cfg(test)]
    pub(super) fn vectors_of(&self, index: usize) -> &[Vector] {
        &self.vectors[index]
    }

    /// Puts the item into the event it matches best, or a new one. `when` is the item's
    /// time as known (the poller: exactly; offline input may give only a month, or none).
    /// `taken` says whether an id is in use outside these events (the store's).
    pub fn place(
        &mut self,
        item: &Item,
        classification: &Classification,
        when: When,
        taken: impl Fn(&EventId) -> bool,
    ) -> Placed {
        let mut features = features(item, classification);
        features.when = when;
        let vector = item_vector(&self.params, &features);
        match self.best(&vector) {
            Some(index) => {
                add_source(&mut self.events[index], item, classification, &features);
                self.vectors[index].push(vector);
                self.spans[index] = widen(self.spans[index], when);
                Placed {
                    index,
                    id: self.events[index].id.clone(),
                    new: false,
                }
            }
            None => {
                let events = &self.events;
                let event = new_event(item, classification, &features, |id| {
                    taken(id) || events.iter().any(|e| &e.id == id)
                });
                let id = event.id.clone();
                self.events.push(event);
                self.vectors.push(vec![vector]);
                self.spans.push(widen(None, when));
                Placed {
                    index: self.events.len() - 1,
                    id,
                    new: true,
                }
            }
        }
    }

    /// The event whose reports the item matches best on average, if that reaches
    /// `min_score`: within the window. A report of an opposed clear topic, or naming only
    /// other companies and chips than the item, counts as no match.
    fn best(&self, item: &Vector) -> Option<usize> {
        let grouping = &self.params.grouping;
        let mut best: Option<(usize, f32)> = None;
        for (index, reports) in self.vectors.iter().enumerate() {
            if !self.within_window(index, &item.when) || reports.is_empty() {
                continue;
            }
            let probabilities = reports.iter().map(|report| {
                if topics::opposed_clear(&item.topics, &report.topics, &self.params.opposed_topics)
                {
                    0.0
                } else {
                    let features = pair_features(item, report);
                    if features[ENTITIES_DISAGREE] > 0.0 {
                        // Both name their companies or chips, and none in common: two
                        // acts (two bans of one morning), whatever their words share.
                        0.0
                    } else {
                        grouping.probability(&features)
                    }
                }
            });
            let total: f32 = probabilities.sum();
            let score = total / reports.len() as f32;
            if score >= self.params.min_score && best.is_none_or(|(_, b)| score > b) {
                best = Some((index, score));
            }
        }
        best.map(|(index, _)| index)
    }

    fn within_window(&self, index: usize, when: &When) -> bool {
        let Some((first, last)) = self.spans[index] else {
            return true;
        };
        // A window too large for chrono is as good as no limit.
        let window =
            chrono::Duration::from_std(self.params.window).unwrap_or(chrono::Duration::MAX);
        When::Between(first, last)
            .gap(when)
            .is_none_or(|gap| gap <= window)
    }
}

fn widen(
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    when: When,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (low, high) = when.span()?;
    Some(match span {
        None => (low, high),
        Some((first, last)) => (first.min(low), last.max(high)),
    })
}

/// An item as the grouping compares it (for training the grouping model on pairs).
pub fn vector(
    params: &EventParams,
    item: &Item,
    classification: &Classification,
    when: When,
) -> Vector {
    let mut features = features(item, classification);
    features.when = when;
    item_vector(params, &features)
}

fn item_vector(params: &EventParams, features: &ItemFeatures) -> Vector {
    Vector::new(
        &params.grouping,
        Parts {
            words: features.tokens.iter().map(String::as_str).collect(),
            entities: features.key_entities.iter().map(String::as_str).collect(),
            places: features.places.iter().map(String::as_str).collect(),
            concepts: features.concepts.iter().map(String::as_str).collect(),
            topics: features.topics.iter().cloned().collect(),
            actor: features.actor.as_deref(),
            head: features.head.iter().map(String::as_str).collect(),
            when: features.when,
        },
    )
}

/// A stored report as a vector: its tokens carry its words and, marked, its places,
/// entities and concepts (see `super::source_tokens`).
fn stored_vector(params: &EventParams, source: &EventSource) -> Vector {
    let mut parts = Parts {
        words: Vec::new(),
        entities: Vec::new(),
        places: Vec::new(),
        concepts: Vec::new(),
        topics: source.topics.clone(),
        actor: None,
        head: Vec::new(),
        when: When::Exact(source.time),
    };
    for token in &source.tokens {
        if let Some(name) = token.strip_prefix(super::ENTITY_MARK) {
            parts.entities.push(name);
        } else if let Some(name) = token.strip_prefix(super::PLACE_MARK) {
            parts.places.push(name);
        } else if let Some(name) = token.strip_prefix(super::CONCEPT_MARK) {
            parts.concepts.push(name);
        } else if let Some(name) = token.strip_prefix(super::ACTOR_MARK) {
            parts.actor = Some(name);
        } else if let Some(word) = token.strip_prefix(super::HEAD_MARK) {
            parts.head.push(word);
        } else if !token.starts_with(super::LANG_MARK) {
            parts.words.push(token);
        }
    }
    Vector::new(&params.grouping, parts)
}

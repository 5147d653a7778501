//! Topic compatibility: a topic change is a new development. Two topics are *opposed* when
//! one undoes the other (a licence granted, then revoked; a ban imposed, then lifted).

use crate::domain::{Event, TopicId};
use std::collections::BTreeSet;

use super::ItemFeatures;

/// approval ↔ export_ban: the pair that the topic rules already treat as each other's
/// undoing (`flips` in topics.toml).
pub(super) fn default_opposed() -> Vec<(TopicId, TopicId)> {
    [("approval", "export_ban")]
        .iter()
        .filter_map(|(a, b)| Some((TopicId::parse(a).ok()?, TopicId::parse(b).ok()?)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    /// No topic in common, or the item brings the opposite of what the event is about.
    Incompatible,
    Compatible,
    /// The item names both sides of an opposed pair; the event holds only one of them.
    OneSided,
}

pub(super) fn relation(
    event_topics: &[TopicId],
    item_topics: &BTreeSet<TopicId>,
    opposed: &[(TopicId, TopicId)],
) -> Relation {
    if !event_topics.iter().any(|t| item_topics.contains(t)) {
        return Relation::Incompatible;
    }
    let mut one_sided = false;
    for (side, other) in opposed.iter().flat_map(|(a, b)| [(a, b), (b, a)]) {
        let brings_other = item_topics.contains(other) && !event_topics.contains(other);
        if brings_other && event_topics.contains(side) {
            if item_topics.contains(side) {
                one_sided = true;
            } else {
                return Relation::Incompatible;
            }
        }
    }
    if one_sided {
        Relation::OneSided
    } else {
        Relation::Compatible
    }
}

/// Whether `event`, one of the `candidates` over the threshold, may take the item. An item
/// naming both sides of an opposed pair ("revoked the licences granted on Monday") reports
/// the later development, so it may join a one-sided event only if an older candidate holds
/// the other side: the event is then that development. With no such older event, the item
/// is the first report of a development and starts its own event.
pub(super) fn admissible(
    event: &Event,
    candidates: &[(&Event, f32)],
    features: &ItemFeatures,
    opposed: &[(TopicId, TopicId)],
) -> bool {
    if relation(&event.topics, &features.topics, opposed) != Relation::OneSided {
        return true;
    }
    opposed
        .iter()
        .flat_map(|(a, b)| [(a, b), (b, a)])
        .filter(|(side, other)| {
            features.topics.contains(*side)
                && features.topics.contains(*other)
                && event.topics.contains(side)
                && !event.topics.contains(other)
        })
        .all(|(side, other)| {
            candidates.iter().any(|(older, _)| {
                older.first_seen < event.first_seen
                    && older.topics.contains(other)
                    && !older.topics.contains(side)
            })
        })
}

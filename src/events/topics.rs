//! Topic compatibility: a topic change is a new development. Two topics are *opposed* when
//! one undoes the other (a licence granted, then revoked; a ban imposed, then lifted).
//! Reports split on them only when each has one clear topic: a report that names both
//! sides, or none, is left to the content.

use crate::domain::TopicId;

/// approval ↔ export_ban: the pair that the topic rules already treat as each other's
/// undoing (`flips` in topics.toml).
pub(super) fn default_opposed() -> Vec<(TopicId, TopicId)> {
    [("approval", "export_ban")]
        .iter()
        .filter_map(|(a, b)| Some((TopicId::parse(a).ok()?, TopicId::parse(b).ok()?)))
        .collect()
}

/// Whether two reports each have one topic, and those two are opposed.
pub(super) fn opposed_clear(a: &[TopicId], b: &[TopicId], opposed: &[(TopicId, TopicId)]) -> bool {
    let ([a], [b]) = (a, b) else {
        return false;
    };
    opposed
        .iter()
        .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
}

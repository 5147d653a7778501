//! Entities named in an item: the configured aliases that matched (longest match wins, so
//! "Ascend 910C" is not also "Ascend"), plus ECCN codes recognised by their shape.
//! Returns canonical names only, deduplicated and sorted by kind then name.

use super::Rules;
use super::matcher::TermHit;
use super::normalize::Folded;
use crate::domain::{Entity, EntityKind};

/// `named` is scratch space, reused from one item to the next.
pub(crate) fn extract(
    rules: &Rules,
    folded: &Folded,
    hits: &[TermHit],
    named: &mut Vec<(TermHit, u32)>,
) -> Vec<Entity> {
    named.clear();
    named.extend(hits.iter().flat_map(|hit| {
        rules.term_entities[hit.term as usize]
            .iter()
            .map(move |&e| (*hit, e))
    }));
    // Each entity once, before cloning its name: most items name a company several times.
    let mut kept: Vec<u32> = named
        .iter()
        .filter(|(hit, entity)| !inside_longer(named, *hit, *entity, rules))
        .map(|&(_, entity)| entity)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut entities: Vec<Entity> = kept
        .into_iter()
        .map(|entity| rules.entities[entity as usize].clone())
        .collect();
    for &word in &folded.eccn_words {
        let code = folded.word(word as usize).to_ascii_uppercase();
        entities.push(Entity {
            kind: EntityKind::Legal,
            name: format!("ECCN {code}"),
        });
    }
    entities.sort();
    entities.dedup();
    entities
}

/// Who acted: the country of the first entity the item names (title first) that stands
/// for one — a country, or an authority `[actors]` assigns to it. Reads the `named` hits
/// `extract` left.
pub(crate) fn actor(rules: &Rules, named: &[(TermHit, u32)]) -> Option<String> {
    named
        .iter()
        .filter(|(hit, entity)| !inside_longer(named, *hit, *entity, rules))
        .filter_map(|(hit, entity)| {
            let country = rules.actor_of.get(*entity as usize).copied().flatten()?;
            Some((hit.start, country))
        })
        .min_by_key(|(start, _)| *start)
        .and_then(|(_, country)| rules.entities.get(country as usize))
        .map(|country| country.name.clone())
}

/// Whether another alias of the same kind covers `hit` and is longer: "ascend 910c" hides
/// "ascend", "dipartimento del commercio" hides nothing of another kind.
fn inside_longer(named: &[(TermHit, u32)], hit: TermHit, entity: u32, rules: &Rules) -> bool {
    let kind = rules.entities[entity as usize].kind;
    named.iter().any(|(other, other_entity)| {
        rules.entities[*other_entity as usize].kind == kind
            && other.start <= hit.start
            && hit.end <= other.end
            && other.end - other.start > hit.end - hit.start
    })
}

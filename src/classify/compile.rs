//! Turns the raw TOML rules into `Rules`: validates every key once (errors name it),
//! resolves `@group` and `$entity_kind` references, and builds the vocabulary, the
//! term→group bitsets and the term→rule index that classification reads.

use super::config::{RawRule, RawRules, RawTopic, RulesError, invalid};
use super::matcher::{Flavour, VocabularyBuilder};
use super::{Rules, TopicInfo};
use crate::domain::{Entity, EntityKind, TopicId};
use std::collections::HashMap;

/// Which groups each term belongs to, as one bitset row per term.
#[derive(Debug)]
pub(crate) struct GroupTable {
    words_per_term: usize,
    bits: Vec<u64>,
}

impl GroupTable {
    fn new(groups: &[Vec<u32>], term_count: usize) -> Self {
        let words_per_term = groups.len().div_ceil(64).max(1);
        let mut bits = vec![0u64; words_per_term * term_count];
        for (group, terms) in groups.iter().enumerate() {
            for &term in terms {
                bits[term as usize * words_per_term + group / 64] |= 1 << (group % 64);
            }
        }
        Self {
            words_per_term,
            bits,
        }
    }

    pub fn contains(&self, term: u32, group: u32) -> bool {
        let index = term as usize * self.words_per_term + group as usize / 64;
        self.bits
            .get(index)
            .is_some_and(|word| word >> (group % 64) & 1 == 1)
    }
}

/// A rule ready to evaluate; groups are indexes into the `GroupTable`.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub topic: u32,
    pub weight: f32,
    /// (group, max words between) that must be near the match.
    pub near: Option<(u32, u32)>,
    /// (group, max words between) pairs of which any cancels the match.
    pub unless: Vec<(u32, u32)>,
    /// The name of each `unless` group, as written in the rule (what the model reads of a
    /// match a hedge or a negation cancelled).
    pub unless_names: Vec<String>,
    pub flips: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct CompiledTopic {
    pub threshold: f32,
    pub context: Option<u32>,
    /// 0: anywhere in the item.
    pub context_within: u32,
    pub yields_to: Vec<u32>,
}

const MAX_NESTING: usize = 8;
const MAX_WITHIN: u32 = 200;

#[derive(Default)]
struct Compiler {
    vocabulary: VocabularyBuilder,
    groups: Vec<Vec<u32>>,
    group_ids: HashMap<Vec<u32>, u32>,
    named: HashMap<String, Vec<u32>>,
    kind_terms: HashMap<EntityKind, Vec<u32>>,
    entities: Vec<Entity>,
    term_entity: Vec<(u32, u32)>,
    rule_terms: Vec<Vec<u32>>,
}

pub(crate) fn compile(raw: &RawRules) -> Result<Rules, RulesError> {
    let mut compiler = Compiler::default();
    compiler.entities(raw)?;
    for name in raw.groups.keys() {
        compiler.named_group(raw, name, &format!("groups.{name}"), 0)?;
    }
    let title_boost = raw.settings.title_boost;
    if !title_boost.is_finite() || title_boost < 1.0 {
        return Err(invalid(
            "settings.title_boost",
            "must be a number of at least 1.0",
        ));
    }
    if raw.topic.is_empty() {
        return Err(invalid("topic", "no topics are defined"));
    }
    let ids = topic_ids(&raw.topic)?;
    let mut topics = Vec::new();
    let mut rules = Vec::new();
    for (index, topic) in raw.topic.iter().enumerate() {
        let key = format!("topic.{}", topic.id);
        topics.push(compiler.topic(raw, topic, &ids, &key)?);
        for (rule_index, rule) in topic.rule.iter().enumerate() {
            let key = format!("{key}.rule[{rule_index}]");
            rules.push(compiler.rule(raw, rule, index as u32, &ids, &key)?);
        }
    }
    compiler.finish(raw, topics, rules, title_boost)
}

fn topic_ids(topics: &[RawTopic]) -> Result<Vec<TopicId>, RulesError> {
    let mut ids: Vec<TopicId> = Vec::new();
    for (index, topic) in topics.iter().enumerate() {
        let id = TopicId::parse(&topic.id)
            .map_err(|e| invalid(format!("topic[{index}].id"), e.to_string()))?;
        if ids.contains(&id) {
            return Err(invalid(
                format!("topic[{index}].id"),
                format!("duplicate topic {id}"),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

impl Compiler {
    fn entities(&mut self, raw: &RawRules) -> Result<(), RulesError> {
        for (kind_name, names) in &raw.entities {
            let key = format!("entities.{kind_name}");
            let kind = entity_kind(kind_name).ok_or_else(|| {
                invalid(
                    &key,
                    "unknown entity kind (company, chip, authority, country, legal)",
                )
            })?;
            for (name, aliases) in names {
                let key = format!("{key}.{name}");
                if name.trim().is_empty() {
                    return Err(invalid(key, "empty entity name"));
                }
                let entity = self.entities.len() as u32;
                self.entities.push(Entity {
                    kind,
                    name: name.trim().to_string(),
                });
                // The canonical name is always an alias of itself.
                let all = std::iter::once(name).chain(aliases).enumerate();
                for (index, alias) in all {
                    let term =
                        self.vocabulary
                            .term(alias, Flavour::Name, &format!("{key}[{index}]"))?;
                    self.term_entity.push((term, entity));
                    self.kind_terms.entry(kind).or_default().push(term);
                }
            }
        }
        Ok(())
    }

    /// The terms of a list: plain entries compile with `flavour`, `@group` and `$kind`
    /// entries expand to the terms they name.
    fn list(
        &mut self,
        raw: &RawRules,
        entries: &[String],
        flavour: Flavour,
        key: &str,
        depth: usize,
    ) -> Result<Vec<u32>, RulesError> {
        let mut terms = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let key = format!("{key}[{index}]");
            if entry.starts_with('@') || entry.starts_with('$') {
                terms.extend(self.reference(raw, entry, &key, depth)?);
            } else {
                terms.push(self.vocabulary.term(entry, flavour, &key)?);
            }
        }
        Ok(terms)
    }

    fn reference(
        &mut self,
        raw: &RawRules,
        name: &str,
        key: &str,
        depth: usize,
    ) -> Result<Vec<u32>, RulesError> {
        if let Some(kind_name) = name.strip_prefix('$') {
            let kind = entity_kind(kind_name)
                .ok_or_else(|| invalid(key, format!("unknown entity kind {name:?}")))?;
            return Ok(self.kind_terms.get(&kind).cloned().unwrap_or_default());
        }
        let name = name.strip_prefix('@').unwrap_or(name);
        if !raw.groups.contains_key(name) {
            return Err(invalid(key, format!("unknown group {name:?}")));
        }
        self.named_group(raw, name, key, depth + 1)
    }

    fn named_group(
        &mut self,
        raw: &RawRules,
        name: &str,
        key: &str,
        depth: usize,
    ) -> Result<Vec<u32>, RulesError> {
        if let Some(terms) = self.named.get(name) {
            return Ok(terms.clone());
        }
        if depth > MAX_NESTING {
            return Err(invalid(
                key,
                format!("group {name:?} nests too deep (a cycle?)"),
            ));
        }
        let Some(lists) = raw.groups.get(name) else {
            return Err(invalid(key, format!("unknown group {name:?}")));
        };
        let key = format!("groups.{name}");
        let mut terms = self.list(
            raw,
            &lists.it,
            Flavour::Italian,
            &format!("{key}.it"),
            depth,
        )?;
        terms.extend(self.list(
            raw,
            &lists.en,
            Flavour::English,
            &format!("{key}.en"),
            depth,
        )?);
        terms.extend(self.list(
            raw,
            &lists.names,
            Flavour::Name,
            &format!("{key}.names"),
            depth,
        )?);
        self.named.insert(name.to_string(), terms.clone());
        Ok(terms)
    }

    /// A group made of the union of named groups (and `$kind`s), shared when identical.
    fn union(
        &mut self,
        raw: &RawRules,
        names: &[String],
        key: &str,
    ) -> Result<Option<u32>, RulesError> {
        if names.is_empty() {
            return Ok(None);
        }
        let mut terms = Vec::new();
        for (index, name) in names.iter().enumerate() {
            terms.extend(self.reference(raw, name, &format!("{key}[{index}]"), 0)?);
        }
        Ok(Some(self.group(terms)))
    }

    fn group(&mut self, mut terms: Vec<u32>) -> u32 {
        terms.sort_unstable();
        terms.dedup();
        let next = self.groups.len() as u32;
        let id = *self.group_ids.entry(terms.clone()).or_insert(next);
        if id == next {
            self.groups.push(terms);
        }
        id
    }

    fn topic(
        &mut self,
        raw: &RawRules,
        topic: &RawTopic,
        ids: &[TopicId],
        key: &str,
    ) -> Result<CompiledTopic, RulesError> {
        if !topic.threshold.is_finite() || topic.threshold <= 0.0 {
            return Err(invalid(
                format!("{key}.threshold"),
                "must be a positive number",
            ));
        }
        if topic.name_it.trim().is_empty() || topic.name_en.trim().is_empty() {
            return Err(invalid(key, "name_it and name_en may not be empty"));
        }
        let context = self.union(raw, &topic.context, &format!("{key}.context"))?;
        if topic.context_within > MAX_WITHIN {
            return Err(invalid(
                format!("{key}.context_within"),
                format!("at most {MAX_WITHIN}"),
            ));
        }
        let mut yields_to = Vec::new();
        for (index, other) in topic.yields_to.iter().enumerate() {
            let position = ids.iter().position(|id| id.as_str() == other);
            let key = format!("{key}.yields_to[{index}]");
            yields_to.push(
                position.ok_or_else(|| invalid(key, format!("unknown topic {other:?}")))? as u32,
            );
        }
        Ok(CompiledTopic {
            threshold: topic.threshold,
            context,
            context_within: topic.context_within,
            yields_to,
        })
    }

    fn rule(
        &mut self,
        raw: &RawRules,
        rule: &RawRule,
        topic: u32,
        ids: &[TopicId],
        key: &str,
    ) -> Result<CompiledRule, RulesError> {
        if !rule.weight.is_finite() || rule.weight == 0.0 {
            return Err(invalid(
                format!("{key}.weight"),
                "must be a non-zero number",
            ));
        }
        if rule.within > MAX_WITHIN || rule.unless_within > MAX_WITHIN {
            return Err(invalid(
                key,
                format!("within and unless_within are at most {MAX_WITHIN}"),
            ));
        }
        let mut terms = self.list(raw, &rule.it, Flavour::Italian, &format!("{key}.it"), 0)?;
        terms.extend(self.list(raw, &rule.en, Flavour::English, &format!("{key}.en"), 0)?);
        terms.extend(self.list(raw, &rule.names, Flavour::Name, &format!("{key}.names"), 0)?);
        if terms.is_empty() {
            return Err(invalid(
                key,
                "a rule needs at least one term in it, en or names",
            ));
        }
        self.rule_terms.push(terms);
        let near = self.union(raw, &rule.near, &format!("{key}.near"))?;
        let mut unless = Vec::new();
        let mut unless_names = Vec::new();
        for (index, name) in rule.unless.iter().enumerate() {
            let key = format!("{key}.unless[{index}]");
            let own = raw
                .groups
                .get(name.strip_prefix('@').unwrap_or(name))
                .and_then(|g| g.within);
            if let Some(group) = self.union(raw, std::slice::from_ref(name), &key)? {
                unless.push((group, own.unwrap_or(rule.unless_within).min(MAX_WITHIN)));
                unless_names.push(name.strip_prefix('@').unwrap_or(name).to_string());
            }
        }
        let flips = match &rule.flips {
            None => None,
            Some(target) => {
                let key = format!("{key}.flips");
                let index = ids.iter().position(|id| id.as_str() == target);
                let index =
                    index.ok_or_else(|| invalid(&key, format!("unknown topic {target:?}")))?;
                if index as u32 == topic || near.is_none() {
                    return Err(invalid(
                        key,
                        "needs `near` (the term it flips) and another topic",
                    ));
                }
                Some(index as u32)
            }
        };
        Ok(CompiledRule {
            topic,
            weight: rule.weight,
            near: near.map(|group| (group, rule.within)),
            unless,
            unless_names,
            flips,
        })
    }

    fn finish(
        self,
        raw: &RawRules,
        topics: Vec<CompiledTopic>,
        rules: Vec<CompiledRule>,
        title_boost: f32,
    ) -> Result<Rules, RulesError> {
        let term_count = self.vocabulary.term_count();
        let mut term_rules = vec![Vec::new(); term_count];
        for (rule, terms) in self.rule_terms.iter().enumerate() {
            for &term in terms {
                if !term_rules[term as usize].contains(&(rule as u32)) {
                    term_rules[term as usize].push(rule as u32);
                }
            }
        }
        let mut term_entities = vec![Vec::new(); term_count];
        for &(term, entity) in &self.term_entity {
            term_entities[term as usize].push(entity);
        }
        let info = raw
            .topic
            .iter()
            .map(topic_info)
            .collect::<Result<Vec<_>, _>>()?;
        // The named groups, in name order, and for each term the ones it belongs to as a
        // bitset row (`concept_words` words per term).
        let mut concept_names: Vec<&String> = self.named.keys().collect();
        concept_names.sort();
        let concept_words = concept_names.len().div_ceil(64).max(1);
        let mut term_concepts = vec![0u64; concept_words * term_count];
        for (index, name) in concept_names.iter().enumerate() {
            for &term in &self.named[*name] {
                term_concepts[term as usize * concept_words + index / 64] |= 1 << (index % 64);
            }
        }
        let concept_names = concept_names
            .into_iter()
            .map(|name| std::sync::Arc::from(name.as_str()))
            .collect();
        Ok(Rules {
            concept_names,
            concept_words,
            term_concepts,
            info,
            vocabulary: self.vocabulary.build()?,
            groups: GroupTable::new(&self.groups, term_count),
            topics,
            rules,
            term_rules,
            actor_of: actors(raw, &self.entities)?,
            entities: self.entities,
            term_entities,
            title_boost,
            fingerprint: String::new(),
            model: None,
        })
    }
}

/// For each entity, the country its mention makes the actor (see `[actors]`).
fn actors(raw: &RawRules, entities: &[Entity]) -> Result<Vec<Option<u32>>, RulesError> {
    let index = |name: &str| entities.iter().position(|e| e.name == name);
    let mut actor_of: Vec<Option<u32>> = entities
        .iter()
        .enumerate()
        .map(|(i, e)| (e.kind == EntityKind::Country).then_some(i as u32))
        .collect();
    for (country, members) in &raw.actors {
        let key = format!("actors.{country}");
        let country_index = index(country)
            .filter(|&i| entities[i].kind == EntityKind::Country)
            .ok_or_else(|| {
                invalid(
                    &key,
                    format!("{country:?} is not a country of [entities.country]"),
                )
            })?;
        for (i, member) in members.iter().enumerate() {
            let member_index = index(member).ok_or_else(|| {
                invalid(
                    format!("{key}[{i}]"),
                    format!("{member:?} is not an entity"),
                )
            })?;
            actor_of[member_index] = Some(country_index as u32);
        }
    }
    Ok(actor_of)
}

fn topic_info(topic: &RawTopic) -> Result<TopicInfo, RulesError> {
    Ok(TopicInfo {
        id: TopicId::parse(&topic.id).map_err(|e| invalid("topic.id", e.to_string()))?,
        name_it: topic.name_it.trim().to_string(),
        name_en: topic.name_en.trim().to_string(),
        description_it: topic.description_it.trim().to_string(),
        description_en: topic.description_en.trim().to_string(),
    })
}

fn entity_kind(name: &str) -> Option<EntityKind> {
    match name {
        "company" => Some(EntityKind::Company),
        "chip" => Some(EntityKind::Chip),
        "authority" => Some(EntityKind::Authority),
        "country" => Some(EntityKind::Country),
        "legal" => Some(EntityKind::Legal),
        _ => None,
    }
}

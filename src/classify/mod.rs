//! The classifier: a pure function of (rules, item) that says which topics an item is
//! about, which entities it names, and why. Rules come from `config/topics.toml` and are
//! compiled once; `classify` never does I/O, reads no clock or environment, and never panics.
//!
//! How it works: the title and text are folded once into a reused buffer (lowercase, no
//! accents, elisions split), one Aho-Corasick automaton finds every configured word (Snowball
//! stems as word-start prefixes, names exactly), phrases are runs of those words, rules fire
//! on terms with proximity (`near`), negation (`unless`) and lifting (`flips`) checks, and a
//! topic is reported when it has its context and its score reaches its threshold.

mod compile;
mod config;
mod entities;
mod features;
mod matcher;
mod model;
mod normalize;
mod score;
mod tally;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod rule_tests;

pub use crate::domain::{Classification, Entity, EntityKind, Lang, TopicId, TopicScore};
pub use config::RulesError;
pub(crate) use model::PassThrough;
pub use model::{
    FORMAT as MODEL_FORMAT, ModelError, TopicModel, TopicWeights, TrainedOn,
    VERSION as MODEL_VERSION,
};
pub use normalize::{detect_lang, fold, is_stop_word, keyword_text, stems};

use compile::{CompiledRule, CompiledTopic, GroupTable};
use matcher::{FindScratch, TermHit, Vocabulary};
use normalize::Folded;
use score::ScoreScratch;
use std::cell::RefCell;

/// Compiled topic rules and entities. Immutable, `Send + Sync`: share one behind an `Arc`.
#[derive(Debug)]
pub struct Rules {
    info: Vec<TopicInfo>,
    vocabulary: Vocabulary,
    groups: GroupTable,
    topics: Vec<CompiledTopic>,
    rules: Vec<CompiledRule>,
    /// For each term, the rules it is a main term of.
    term_rules: Vec<Vec<u32>>,
    entities: Vec<Entity>,
    /// For each entity, the country (an entity index) its mention makes the actor: a
    /// country itself, or an authority `[actors]` assigns to one.
    actor_of: Vec<Option<u32>>,
    /// For each term, the entities it is an alias of.
    term_entities: Vec<Vec<u32>>,
    /// The named groups of `topics.toml`, sorted: the concepts an item can use.
    concept_names: Vec<std::sync::Arc<str>>,
    /// u64 words per term in `term_concepts`.
    concept_words: usize,
    /// For each term, the concepts it belongs to: bit `i` is `concept_names[i]`.
    term_concepts: Vec<u64>,
    title_boost: f32,
    /// A hash of the rules as written (comments and layout aside): what a trained model
    /// records, so that a model trained with other rules can be told apart.
    fingerprint: String,
    /// The learned component, when one is loaded (see `model.rs`).
    model: Option<model::CompiledModel>,
}

/// A topic as users see it: its id and its names and descriptions in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: TopicId,
    pub name_it: String,
    pub name_en: String,
    pub description_it: String,
    pub description_en: String,
}

impl Rules {
    /// Reads and validates `topics.toml`; errors name the key at fault.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let raw: config::RawRules = toml::from_str(text)?;
        let mut rules = compile::compile(&raw)?;
        // The parsed document, not the text: a comment or a blank line changes nothing.
        let value: toml::Value = toml::from_str(text)?;
        let canonical = serde_json::to_string(&value).unwrap_or_default();
        rules.fingerprint = format!("{:016x}", model::feature_hash(&canonical));
        Ok(rules)
    }

    /// Attaches a trained model; refused if it names a topic these rules do not have.
    pub fn with_model(mut self, model: TopicModel) -> Result<Rules, ModelError> {
        let compiled = model::CompiledModel::compile(model, |id| {
            self.info.iter().position(|topic| &topic.id == id)
        })?;
        self.model = Some(compiled);
        Ok(self)
    }

    /// Attaches, replaces or removes the model in place (evaluation swaps models fold by fold).
    pub fn set_model(&mut self, model: Option<TopicModel>) -> Result<(), ModelError> {
        self.model = match model {
            None => None,
            Some(model) => Some(model::CompiledModel::compile(model, |id| {
                self.info.iter().position(|topic| &topic.id == id)
            })?),
        };
        Ok(())
    }

    /// The attached model, if any.
    pub fn model(&self) -> Option<&TopicModel> {
        self.model.as_ref().map(|m| &m.source)
    }

    /// See the field: compare with `TopicModel::rules_fingerprint`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The topics, in file order.
    pub fn topics(&self) -> &[TopicInfo] {
        &self.info
    }

    pub fn topic(&self, id: &str) -> Option<&TopicInfo> {
        self.info.iter().find(|topic| topic.id.as_str() == id)
    }
}

/// What the classifier reads of an item. `lang` comes from the feed when it says; otherwise
/// the language is detected from the text.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub lang: Option<Lang>,
}

/// The classifier reads at most this much of a title or text: feed summaries are far
/// shorter, and a pasted book must not stall the poller.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Buffers reused from one item to the next on the same thread, so that a warm classifier
/// allocates only what it returns.
#[derive(Debug, Default)]
struct Scratch {
    folded: Folded,
    find: FindScratch,
    hits: Vec<TermHit>,
    score: ScoreScratch,
    named: Vec<(TermHit, u32)>,
    /// The model's active features (index, value) and the buffer their names are built in.
    active: Vec<(u32, f32)>,
    feature_name: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Classifies one item: topics over their threshold (best first), entities, and reasons.
pub fn classify(rules: &Rules, item: &ItemText<'_>) -> Classification {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => classify_with(rules, item, &mut scratch),
        // Only reachable if classify were re-entered on this thread; stay correct anyway.
        Err(_) => classify_with(rules, item, &mut Scratch::default()),
    })
}

/// The learned model's features of an item (see `features.rs`), by name, each once (the
/// largest value wins). For training and for showing what the model read.
pub fn features(rules: &Rules, item: &ItemText<'_>) -> Vec<(String, f32)> {
    let mut scratch = Scratch::default();
    let classification = analyse(rules, item, &mut scratch);
    let seen = features::Seen {
        folded: &scratch.folded,
        hits: &scratch.hits,
        signals: &scratch.score.signals,
        entities: &classification.entities,
    };
    let mut out: std::collections::BTreeMap<String, f32> = std::collections::BTreeMap::new();
    let mut buffer = String::new();
    features::each(rules, &seen, &mut buffer, &mut |name, value| {
        let slot = out.entry(name.to_string()).or_insert(value);
        *slot = slot.max(value);
    });
    out.into_iter().collect()
}

fn classify_with(rules: &Rules, item: &ItemText<'_>, scratch: &mut Scratch) -> Classification {
    let mut classification = analyse(rules, item, scratch);
    // 4. The learned model decides the topics it knows.
    if let Some(model) = &rules.model {
        apply_model(rules, model, scratch, &mut classification);
    }
    // Concepts serve event grouping, which only ever sees relevant items.
    if classification.is_relevant() {
        classification.concepts = concepts(rules, &scratch.hits);
    }
    classification
}

/// The rule engine's verdict: steps 1–3 of `classify`, without the model or concepts.
fn analyse(rules: &Rules, item: &ItemText<'_>, scratch: &mut Scratch) -> Classification {
    // 1. Fold title and text into one buffer, remembering where the title ends.
    scratch.folded.clear();
    scratch.folded.push(truncate(item.title));
    let title_words = scratch.folded.word_count() as u32;
    scratch.folded.push(truncate(item.text));
    // 2. The language decides whether Italian-only terms apply.
    let lang = item
        .lang
        .unwrap_or_else(|| normalize::detect_folded(&scratch.folded));
    // 3. Find every term, then score the topics and name the entities.
    rules
        .vocabulary
        .find(&scratch.folded, lang, &mut scratch.find, &mut scratch.hits);
    let scored = score::Item {
        folded: &scratch.folded,
        hits: &scratch.hits,
        title_words,
    };
    let mut why = Vec::new();
    let topics = score::evaluate(rules, &scored, &mut scratch.score, &mut why);
    let entities = entities::extract(rules, &scratch.folded, &scratch.hits, &mut scratch.named);
    let actor = entities::actor(rules, &scratch.named);
    Classification {
        topics,
        entities,
        why,
        concepts: Vec::new(),
        actor,
    }
}

/// Replaces the rules' verdict on the model's topics by the model's (see `model.rs`).
fn apply_model(
    rules: &Rules,
    model: &model::CompiledModel,
    scratch: &mut Scratch,
    classification: &mut Classification,
) {
    // The model weighs the rules' evidence; it does not invent it. A topic none of whose
    // rules' own terms the item uses (counted, cancelled by a hedge or a negation, or just
    // named) is not the model's to give: without this, words alone ("nuovo modello" of a
    // phone) raise AI topics in ordinary news, which the labelled data, all on the field,
    // never taught it to refuse.
    let hits = &scratch.hits;
    let signals = &scratch.score.signals;
    let allowed = |topic: usize| {
        let counted = signals.raw.get(topic).is_some_and(|&points| points > 0.0);
        let cancelled = signals
            .cancelled
            .iter()
            .any(|&(rule, _)| rules.rules[rule as usize].topic as usize == topic);
        let named = hits.iter().any(|hit| {
            rules.term_rules[hit.term as usize].iter().any(|&rule| {
                let rule = &rules.rules[rule as usize];
                rule.topic as usize == topic && rule.weight > 0.0
            })
        });
        (counted || cancelled || named)
            && rules.topics[topic].context.is_none_or(|group| {
                hits.iter()
                    .any(|hit| rules.groups.contains(hit.term, group))
            })
    };
    let any_allowed = model.topics.iter().any(|&(topic, _, _)| allowed(topic));
    let verdicts = if any_allowed {
        scratch.active.clear();
        let seen = features::Seen {
            folded: &scratch.folded,
            hits,
            signals: &scratch.score.signals,
            entities: &classification.entities,
        };
        let active = &mut scratch.active;
        features::each(
            rules,
            &seen,
            &mut scratch.feature_name,
            &mut |name, value| {
                if let Some(index) = model.lookup(name) {
                    active.push((index, value));
                }
            },
        );
        active.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        active.dedup_by_key(|(index, _)| *index);
        model.verdicts(active, allowed)
    } else {
        Vec::new()
    };
    // The model's topics leave the rules' verdict, reasons and all, then come back as it says.
    let known = |id: &TopicId| {
        model
            .topics
            .iter()
            .any(|&(topic, _, _)| &rules.info[topic].id == id)
    };
    let rule_scores: Vec<TopicScore> = classification.topics.clone();
    // Rules that clear a topic's threshold twice over keep it whatever the model says: the
    // model was learned from a few hundred items and must not overrule the plainest cases.
    let accepted = |v: &model::Verdict| {
        v.probability >= v.threshold
            || rule_scores.iter().any(|t| {
                t.topic == rules.info[v.topic].id
                    && t.score >= STRONG_RULES * rules.topics[v.topic].threshold
            })
    };
    classification.topics.retain(|t| !known(&t.topic));
    let mut kept_reasons = Vec::new();
    for reason in classification.why.drain(..) {
        let topic = reason.split(':').next().unwrap_or_default();
        let reported = verdicts
            .iter()
            .any(|v| accepted(v) && rules.info[v.topic].id.as_str() == topic);
        if reported
            || !model
                .topics
                .iter()
                .any(|&(t, _, _)| rules.info[t].id.as_str() == topic)
        {
            kept_reasons.push(reason);
        }
    }
    classification.why = kept_reasons;
    // An item tells one development: of two reported topics where one yields to the other
    // (a licence granted and the ban it eases), the one the rules also reported stays, or
    // if they reported both or neither, the one the model is surer of.
    let by_rules = |v: &model::Verdict| {
        rule_scores
            .iter()
            .any(|t| t.topic == rules.info[v.topic].id)
    };
    let margin = |v: &model::Verdict| {
        let rules_bonus = if by_rules(v) { 100.0 } else { 0.0 };
        rules_bonus + logit(v.probability) - logit(v.threshold)
    };
    let reported: Vec<&model::Verdict> = verdicts.iter().filter(|v| accepted(v)).collect();
    let kept = reported.iter().filter(|v| {
        !reported.iter().any(|other| {
            other.topic != v.topic
                && rules.topics[v.topic]
                    .yields_to
                    .contains(&(other.topic as u32))
                && margin(other) > margin(v)
        })
    });
    for verdict in kept {
        let id = rules.info[verdict.topic].id.clone();
        let score = rule_scores
            .iter()
            .find(|t| t.topic == id)
            .map(|t| t.score)
            .unwrap_or_else(|| {
                rules.topics[verdict.topic].threshold * verdict.probability / verdict.threshold
            });
        classification.why.push(model_reason(model, &id, verdict));
        classification.topics.push(TopicScore { topic: id, score });
    }
    classification
        .topics
        .sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// How many times its threshold a topic's rule points must reach for the rules alone to
/// keep it (see `apply_model`).
const STRONG_RULES: f32 = 2.0;

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// `export_ban: model 0.91 (from 0.45): word "restri…" +1.2, concept restrict +0.8, …`
fn model_reason(model: &model::CompiledModel, topic: &TopicId, verdict: &model::Verdict) -> String {
    use std::fmt::Write;
    let mut reason = format!(
        "{topic}: model {:.2} (from {:.2})",
        verdict.probability, verdict.threshold
    );
    for (index, &(feature, contribution)) in verdict.strongest.iter().enumerate() {
        let separator = if index == 0 { ": " } else { ", " };
        let name = model::describe_feature(model.feature_name(feature));
        // Writing to a String cannot fail.
        let _ = write!(reason, "{separator}{name} +{contribution:.1}");
    }
    reason
}

/// The named groups the item's terms belong to, in name order.
fn concepts(rules: &Rules, hits: &[TermHit]) -> Vec<std::sync::Arc<str>> {
    let mut out = Vec::new();
    each_concept(rules, hits, |index| {
        if let Some(name) = rules.concept_names.get(index) {
            out.push(name.clone());
        }
    });
    out
}

/// Calls `f` with the index of each named group the item's terms belong to, once each, in
/// name order: the terms' bitset rows OR-ed together, then read off bit by bit.
fn each_concept(rules: &Rules, hits: &[TermHit], mut f: impl FnMut(usize)) {
    let words = rules.concept_words;
    let mut small = [0u64; 4];
    let mut wide = Vec::new();
    let used: &mut [u64] = if words <= small.len() {
        &mut small[..words]
    } else {
        wide.resize(words, 0);
        &mut wide
    };
    for hit in hits {
        let row = hit.term as usize * words;
        if let Some(bits) = rules.term_concepts.get(row..row + words) {
            for (acc, bits) in used.iter_mut().zip(bits) {
                *acc |= bits;
            }
        }
    }
    for (word, &bits) in used.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            f(word * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_INPUT_BYTES {
        return text;
    }
    let mut end = MAX_INPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

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
mod matcher;
mod normalize;
mod score;
mod tally;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod rule_tests;

pub use crate::domain::{Classification, Entity, EntityKind, Lang, TopicId, TopicScore};
pub use config::RulesError;
pub use normalize::{detect_lang, fold, is_stop_word, stems};

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
    /// For each term, the entities it is an alias of.
    term_entities: Vec<Vec<u32>>,
    /// The named groups of `topics.toml`, sorted: the concepts an item can use.
    concept_names: Vec<std::sync::Arc<str>>,
    /// u64 words per term in `term_concepts`.
    concept_words: usize,
    /// For each term, the concepts it belongs to: bit `i` is `concept_names[i]`.
    term_concepts: Vec<u64>,
    title_boost: f32,
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
        compile::compile(&raw)
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

fn classify_with(rules: &Rules, item: &ItemText<'_>, scratch: &mut Scratch) -> Classification {
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
    // Concepts serve event grouping, which only ever sees relevant items.
    let concepts = if topics.is_empty() {
        Vec::new()
    } else {
        concepts(rules, &scratch.hits)
    };
    Classification {
        topics,
        entities,
        why,
        concepts,
    }
}

/// The named groups the item's terms belong to, in name order: the terms' bitset rows
/// OR-ed together, then read off bit by bit.
fn concepts(rules: &Rules, hits: &[TermHit]) -> Vec<std::sync::Arc<str>> {
    let words = rules.concept_words;
    let mut used = [0u64; 4];
    let mut wide = Vec::new();
    let used: &mut [u64] = if words <= used.len() {
        &mut used[..words]
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
    let mut out = Vec::new();
    for (word, &bits) in used.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            let index = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(name) = rules.concept_names.get(index) {
                out.push(name.clone());
            }
        }
    }
    out
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

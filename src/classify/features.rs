//! The learned model's view of an item (see `model.rs`): what the words say, cut to a cheap
//! stem, and what the rule engine saw — the concepts (named word groups) its terms belong
//! to, the entities, the rules that counted and each topic's points, threshold or not.
//!
//! One extractor serves training (feature names) and classification (the same names,
//! hashed), so the two can never disagree about what a feature is.

use super::Rules;
use super::matcher::TermHit;
use super::normalize::{Folded, is_stop_word};
use super::tally::Signals;
use crate::domain::Entity;

/// How many leading letters of a folded word make its stem. Six letters group Italian
/// inflections as well as Snowball does on this task ("esportazioni", "esportare" →
/// `esport`; "licenze", "licenza" → `licenz`) at a fraction of the cost.
pub(crate) const STEM_BYTES: usize = 6;

/// A topic's rule points count up to this many thresholds: past it, more of the same
/// evidence says nothing new.
const MAX_THRESHOLDS: f32 = 3.0;

/// What a feature extraction reads; all of it is already computed by `classify`.
pub(crate) struct Seen<'a> {
    pub folded: &'a Folded,
    pub hits: &'a [TermHit],
    pub signals: &'a Signals,
    pub entities: &'a [Entity],
}

/// Calls `emit(name, value)` for every feature of the item, in a fixed order. A name may be
/// emitted more than once (a word said twice); the consumer keeps one. `buffer` is scratch
/// space for the names.
pub(crate) fn each(
    rules: &Rules,
    seen: &Seen<'_>,
    buffer: &mut String,
    emit: &mut impl FnMut(&str, f32),
) {
    // 1. Words: folded, stop words and one- or two-letter words left out, cut to a stem.
    //    Numbers are left to the rules and entities (a year or a figure is no topic).
    for index in 0..seen.folded.word_count() {
        let word = seen.folded.word(index);
        if word.len() < 3 || is_stop_word(word) || word.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut end = word.len().min(STEM_BYTES);
        while !word.is_char_boundary(end) {
            end -= 1;
        }
        named(buffer, "w:", &word[..end], emit, 1.0);
    }
    // 2. Concepts: every named group one of the item's terms belongs to, each once.
    super::each_concept(rules, seen.hits, |index| {
        if let Some(name) = rules.concept_names.get(index) {
            named(buffer, "c:", name, emit, 1.0);
        }
    });
    // 3. Entities, by name and by kind.
    for entity in seen.entities {
        named(buffer, "e:", &entity.name, emit, 1.0);
        named(buffer, "k:", entity.kind.as_str(), emit, 1.0);
    }
    // 4. Each topic's points in thresholds, and the matches a hedge, a negation or
    //    another `unless` group cancelled: whether "sta valutando nuove restrizioni" is
    //    news of a ban is for the labelled data to say, not the rules.
    for &(rule, unless) in &seen.signals.cancelled {
        let def = &rules.rules[rule as usize];
        if let (Some(info), Some(group)) = (
            rules.info.get(def.topic as usize),
            def.unless_names.get(unless as usize),
        ) {
            buffer.clear();
            buffer.push_str("u:");
            buffer.push_str(info.id.as_str());
            buffer.push('/');
            buffer.push_str(group);
            emit(buffer, 1.0);
        }
    }
    for (index, &points) in seen.signals.raw.iter().enumerate() {
        let (Some(info), Some(topic)) = (rules.info.get(index), rules.topics.get(index)) else {
            continue;
        };
        if points != 0.0 {
            let value = (points / topic.threshold).clamp(-MAX_THRESHOLDS, MAX_THRESHOLDS);
            named(buffer, "s:", info.id.as_str(), emit, value);
        }
    }
}

fn named(
    buffer: &mut String,
    prefix: &str,
    name: &str,
    emit: &mut impl FnMut(&str, f32),
    value: f32,
) {
    buffer.clear();
    buffer.push_str(prefix);
    buffer.push_str(name);
    emit(buffer, value);
}

//! The grouping model: how likely two reports tell one story, learned from real stories
//! (`chipwatch train --stories`, see `crate::learn::stories`) and handed in as data
//! (`config/grouping.json`; the same file is built into the binary as the default).
//!
//! It holds (1) the document frequency of each stemmed word over the real text it learned
//! from, so that a shared rare word ("Mellanox", "gallio") weighs more than a shared
//! common one ("chip", "Cina"), and (2) a logistic regression over a handful of pair
//! features (`FEATURES`): the words' TF-IDF cosine, shared key entities, places and
//! figures, the topics and concepts, and how far apart in time the two reports are.
//! An item joins the event whose reports it matches best on average, if that average
//! reaches `min_score`, itself calibrated on real stories.

use super::When;
use crate::classify::PassThrough;
use crate::domain::TopicId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

pub const FORMAT: &str = "chipwatch-grouping-model";
pub const VERSION: u32 = 1;

/// The pair features, in the order of `GroupingModel::weights`.
pub const FEATURES: [&str; 15] = [
    "word_cosine",
    "entity_jaccard",
    "shared_entities",
    "place_jaccard",
    "shared_figures",
    "figures_disagree",
    "same_topic",
    "topics_disagree",
    "concept_jaccard",
    "log_days_apart",
    "time_unknown",
    "words_times_entities",
    "actors_disagree",
    "head_cosine",
    "entities_disagree",
];

/// The index of `entities_disagree`, which the grouper also applies as a rule.
pub const ENTITIES_DISAGREE: usize = 14;

/// The shipped model, built in as the default when `[events] model_file` is not set.
const BUILT_IN: &str = include_str!("../../config/grouping.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingModel {
    pub format: String,
    pub version: u32,
    pub trained_on: GroupingTrainedOn,
    /// How many documents the frequencies were counted over.
    pub idf_documents: u32,
    /// Stem → number of documents it occurs in (stems seen in at least two).
    pub document_frequency: BTreeMap<String, u32>,
    /// Must equal `FEATURES`: a model trained on other features is refused.
    pub features: Vec<String>,
    pub weights: Vec<f32>,
    pub bias: f32,
    /// The least mean same-story probability for an item to join an event, calibrated by
    /// cross-validation on the training stories (`[events] min_score` overrides it).
    pub min_score: f32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingTrainedOn {
    pub items: usize,
    /// Items of ordinary news, each its own story, placed among the stories' times.
    #[serde(default)]
    pub noise: usize,
    pub stories: usize,
    pub pairs: usize,
    pub alpha: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupingError {
    #[error("not a chipwatch grouping model: {0}")]
    Json(#[from] serde_json::Error),
    #[error("format {found:?} version {version} is not {FORMAT:?} version {VERSION}")]
    Format { found: String, version: u32 },
    #[error("its features are not this chipwatch's ({0}): retrain it")]
    Features(String),
    #[error("{0} is not a finite number in range")]
    Number(&'static str),
}

impl GroupingModel {
    pub fn from_json(text: &str) -> Result<GroupingModel, GroupingError> {
        let model: GroupingModel = serde_json::from_str(text)?;
        if model.format != FORMAT || model.version != VERSION {
            return Err(GroupingError::Format {
                found: model.format,
                version: model.version,
            });
        }
        if model.features != FEATURES || model.weights.len() != FEATURES.len() {
            return Err(GroupingError::Features(model.features.join(", ")));
        }
        if model.weights.iter().any(|w| !w.is_finite()) {
            return Err(GroupingError::Number("a weight"));
        }
        if !model.bias.is_finite() {
            return Err(GroupingError::Number("the bias"));
        }
        if !(model.min_score > 0.0 && model.min_score < 1.0) {
            return Err(GroupingError::Number("min_score"));
        }
        Ok(model)
    }

    /// Deterministic JSON: the same model always writes the same bytes.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The model built into the binary (`config/grouping.json` at build time).
    pub fn built_in() -> GroupingModel {
        // The file is checked by a test and by every build's own tests: it always parses.
        GroupingModel::from_json(BUILT_IN).unwrap_or_else(|_| GroupingModel::flat())
    }

    /// A model that knows no text: every word equally rare, hand-set weights. Only a
    /// fallback, should the built-in file ever fail to parse.
    fn flat() -> GroupingModel {
        GroupingModel {
            format: FORMAT.into(),
            version: VERSION,
            trained_on: GroupingTrainedOn::default(),
            idf_documents: 1,
            document_frequency: BTreeMap::new(),
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            weights: vec![
                8.0, 2.0, 0.5, 0.5, 0.5, -0.5, 0.5, -1.0, 0.0, -1.0, 0.0, 2.0, -1.0, 2.0, -1.0,
            ],
            bias: -4.0,
            min_score: 0.5,
        }
    }
}

pub(super) fn hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// A grouping model ready to score pairs.
#[derive(Debug)]
pub struct Grouping {
    pub source: GroupingModel,
    idf: HashMap<u64, f32, BuildHasherDefault<PassThrough>>,
    /// The weight of a word never seen in the training text: the rarest there is.
    unseen_idf: f32,
}

impl PartialEq for Grouping {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Grouping {
    pub fn new(source: GroupingModel) -> Grouping {
        let documents = source.idf_documents.max(1) as f32;
        let idf = source
            .document_frequency
            .iter()
            .map(|(stem, &df)| (hash(stem), ((documents + 1.0) / (df as f32 + 1.0)).ln()))
            .collect();
        Grouping {
            unseen_idf: (documents + 1.0).ln(),
            idf,
            source,
        }
    }

    pub fn idf(&self, stem: &str) -> f32 {
        self.idf
            .get(&hash(stem))
            .copied()
            .unwrap_or(self.unseen_idf)
    }

    /// The probability that two reports tell one story.
    pub fn probability(&self, features: &[f32; FEATURES.len()]) -> f32 {
        let z = self.source.bias
            + features
                .iter()
                .zip(&self.source.weights)
                .map(|(f, w)| f * w)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// What a report is made of for comparison: hashed, sorted, weighted once.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    /// Stemmed words (hash, IDF weight), sorted by hash; `norm` is their L2 norm.
    words: Weighted,
    /// The same for the head's words (title and first sentence).
    head: Weighted,
    entities: Vec<u64>,
    places: Vec<u64>,
    concepts: Vec<u64>,
    /// Figures of two digits or more, years left out: a figure is what two reports of
    /// one act most often share, a year what every report of a season does.
    figures: Vec<f64>,
    pub(super) topics: Vec<TopicId>,
    /// Who acted (a hash of the country), when the text says.
    actor: Option<u64>,
    pub(super) when: When,
}

/// The parts a vector is built from; see `super::features` and the stored tokens.
pub(super) struct Parts<'a> {
    pub words: Vec<&'a str>,
    pub entities: Vec<&'a str>,
    pub places: Vec<&'a str>,
    pub concepts: Vec<&'a str>,
    pub topics: Vec<TopicId>,
    pub actor: Option<&'a str>,
    pub head: Vec<&'a str>,
    pub when: When,
}

fn sorted_hashes(names: &[&str]) -> Vec<u64> {
    let mut hashes: Vec<u64> = names.iter().map(|n| hash(n)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Words as (hash, IDF weight), sorted by hash, with their L2 norm.
#[derive(Debug, Clone, PartialEq, Default)]
struct Weighted {
    words: Vec<(u64, f32)>,
    norm: f32,
}

impl Weighted {
    fn new(grouping: &Grouping, words: &[&str]) -> Weighted {
        let mut weighted: Vec<(u64, f32)> = words
            .iter()
            .filter(|w| !w.bytes().all(|b| b.is_ascii_digit()))
            .map(|w| (hash(w), grouping.idf(w)))
            .collect();
        weighted.sort_unstable_by_key(|(h, _)| *h);
        weighted.dedup_by_key(|(h, _)| *h);
        let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        Weighted {
            words: weighted,
            norm,
        }
    }

    fn cosine(&self, other: &Weighted) -> f32 {
        if self.norm == 0.0 || other.norm == 0.0 {
            return 0.0;
        }
        let (a, b) = (&self.words, &other.words);
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        dot / (self.norm * other.norm)
    }
}

impl Vector {
    pub(super) fn new(grouping: &Grouping, parts: Parts<'_>) -> Vector {
        let mut figures: Vec<f64> = parts
            .words
            .iter()
            .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|w| w.parse::<f64>().ok())
            .filter(|value| !(1990.0..=2040.0).contains(value))
            .collect();
        figures.sort_by(f64::total_cmp);
        figures.dedup();
        Vector {
            words: Weighted::new(grouping, &parts.words),
            head: Weighted::new(grouping, &parts.head),
            entities: sorted_hashes(&parts.entities),
            places: sorted_hashes(&parts.places),
            concepts: sorted_hashes(&parts.concepts),
            figures,
            topics: parts.topics,
            actor: parts.actor.map(hash),
            when: parts.when,
        }
    }
}

/// Shared elements of two sorted lists.
fn shared(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}

fn jaccard(a: &[u64], b: &[u64]) -> f32 {
    let both = shared(a, b);
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f32 / either as f32
    }
}

/// Figures that agree: equal, or within 5 % (outlets round "590" and "600 miliardi").
fn shared_figures(a: &[f64], b: &[f64]) -> usize {
    a.iter()
        .filter(|x| {
            b.iter()
                .any(|y| (*x - y).abs() <= 0.05 * x.abs().max(y.abs()))
        })
        .count()
}

/// The pair features of `FEATURES`, in order.
pub fn pair_features(a: &Vector, b: &Vector) -> [f32; FEATURES.len()] {
    let words = a.words.cosine(&b.words);
    let entities = jaccard(&a.entities, &b.entities);
    let figures = shared_figures(&a.figures, &b.figures);
    let figures_disagree = !a.figures.is_empty() && !b.figures.is_empty() && figures == 0;
    let both_topics = !a.topics.is_empty() && !b.topics.is_empty();
    let same_topic = both_topics && a.topics.iter().any(|t| b.topics.contains(t));
    let shared_entities = shared(&a.entities, &b.entities);
    // Both name their companies or chips, and none in common: most often two acts.
    let entities_disagree =
        !a.entities.is_empty() && !b.entities.is_empty() && shared_entities == 0;
    let (log_days, unknown) = match a.when.gap(&b.when) {
        Some(gap) => ((1.0 + gap.num_seconds().max(0) as f32 / 86_400.0).ln(), 0.0),
        None => (0.0, 1.0),
    };
    [
        words,
        entities,
        shared_entities.min(3) as f32,
        jaccard(&a.places, &b.places),
        figures.min(3) as f32,
        f32::from(u8::from(figures_disagree)),
        f32::from(u8::from(same_topic)),
        f32::from(u8::from(both_topics && !same_topic)),
        jaccard(&a.concepts, &b.concepts),
        log_days,
        unknown,
        words * entities,
        f32::from(u8::from(
            matches!((a.actor, b.actor), (Some(x), Some(y)) if x != y),
        )),
        a.head.cosine(&b.head),
        f32::from(u8::from(entities_disagree)),
    ]
}

//! The learned component: one logistic regression per topic over the features of
//! `features.rs` (word stems, concepts, entities, the rules' points), trained on real
//! labelled items by `chipwatch train` (see `crate::learn`) and shipped as data in
//! `config/model.json`. Pure: the model is handed in, never read here.
//!
//! How it joins the rules. For each topic it knows, the model decides: the topic is
//! reported when its probability reaches the threshold chosen at training, whatever the
//! rules said — the rules' points are among its features, so it has learned when to trust
//! them. Topics it does not know stay with the rules. An item with no word of a topic's
//! `context` groups (no chip, no AI) is never given that topic by the model: a policy
//! topic without its subject is about something else, and general news costs nothing.
//! Every decision explains itself: `why` names the strongest features.

use crate::domain::TopicId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The index's keys are xxh3 hashes already: hashing them again (SipHash, the default)
/// would cost more than the rest of a lookup.
#[derive(Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is ever called; fold anything else in all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type FeatureIndex = HashMap<u64, u32, BuildHasherDefault<PassThrough>>;

/// The file format's name and version, checked at load.
pub const FORMAT: &str = "chipwatch-topic-model";
pub const VERSION: u32 = 1;

/// A trained model as stored: feature names, and per topic a bias, a threshold and one
/// weight per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicModel {
    pub format: String,
    pub version: u32,
    /// The rules the model was trained with (see `Rules::fingerprint`): when they change,
    /// the rules' points mean something else and the model should be retrained.
    pub rules_fingerprint: String,
    /// What it was trained on, for the record (`check-config` shows it).
    pub trained_on: TrainedOn,
    pub features: Vec<String>,
    pub topics: Vec<TopicWeights>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainedOn {
    pub items: usize,
    /// Positive items per topic.
    pub positives: Vec<(TopicId, usize)>,
    /// The L2 penalty and the least number of items a feature must occur in.
    pub alpha: f64,
    pub min_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicWeights {
    pub topic: TopicId,
    pub bias: f32,
    /// The probability from which the topic is reported.
    pub threshold: f32,
    /// One per entry of `features`, in the same order.
    pub weights: Vec<f32>,
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a chipwatch topic model: {0}")]
    Json(#[from] serde_json::Error),
    #[error("format {found:?} version {version} is not {FORMAT:?} version {VERSION}")]
    Format { found: String, version: u32 },
    #[error("topic {0:?} is not defined in the topic rules")]
    UnknownTopic(String),
    #[error("topic {topic}: {weights} weights for {features} features")]
    Shape {
        topic: String,
        weights: usize,
        features: usize,
    },
    #[error("topic {topic}: {what} is not a finite number in range")]
    Number { topic: String, what: &'static str },
}

impl TopicModel {
    pub fn from_json(text: &str) -> Result<TopicModel, ModelError> {
        let model: TopicModel = serde_json::from_str(text)?;
        if model.format != FORMAT || model.version != VERSION {
            return Err(ModelError::Format {
                found: model.format,
                version: model.version,
            });
        }
        for topic in &model.topics {
            if topic.weights.len() != model.features.len() {
                return Err(ModelError::Shape {
                    topic: topic.topic.to_string(),
                    weights: topic.weights.len(),
                    features: model.features.len(),
                });
            }
            let number = |what| ModelError::Number {
                topic: topic.topic.to_string(),
                what,
            };
            if !topic.bias.is_finite() {
                return Err(number("bias"));
            }
            if !(topic.threshold > 0.0 && topic.threshold < 1.0) {
                return Err(number("threshold"));
            }
            if topic.weights.iter().any(|w| !w.is_finite()) {
                return Err(number("a weight"));
            }
        }
        Ok(model)
    }

    /// Deterministic JSON: the same model always writes the same bytes.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A model ready to score: feature hashes to indexes, weights laid out feature by feature.
#[derive(Debug)]
pub(crate) struct CompiledModel {
    pub source: TopicModel,
    index: FeatureIndex,
    /// `weights[feature * topics.len() + topic]`.
    weights: Vec<f32>,
    /// For each of the model's topics: its index in the rules, bias, threshold.
    pub topics: Vec<(usize, f32, f32)>,
}

/// One topic's verdict from the model.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub topic: usize,
    pub probability: f32,
    pub threshold: f32,
    /// The strongest features for the topic: (feature index, contribution).
    pub strongest: Vec<(u32, f32)>,
}

/// How many features a reason names.
const REASONS: usize = 3;

pub(crate) fn feature_hash(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

impl CompiledModel {
    /// `topic_index` maps a topic id to its index in the rules.
    pub fn compile(
        model: TopicModel,
        topic_index: impl Fn(&TopicId) -> Option<usize>,
    ) -> Result<Self, ModelError> {
        let mut topics = Vec::new();
        for topic in &model.topics {
            let index = topic_index(&topic.topic)
                .ok_or_else(|| ModelError::UnknownTopic(topic.topic.to_string()))?;
            topics.push((index, topic.bias, topic.threshold));
        }
        let width = model.topics.len();
        let mut weights = vec![0.0; model.features.len() * width];
        for (t, topic) in model.topics.iter().enumerate() {
            for (f, &w) in topic.weights.iter().enumerate() {
                weights[f * width + t] = w;
            }
        }
        let index = model
            .features
            .iter()
            .enumerate()
            .map(|(i, name)| (feature_hash(name), i as u32))
            .collect();
        Ok(Self {
            source: model,
            index,
            weights,
            topics,
        })
    }

    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.index.get(&feature_hash(name)).copied()
    }

    pub fn feature_name(&self, index: u32) -> &str {
        self.source
            .features
            .get(index as usize)
            .map_or("", String::as_str)
    }

    /// Each topic's verdict for the active features (index, value), which must be sorted
    /// by index and hold each index once.
    pub fn verdicts(&self, active: &[(u32, f32)], allowed: impl Fn(usize) -> bool) -> Vec<Verdict> {
        let width = self.topics.len();
        let mut out = Vec::with_capacity(width);
        for (t, &(topic, bias, threshold)) in self.topics.iter().enumerate() {
            if !allowed(topic) {
                continue;
            }
            let mut z = bias;
            let mut strongest: Vec<(u32, f32)> = Vec::with_capacity(REASONS + 1);
            for &(feature, value) in active {
                let contribution = value * self.weights[feature as usize * width + t];
                z += contribution;
                // The few largest positive contributions, kept sorted, largest first.
                if contribution > 0.0 {
                    let at = strongest.partition_point(|&(_, c)| c >= contribution);
                    if at < REASONS {
                        strongest.insert(at, (feature, contribution));
                        strongest.truncate(REASONS);
                    }
                }
            }
            out.push(Verdict {
                topic,
                probability: 1.0 / (1.0 + (-z).exp()),
                threshold,
                strongest,
            });
        }
        out
    }
}

/// A feature as a reader would say it: `word "restri…"`, `concept restrict`,
/// `entity NVIDIA`, `rules export_ban`.
pub(crate) fn describe_feature(name: &str) -> String {
    match name.split_once(':') {
        Some(("w", stem)) => format!("word \"{stem}…\""),
        Some(("c", concept)) => format!("concept {concept}"),
        Some(("e", entity)) => format!("entity {entity}"),
        Some(("k", kind)) => format!("a {kind} named"),
        Some(("s", topic)) => format!("rules for {topic}"),
        _ => name.to_string(),
    }
}

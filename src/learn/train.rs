//! Training: features from the classifier's own extractor, a vocabulary of the features
//! seen in enough items, one L2-regularised logistic regression per labelled topic
//! (linfa-logistic, L-BFGS), and each topic's threshold chosen on out-of-fold
//! probabilities of the training items. Deterministic: the same examples and options give
//! the same model, byte for byte.

use super::{Example, fold_of, labelled_topics};
use crate::classify::{self, ModelError, Rules, TopicModel, TopicWeights, TrainedOn};
use crate::domain::TopicId;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// The L2 penalty (scikit-learn's 1/C).
    pub alpha: f64,
    /// A feature is kept when at least this many training items have it.
    pub min_count: usize,
    /// Folds of the training items whose out-of-fold probabilities choose the thresholds.
    pub threshold_folds: usize,
    /// The threshold maximises F-beta: below 1 precision weighs more than recall.
    pub beta: f64,
    /// A topic needs at least this many positive (and negative) items to be learned.
    pub min_positives: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            min_count: 2,
            threshold_folds: 5,
            beta: 1.0,
            min_positives: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("no labelled items to train on")]
    Empty,
    #[error("no topic has {0} labelled items of its own and {0} without it: nothing to learn")]
    NoTopic(usize),
    #[error("topic {0} is not defined in the topic rules")]
    UnknownTopic(TopicId),
    #[error("cross-validation needs at least 2 folds, not {0}")]
    Folds(usize),
    #[error("logistic regression for {topic}: {message}")]
    Fit { topic: TopicId, message: String },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the stories give no pair of one story and none of two: nothing to learn")]
    Stories,
    #[error("grouping regression: {0}")]
    PairFit(String),
}

/// The examples as rows of named features.
struct Table {
    /// Kept feature names, sorted.
    names: Vec<String>,
    /// Per example, (column, value) of its kept features.
    rows: Vec<Vec<(usize, f32)>>,
}

impl Table {
    fn build(rules: &Rules, examples: &[Example], min_count: usize) -> Table {
        let extracted: Vec<Vec<(String, f32)>> = examples
            .iter()
            .map(|e| classify::features(rules, &e.item()))
            .collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for features in &extracted {
            for (name, _) in features {
                *counts.entry(name.as_str()).or_default() += 1;
            }
        }
        let names: Vec<String> = counts
            .into_iter()
            .filter(|&(_, count)| count >= min_count.max(1))
            .map(|(name, _)| name.to_string())
            .collect();
        let column: BTreeMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let rows = extracted
            .iter()
            .map(|features| {
                features
                    .iter()
                    .filter_map(|(name, value)| column.get(name.as_str()).map(|&c| (c, *value)))
                    .collect()
            })
            .collect();
        Table { names, rows }
    }

    fn matrix(&self, rows: &[usize]) -> Array2<f64> {
        let mut matrix = Array2::zeros((rows.len(), self.names.len()));
        for (r, &row) in rows.iter().enumerate() {
            for &(column, value) in &self.rows[row] {
                matrix[[r, column]] = f64::from(value);
            }
        }
        matrix
    }
}

/// Weights and bias of one topic's regression.
struct Fitted {
    weights: Vec<f64>,
    bias: f64,
}

impl Fitted {
    fn probability(&self, row: &[(usize, f32)]) -> f64 {
        let z = self.bias
            + row
                .iter()
                .map(|&(c, v)| self.weights[c] * f64::from(v))
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

fn fit(
    table: &Table,
    rows: &[usize],
    targets: &[bool],
    topic: &TopicId,
    alpha: f64,
) -> Result<Fitted, LearnError> {
    let failed = |message: String| LearnError::Fit {
        topic: topic.clone(),
        message,
    };
    // One class only: no regression to fit; a constant says it.
    if targets.iter().all(|&t| t) || targets.iter().all(|&t| !t) {
        let bias = if targets.first().copied().unwrap_or(false) {
            10.0
        } else {
            -10.0
        };
        return Ok(Fitted {
            weights: vec![0.0; table.names.len()],
            bias,
        });
    }
    let dataset = Dataset::new(table.matrix(rows), Array1::from(targets.to_vec()));
    let fitted = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(500)
        .gradient_tolerance(1e-6)
        .fit(&dataset)
        .map_err(|e| failed(e.to_string()))?;
    // linfa labels the larger class (`true`) +1: its parameters give P(true).
    let positive_is_true = fitted.labels().pos.class;
    let sign = if positive_is_true { 1.0 } else { -1.0 };
    Ok(Fitted {
        weights: fitted.params().iter().map(|w| sign * w).collect(),
        bias: sign * fitted.intercept(),
    })
}

/// The threshold in 0.05..=0.95 (steps of 0.025) with the best F-beta on these
/// probabilities; ties go to the higher threshold (fewer alerts).
fn best_threshold(probabilities: &[f64], targets: &[bool], beta: f64) -> f64 {
    let beta2 = beta * beta;
    let mut best = (f64::MIN, 0.5);
    // Fortieths, so that 0.6 is 0.6 and not 0.6000000000000001.
    for step in 2..=38 {
        let threshold = f64::from(step) / 40.0;
        let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
        for (&p, &t) in probabilities.iter().zip(targets) {
            match (p >= threshold, t) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                (false, false) => {}
            }
        }
        let score = if tp == 0.0 {
            0.0
        } else {
            (1.0 + beta2) * tp / ((1.0 + beta2) * tp + beta2 * fn_ + fp)
        };
        if score >= best.0 {
            best = (score, threshold);
        }
    }
    best.1
}

/// Trains a model for every topic the examples are labelled with (enough of them, see
/// `TrainOptions::min_positives`), reading features with `rules`.
pub fn train(
    rules: &Rules,
    examples: &[Example],
    options: &TrainOptions,
) -> Result<TopicModel, LearnError> {
    if examples.is_empty() {
        return Err(LearnError::Empty);
    }
    // 1. The topics to learn: labelled in the data, defined in the rules, with enough of both.
    let mut topics = Vec::new();
    for topic in labelled_topics(examples) {
        if rules.topic(topic.as_str()).is_none() {
            return Err(LearnError::UnknownTopic(topic));
        }
        let positives = examples
            .iter()
            .filter(|e| e.labels.contains(&topic))
            .count();
        let negatives = examples.len() - positives;
        if positives >= options.min_positives && negatives >= options.min_positives {
            topics.push((topic, positives));
        }
    }
    if topics.is_empty() {
        return Err(LearnError::NoTopic(options.min_positives));
    }
    // 2. Features and vocabulary.
    let table = Table::build(rules, examples, options.min_count);
    let all: Vec<usize> = (0..examples.len()).collect();
    let mut weights = Vec::new();
    for (topic, _) in &topics {
        let targets: Vec<bool> = examples.iter().map(|e| e.labels.contains(topic)).collect();
        // 3. The threshold, from out-of-fold probabilities of the training items.
        let k = options.threshold_folds.max(2);
        let mut out_of_fold = vec![0.0; examples.len()];
        for fold in 0..k {
            let (held, rest): (Vec<usize>, Vec<usize>) = all
                .iter()
                .partition(|&&i| fold_of(&examples[i].id, k, "threshold") == fold);
            if held.is_empty() || rest.is_empty() {
                continue;
            }
            let rest_targets: Vec<bool> = rest.iter().map(|&i| targets[i]).collect();
            let fitted = fit(&table, &rest, &rest_targets, topic, options.alpha)?;
            for i in held {
                out_of_fold[i] = fitted.probability(&table.rows[i]);
            }
        }
        let threshold = best_threshold(&out_of_fold, &targets, options.beta);
        // 4. The model itself, on every training item.
        let fitted = fit(&table, &all, &targets, topic, options.alpha)?;
        weights.push(TopicWeights {
            topic: topic.clone(),
            bias: fitted.bias as f32,
            threshold: threshold as f32,
            weights: fitted.weights.iter().map(|&w| w as f32).collect(),
        });
    }
    Ok(TopicModel {
        format: classify::MODEL_FORMAT.to_string(),
        version: classify::MODEL_VERSION,
        rules_fingerprint: rules.fingerprint().to_string(),
        trained_on: TrainedOn {
            items: examples.len(),
            positives: topics,
            alpha: options.alpha,
            min_count: options.min_count,
        },
        features: table.names,
        topics: weights,
    })
}

#[cfg(test)]
mod tests {
    use super::best_threshold;

    #[test]
    fn the_threshold_is_the_one_with_the_best_f_beta_and_ties_go_up() {
        let probabilities = [0.9, 0.8, 0.6, 0.4, 0.3, 0.1];
        let targets = [true, true, true, false, false, false];
        // Any threshold in (0.4, 0.6] separates them; the highest such step wins.
        assert!((best_threshold(&probabilities, &targets, 1.0) - 0.6).abs() < 1e-9);
        // A lone positive far down: recall-leaning beta reaches for it, precision does not.
        let probabilities = [0.9, 0.8, 0.15, 0.5, 0.4];
        let targets = [true, true, true, false, false];
        let recall_first = best_threshold(&probabilities, &targets, 3.0);
        let precision_first = best_threshold(&probabilities, &targets, 0.5);
        assert!(recall_first <= 0.15 + 1e-9, "{recall_first}");
        assert!(precision_first > 0.5, "{precision_first}");
    }
}

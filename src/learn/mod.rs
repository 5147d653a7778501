//! Pure: training the learned topic model (`classify::TopicModel`) on labelled items, and
//! judging a classifier on them — per-topic and relevance precision, recall and F1, with
//! K-fold cross-validation so that a score is never read on the text it was trained on.
//! No I/O: the command line reads the files and hands the examples in.

mod metrics;
pub mod stories;
mod train;

#[cfg(test)]
mod tests;

pub use metrics::{Counts, ErrorCase, Report, Scores};
pub use train::{LearnError, TrainOptions, train};

use crate::classify::{self, ItemText, Rules};
use crate::domain::{Lang, TopicId, stable_hash};
use std::collections::BTreeSet;

/// One labelled item. `labels` empty means "none of the topics".
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: String,
    pub title: String,
    pub text: String,
    pub lang: Option<Lang>,
    pub labels: BTreeSet<TopicId>,
}

impl Example {
    fn item(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            text: &self.text,
            lang: self.lang,
        }
    }

    pub fn titled(&self) -> bool {
        !self.title.trim().is_empty()
    }
}

/// The topics a data set is labelled for: every topic some example carries.
pub fn labelled_topics(examples: &[Example]) -> Vec<TopicId> {
    let topics: BTreeSet<&TopicId> = examples.iter().flat_map(|e| &e.labels).collect();
    topics.into_iter().cloned().collect()
}

/// The fold (0..k) an example falls in: a stable hash of its id, so the folds are the same
/// on every run and machine. `salt` draws a different split (the inner folds of training).
pub fn fold_of(id: &str, k: usize, salt: &str) -> usize {
    (stable_hash(&[salt, id]) % k.max(1) as u64) as usize
}

/// The K folds of cross-validation, as (held-out indexes, training indexes): every example
/// is held out in exactly one fold and trains the others. Empty folds are left out.
pub fn folds(examples: &[Example], k: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    (0..k)
        .map(|fold| (0..examples.len()).partition(|&i| fold_of(&examples[i].id, k, "") == fold))
        .filter(|(held, _): &(Vec<usize>, Vec<usize>)| !held.is_empty())
        .collect()
}

/// What the classifier (rules, and the model if one is attached) says of each example:
/// the topics it reports.
pub fn predict(rules: &Rules, examples: &[Example]) -> Vec<BTreeSet<TopicId>> {
    examples
        .iter()
        .map(|example| {
            classify::classify(rules, &example.item())
                .topics
                .into_iter()
                .map(|t| t.topic)
                .collect()
        })
        .collect()
}

/// K-fold cross-validation: for each fold, a model trained on the other folds (with
/// `options`) is attached to `rules` and classifies the fold's examples. Every prediction
/// comes from a model that never saw the example. `rules` ends with no model attached.
pub fn cross_validate(
    rules: &mut Rules,
    examples: &[Example],
    k: usize,
    options: &TrainOptions,
) -> Result<Vec<BTreeSet<TopicId>>, LearnError> {
    if k < 2 {
        return Err(LearnError::Folds(k));
    }
    let mut predictions = vec![BTreeSet::new(); examples.len()];
    for (held, training) in folds(examples, k) {
        let training: Vec<Example> = training.iter().map(|&i| examples[i].clone()).collect();
        rules.set_model(None)?;
        let model = train(rules, &training, options)?;
        rules.set_model(Some(model))?;
        let held_examples: Vec<Example> = held.iter().map(|&i| examples[i].clone()).collect();
        for (index, predicted) in held.into_iter().zip(predict(rules, &held_examples)) {
            predictions[index] = predicted;
        }
    }
    rules.set_model(None)?;
    Ok(predictions)
}

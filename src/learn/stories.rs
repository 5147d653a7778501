//! Training and judging the grouping model (`events::GroupingModel`) on real stories:
//! document frequencies of the stemmed words over real text, a logistic regression over
//! the pair features of every two items (same story or not), and the joining threshold
//! chosen by cross-validation over stories, so the threshold is never read on the stories
//! it is judged on. Deterministic for a given input.

use super::train::LearnError;
use crate::domain::{Classification, Item, stable_hash};
use crate::events::{
    Batch, EventParams, FEATURES, GROUPING_FORMAT, GROUPING_VERSION, Grouping, GroupingModel,
    GroupingTrainedOn, When, pair_features, processing_order, vector,
};
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One item of a story set, classified already.
#[derive(Debug, Clone)]
pub struct StoryItem {
    pub id: String,
    pub story: String,
    pub item: Item,
    pub classification: Classification,
    pub when: When,
    /// Ordinary news that belongs to no story (its own): it teaches that items arriving at
    /// the same time as a story, with nothing in common, are not of it. Two such items are
    /// never paired with each other in training (nothing to learn there, and many pairs).
    pub noise: bool,
}

#[derive(Debug, Clone)]
pub struct StoryOptions {
    /// The L2 penalty of the pair regression.
    pub alpha: f64,
    /// Folds over the training stories that choose the joining threshold.
    pub threshold_folds: usize,
    /// The threshold maximises pairwise F-beta over those folds (below 1: precision
    /// weighs more, as a wrong merge costs a chat the first alert of the second story).
    pub beta: f64,
    /// The window and opposed topics the grouping runs with (from config).
    pub params: EventParams,
}

/// The fold (0..k) of a story: a stable hash of its name.
pub fn story_fold(story: &str, k: usize, salt: &str) -> usize {
    (stable_hash(&[salt, story]) % k.max(1) as u64) as usize
}

/// Stemmed words of an item, as the grouping reads them: one document of the IDF count.
pub fn document(item: &Item, classification: &Classification) -> BTreeSet<String> {
    crate::events::features(item, classification).tokens
}

/// Document frequencies over `documents`, kept for stems in at least two.
fn frequencies(documents: &[&BTreeSet<String>]) -> BTreeMap<String, u32> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for document in documents {
        for stem in document.iter() {
            // Figures are compared as numbers, not weighed as words.
            if !stem.bytes().all(|b| b.is_ascii_digit()) {
                *counts.entry(stem.clone()).or_default() += 1;
            }
        }
    }
    counts.retain(|_, count| *count >= 2);
    counts
}

/// A model with these frequencies and no weights yet: what pair features are read with.
fn bare(frequencies: BTreeMap<String, u32>, documents: usize) -> GroupingModel {
    GroupingModel {
        format: GROUPING_FORMAT.into(),
        version: GROUPING_VERSION,
        trained_on: GroupingTrainedOn::default(),
        idf_documents: documents as u32,
        document_frequency: frequencies,
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        weights: vec![0.0; FEATURES.len()],
        bias: 0.0,
        min_score: 0.5,
    }
}

fn params_with(template: &EventParams, model: GroupingModel) -> EventParams {
    let mut params = template.clone();
    params.min_score = model.min_score;
    params.grouping = Arc::new(Grouping::new(model));
    params
}

/// The pair regression on every two of `items`: its weights and bias.
fn fit_pairs(
    items: &[&StoryItem],
    params: &EventParams,
    alpha: f64,
) -> Result<(Vec<f32>, f32, usize), LearnError> {
    let vectors: Vec<_> = items
        .iter()
        .map(|s| vector(params, &s.item, &s.classification, s.when))
        .collect();
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            if items[i].noise && items[j].noise {
                continue;
            }
            let features = pair_features(&vectors[i], &vectors[j]);
            let same = items[i].story == items[j].story;
            rows.extend(features.map(f64::from));
            targets.push(same);
            // Different developments happen on the same day too (two export bans, in two
            // countries, in one morning's feeds), yet the stories seldom show it: each
            // pair of two stories is also learned as if it were on the same day, so that
            // being close in time and of one topic never suffices without content.
            if !same {
                let mut same_day = features;
                same_day[DAYS] = 0.0;
                same_day[UNKNOWN] = 0.0;
                rows.extend(same_day.map(f64::from));
                targets.push(false);
            }
        }
    }
    let pairs = targets.len();
    if targets.iter().all(|&t| t) || targets.iter().all(|&t| !t) {
        return Err(LearnError::Stories);
    }
    let matrix = Array2::from_shape_vec((pairs, FEATURES.len()), rows)
        .map_err(|e| LearnError::PairFit(e.to_string()))?;
    let fitted = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(500)
        .gradient_tolerance(1e-6)
        .fit(&Dataset::new(matrix, Array1::from(targets)))
        .map_err(|e| LearnError::PairFit(e.to_string()))?;
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let weights = fitted.params().iter().map(|w| (sign * w) as f32).collect();
    Ok((weights, (sign * fitted.intercept()) as f32, pairs))
}

/// The indexes of the time features in `FEATURES`.
const DAYS: usize = 9;
const UNKNOWN: usize = 10;

/// Groups `items` with `params` and returns their events, in the items' order.
pub fn group(items: &[&StoryItem], params: &EventParams) -> Vec<String> {
    let whens: Vec<When> = items.iter().map(|s| s.when).collect();
    let mut batch = Batch::new(params.clone());
    let mut events = vec![String::new(); items.len()];
    for index in processing_order(&whens) {
        let s = items[index];
        events[index] = batch.place(&s.item, &s.classification, s.when).to_string();
    }
    events
}

/// Pairwise true positives, false positives and false negatives of a grouping.
fn pair_counts(items: &[&StoryItem], events: &[String]) -> (u64, u64, u64) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let together = events[i] == events[j];
            let same = items[i].story == items[j].story;
            tp += u64::from(together && same);
            fp += u64::from(together && !same);
            fn_ += u64::from(!together && same);
        }
    }
    (tp, fp, fn_)
}

/// The candidate joining thresholds: finer where probabilities are small (with much
/// ordinary news among the training pairs, same-story pairs score low too).
fn thresholds() -> impl Iterator<Item = f32> {
    [0.01, 0.02, 0.03, 0.05, 0.07]
        .into_iter()
        .chain((2..20).map(|step| step as f32 / 20.0))
}

/// Trains a grouping model on `items` (their stories), with document frequencies over
/// their own words and `texts` (more real text, unlabelled).
pub fn train_grouping(
    items: &[StoryItem],
    texts: &[BTreeSet<String>],
    options: &StoryOptions,
) -> Result<GroupingModel, LearnError> {
    if items.is_empty() {
        return Err(LearnError::Empty);
    }
    // 1. Document frequencies over every text at hand.
    let own: Vec<BTreeSet<String>> = items
        .iter()
        .map(|s| document(&s.item, &s.classification))
        .collect();
    let documents: Vec<&BTreeSet<String>> = own.iter().chain(texts).collect();
    let base = bare(frequencies(&documents), documents.len());
    let reading = params_with(&options.params, base.clone());
    // 2. The joining threshold: grouping each inner fold of stories with a regression
    //    trained on the others, the threshold with the best pairwise F-beta over all folds.
    let k = options.threshold_folds.max(2);
    let mut totals: Vec<(f32, (u64, u64, u64))> = thresholds().map(|t| (t, (0, 0, 0))).collect();
    for fold in 0..k {
        let (held, rest): (Vec<&StoryItem>, Vec<&StoryItem>) = items
            .iter()
            .partition(|s| story_fold(&s.story, k, "threshold") == fold);
        if held.is_empty() || rest.is_empty() {
            continue;
        }
        let Ok((weights, bias, _)) = fit_pairs(&rest, &reading, options.alpha) else {
            continue;
        };
        for (threshold, total) in totals.iter_mut() {
            let mut model = base.clone();
            model.weights = weights.clone();
            model.bias = bias;
            model.min_score = *threshold;
            let events = group(&held, &params_with(&options.params, model));
            let (tp, fp, fn_) = pair_counts(&held, &events);
            total.0 += tp;
            total.1 += fp;
            total.2 += fn_;
        }
    }
    let b2 = options.beta * options.beta;
    let f_beta = |(tp, fp, fn_): (u64, u64, u64)| {
        if tp == 0 {
            0.0
        } else {
            let tp = (1.0 + b2) * tp as f64;
            tp / (tp + b2 * fn_ as f64 + fp as f64)
        }
    };
    // Ties go to the higher threshold: fewer wrong merges.
    let min_score = totals
        .iter()
        .fold((f64::MIN, 0.5), |best, &(t, counts)| {
            let score = f_beta(counts);
            if score >= best.0 { (score, t) } else { best }
        })
        .1;
    // 3. The regression on every pair of the training items.
    let all: Vec<&StoryItem> = items.iter().collect();
    let (weights, bias, pairs) = fit_pairs(&all, &reading, options.alpha)?;
    let stories: BTreeSet<&str> = items
        .iter()
        .filter(|s| !s.noise)
        .map(|s| s.story.as_str())
        .collect();
    Ok(GroupingModel {
        trained_on: GroupingTrainedOn {
            items: items.iter().filter(|s| !s.noise).count(),
            noise: items.iter().filter(|s| s.noise).count(),
            stories: stories.len(),
            pairs,
            alpha: options.alpha,
        },
        weights,
        bias,
        min_score,
        ..base
    })
}

/// Cross-validation by story: each fold's items grouped by a model trained on the other
/// folds' stories (and `texts`). Returns each item's event, unique across folds.
pub fn cross_validate_stories(
    items: &[StoryItem],
    texts: &[BTreeSet<String>],
    k: usize,
    options: &StoryOptions,
) -> Result<Vec<String>, LearnError> {
    if k < 2 {
        return Err(LearnError::Folds(k));
    }
    let mut events = vec![String::new(); items.len()];
    for fold in 0..k {
        let (held, rest): (Vec<usize>, Vec<usize>) =
            (0..items.len()).partition(|&i| story_fold(&items[i].story, k, "") == fold);
        if held.is_empty() {
            continue;
        }
        let training: Vec<StoryItem> = rest.iter().map(|&i| items[i].clone()).collect();
        let model = train_grouping(&training, texts, options)?;
        let params = params_with(&options.params, model);
        let held_items: Vec<&StoryItem> = held.iter().map(|&i| &items[i]).collect();
        for (index, event) in held.iter().zip(group(&held_items, &params)) {
            events[*index] = format!("{fold}:{event}");
        }
    }
    Ok(events)
}

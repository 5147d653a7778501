//! Judging topic predictions against labels: per topic, for relevance (any of the judged
//! topics), and for alerts on items labelled none (any topic at all, as a user would be
//! alerted), with the list of errors.

use super::Example;
use crate::domain::TopicId;
use serde::Serialize;
use std::collections::BTreeSet;

/// True and false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    pub fn scores(&self) -> Scores {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(self.tp, self.tp + self.fp);
        let recall = ratio(self.tp, self.tp + self.fn_);
        let f1 = crate::events::quality::f1(precision, recall);
        Scores {
            precision,
            recall,
            f1,
            support: self.tp + self.fn_,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Items that carry the label.
    pub support: usize,
}

/// One misjudged item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorCase {
    pub id: String,
    pub labels: Vec<TopicId>,
    pub predicted: Vec<TopicId>,
}

/// Scores of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub items: usize,
    /// Per judged topic, in name order.
    pub topics: Vec<(TopicId, Scores)>,
    pub macro_f1: f64,
    /// An item is relevant when it carries (or is given) any judged topic.
    pub relevance: Scores,
    /// Items labelled none that were given a judged topic (a false alert), and how many
    /// items were labelled none.
    pub false_alerts: usize,
    pub none_items: usize,
    /// Items labelled none given only topics the labels do not judge (tariffs, say): not
    /// errors of the labels' topics, but alerts all the same for a user who follows those.
    pub other_topic_alerts: usize,
    pub errors: Vec<ErrorCase>,
}

impl Report {
    /// Judges `predicted` (one set per example) on `topics`.
    pub fn new(
        examples: &[&Example],
        predicted: &[&BTreeSet<TopicId>],
        topics: &[TopicId],
    ) -> Report {
        let mut per_topic = vec![Counts::default(); topics.len()];
        let mut relevance = Counts::default();
        let (mut false_alerts, mut none_items, mut other_topic_alerts) = (0, 0, 0);
        let mut errors = Vec::new();
        for (example, predicted) in examples.iter().zip(predicted) {
            for (counts, topic) in per_topic.iter_mut().zip(topics) {
                counts.add(predicted.contains(topic), example.labels.contains(topic));
            }
            let judged = |set: &BTreeSet<TopicId>| topics.iter().any(|t| set.contains(t));
            relevance.add(judged(predicted), judged(&example.labels));
            if example.labels.is_empty() {
                none_items += 1;
                if judged(predicted) {
                    false_alerts += 1;
                } else if !predicted.is_empty() {
                    other_topic_alerts += 1;
                }
            }
            let predicted_judged: BTreeSet<&TopicId> =
                predicted.iter().filter(|t| topics.contains(t)).collect();
            if predicted_judged != example.labels.iter().collect() {
                errors.push(ErrorCase {
                    id: example.id.clone(),
                    labels: example.labels.iter().cloned().collect(),
                    predicted: predicted.iter().cloned().collect(),
                });
            }
        }
        let topics: Vec<(TopicId, Scores)> = topics
            .iter()
            .cloned()
            .zip(per_topic.iter().map(Counts::scores))
            .collect();
        let macro_f1 = if topics.is_empty() {
            0.0
        } else {
            topics.iter().map(|(_, s)| s.f1).sum::<f64>() / topics.len() as f64
        };
        Report {
            items: examples.len(),
            topics,
            macro_f1,
            relevance: relevance.scores(),
            false_alerts,
            none_items,
            other_topic_alerts,
            errors,
        }
    }
}

//! Grouping judged on labelled fixtures: real-looking reports of the same stories by several
//! outlets (Italian and English) plus distractors on the same entities, each with a gold
//! `story`. Items are classified with the real rules, taken in `processing_order`, and the
//! grouping is scored pairwise: over all pairs of items, precision is the share of pairs put
//! in one event that share a gold story, recall the share of same-story pairs put in one
//! event. An irrelevant item is an event of its own.
//!
//! Tuned on: `dev.jsonl`, `heldout.jsonl` (its errors have been studied) and `tune.jsonl`.
//! Blind: `blind.jsonl`, written by someone who had not read the code, committed before the
//! grouping it measures, never tuned on; its events are not printed. Besides the pairwise
//! scores over all items, each set reports them over the items the classifier finds
//! relevant ("relevant only"): what the grouping itself does with what it is given.
//! Floors sit just under what the grouping reaches (see README).

use super::{Batch, EventParams, processing_order};
use crate::classify::{self, ItemText, Rules};
use crate::domain::{FeedId, Item, ItemId, Lang, stable_hash};
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Labelled {
    id: String,
    story: String,
    outlet: String,
    title: String,
    text: String,
    url: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

fn rules() -> Rules {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let text = std::fs::read_to_string(path).expect("read config/topics.toml");
    Rules::from_toml(&text).expect("valid topic rules")
}

fn load(name: &str) -> Vec<Labelled> {
    let path = format!("{}/tests/data/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read fixture");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}:{}: {e}", n + 1))
        })
        .collect()
}

/// The event each item is put in (`None`: irrelevant), in fixture order.
fn group(rows: &[Labelled], params: &EventParams) -> Vec<Option<String>> {
    let rules = rules();
    let dates: Vec<Option<DateTime<Utc>>> = rows
        .iter()
        .map(|row| {
            row.published.as_deref().map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .unwrap_or_else(|e| panic!("{}: bad date {raw}: {e}", row.id))
                    .with_timezone(&Utc)
            })
        })
        .collect();
    let mut batch = Batch::new(params.clone());
    let mut events = vec![None; rows.len()];
    for (index, time) in processing_order(&dates) {
        let row = &rows[index];
        let lang = row.lang.as_deref().and_then(Lang::parse);
        let classification = classify::classify(
            &rules,
            &ItemText {
                title: &row.title,
                text: &row.text,
                lang,
            },
        );
        let item = Item {
            id: ItemId(stable_hash(&[&row.id])),
            feed: FeedId::parse("fixture").expect("a valid slug"),
            outlet: row.outlet.clone(),
            title: row.title.clone(),
            summary: row.text.clone(),
            link: Some(row.url.clone()),
            published: dates[index],
            first_seen: time,
            lang: lang
                .unwrap_or_else(|| classify::detect_lang(&format!("{} {}", row.title, row.text))),
        };
        events[index] = batch.place(&item, &classification).map(|id| id.to_string());
    }
    events
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct PairScores {
    precision: f64,
    recall: f64,
}

/// Pairwise precision and recall of `predicted` events against `gold` stories.
fn pair_scores(predicted: &[Option<String>], gold: &[&str]) -> PairScores {
    let (mut both, mut predicted_pairs, mut gold_pairs) = (0u32, 0u32, 0u32);
    for i in 0..gold.len() {
        for j in i + 1..gold.len() {
            let same_event = predicted[i].is_some() && predicted[i] == predicted[j];
            let same_story = gold[i] == gold[j];
            predicted_pairs += u32::from(same_event);
            gold_pairs += u32::from(same_story);
            both += u32::from(same_event && same_story);
        }
    }
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            1.0
        } else {
            f64::from(a) / f64::from(b)
        }
    };
    PairScores {
        precision: ratio(both, predicted_pairs),
        recall: ratio(both, gold_pairs),
    }
}

/// Groups a fixture, prints each event (unless `blind`) and the scores (seen with
/// `--nocapture`); returns the scores over all items and over the relevant ones.
fn evaluate(name: &str, blind: bool) -> (PairScores, PairScores) {
    let rows = load(name);
    let predicted = group(&rows, &EventParams::default());
    let gold: Vec<&str> = rows.iter().map(|row| row.story.as_str()).collect();
    let scores = pair_scores(&predicted, &gold);
    let relevant: Vec<usize> = (0..rows.len())
        .filter(|&i| predicted[i].is_some())
        .collect();
    let relevant_scores = pair_scores(
        &relevant
            .iter()
            .map(|&i| predicted[i].clone())
            .collect::<Vec<_>>(),
        &relevant.iter().map(|&i| gold[i]).collect::<Vec<_>>(),
    );
    let mut events: Vec<&str> = predicted.iter().flatten().map(String::as_str).collect();
    events.sort_unstable();
    events.dedup();
    if blind {
        events.clear();
    }
    for event in events {
        let members: Vec<String> = rows
            .iter()
            .zip(&predicted)
            .filter(|(_, e)| e.as_deref() == Some(event))
            .map(|(row, _)| format!("{}:{}", row.id, row.story))
            .collect();
        println!("{name} {event}: {}", members.join(" "));
    }
    let unplaced: Vec<&str> = rows
        .iter()
        .zip(&predicted)
        .filter(|(_, e)| e.is_none())
        .map(|(row, _)| row.id.as_str())
        .collect();
    if !blind {
        println!("{name} irrelevant: {}", unplaced.join(" "));
    }
    println!(
        "{name}: {} items, pairwise precision {:.3}, recall {:.3}; relevant only ({} items) \
         precision {:.3}, recall {:.3}",
        rows.len(),
        scores.precision,
        scores.recall,
        relevant.len(),
        relevant_scores.precision,
        relevant_scores.recall
    );
    (scores, relevant_scores)
}

#[test]
fn pair_scores_count_pairs() {
    let some = |s: &str| Some(s.to_string());
    // Gold {a,a,b}; predicted {x,x,x}: 1 of 3 predicted pairs right, the 1 gold pair found.
    let scores = pair_scores(&[some("x"), some("x"), some("x")], &["a", "a", "b"]);
    assert_eq!(scores.precision, 1.0 / 3.0);
    assert_eq!(scores.recall, 1.0);
    // Irrelevant items (None) are never one event with anything, not even each other.
    let scores = pair_scores(&[None, None, some("y")], &["a", "a", "b"]);
    assert_eq!(scores.recall, 0.0);
}

#[test]
fn grouping_of_the_development_fixture_meets_its_floors() {
    // Reached: precision 1.000, recall 0.927 (57 items, 10 stories, 8 distractors).
    let (scores, _) = evaluate("dev.jsonl", false);
    assert!(scores.precision >= 0.97, "precision {scores:?}");
    assert!(scores.recall >= 0.90, "recall {scores:?}");
}

#[test]
fn grouping_of_the_held_out_fixture_meets_its_floors() {
    // Reached: precision 0.862, recall 0.781 (22 items, 4 stories, 4 distractors).
    let (scores, _) = evaluate("heldout.jsonl", false);
    assert!(scores.precision >= 0.84, "precision {scores:?}");
    assert!(scores.recall >= 0.75, "recall {scores:?}");
}

#[test]
fn grouping_of_the_tuning_fixture_meets_its_floors() {
    // Reached: precision 1.000, recall 0.577; relevant only 1.000 and 0.811 (75 items, 12
    // stories, 20 distractors; three stories are of no topic, so recall over all items is
    // capped).
    let (scores, relevant) = evaluate("tune.jsonl", false);
    assert!(scores.precision >= 0.97, "precision {scores:?}");
    assert!(relevant.recall >= 0.78, "recall {relevant:?}");
}

#[test]
fn grouping_of_the_blind_fixture_meets_its_floors() {
    // Reached: precision 0.935, recall 0.302; relevant only 0.935 and 0.453 (72 items, 12
    // stories, 18 distractors). Before concepts and numbers: precision 1.000, recall 0.240.
    let (scores, relevant) = evaluate("blind.jsonl", true);
    assert!(scores.precision >= 0.90, "precision {scores:?}");
    assert!(relevant.recall >= 0.42, "recall {relevant:?}");
}

//! Grouping judged on the project's own fixtures: reports of the same stories by several
//! outlets (Italian and English, written by us) plus distractors on the same entities,
//! each with a gold `story`. Never evidence of quality — that is measured on real text
//! (`chipwatch eval stories`, README "Event grouping") — but a change that loses what
//! these show fails here. Items are classified with the shipped rules and model, grouped
//! with the shipped grouping model in `processing_order`, and scored pairwise over all
//! items (every item is in an event).
//!
//! `blind.jsonl` was written by someone who had not read the code and is never tuned on;
//! its events are not printed. Floors sit under what the grouping reaches (see README).

use super::quality::{self, StoryReport};
use super::{Batch, EventParams, When, processing_order};
use crate::classify::{self, ItemText, Rules, TopicModel};
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

/// The shipped rules and topic model, as `chipwatch run` classifies.
fn rules() -> Rules {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/config/topics.toml")).expect("rules");
    let model = std::fs::read_to_string(format!("{root}/config/model.json")).expect("model");
    Rules::from_toml(&text)
        .expect("valid topic rules")
        .with_model(TopicModel::from_json(&model).expect("a model"))
        .expect("the model fits the rules")
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

/// The event each item is put in, in fixture order.
fn group(rows: &[Labelled], params: &EventParams) -> Vec<String> {
    let rules = rules();
    let whens: Vec<When> = rows
        .iter()
        .map(|row| match row.published.as_deref() {
            Some(raw) => When::Exact(
                DateTime::parse_from_rfc3339(raw)
                    .unwrap_or_else(|e| panic!("{}: bad date {raw}: {e}", row.id))
                    .with_timezone(&Utc),
            ),
            None => When::Unknown,
        })
        .collect();
    let mut batch = Batch::new(params.clone());
    let mut events = vec![String::new(); rows.len()];
    for index in processing_order(&whens) {
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
        let at = whens[index].middle().unwrap_or(DateTime::UNIX_EPOCH);
        let item = Item {
            id: ItemId(stable_hash(&[&row.id])),
            feed: FeedId::parse("fixture").expect("a valid slug"),
            outlet: row.outlet.clone(),
            title: row.title.clone(),
            summary: row.text.clone(),
            link: Some(row.url.clone()),
            published: whens[index].middle(),
            first_seen: at,
            lang: lang
                .unwrap_or_else(|| classify::detect_lang(&format!("{} {}", row.title, row.text))),
        };
        events[index] = batch
            .place(&item, &classification, whens[index])
            .to_string();
    }
    events
}

/// Groups a fixture, prints each event (unless `blind`) and the scores (seen with
/// `--nocapture`).
fn evaluate(name: &str, blind: bool) -> StoryReport {
    let rows = load(name);
    let events = group(&rows, &EventParams::default());
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let stories: Vec<String> = rows.iter().map(|r| r.story.clone()).collect();
    let report = quality::judge(&ids, &events, &stories);
    if !blind {
        for mix in report.splits.iter().chain(&report.merges) {
            println!("{name} {}: {:?}", mix.name, mix.parts);
        }
    }
    println!(
        "{name}: {} items, {} stories, {} events; pairwise P {:.3} R {:.3} F1 {:.3}; \
         B-cubed F1 {:.3}",
        report.items,
        report.stories,
        report.events,
        report.pairwise.precision,
        report.pairwise.recall,
        report.pairwise.f1,
        report.bcubed.f1
    );
    report
}

fn check(name: &str, blind: bool, precision: f64, recall: f64) {
    let report = evaluate(name, blind);
    assert!(
        report.pairwise.precision >= precision && report.pairwise.recall >= recall,
        "{name}: pairwise {:?} under the floors ({precision}, {recall})",
        report.pairwise
    );
}

#[test]
fn grouping_of_the_development_fixture_meets_its_floors() {
    check("dev.jsonl", false, FLOORS[0].0, FLOORS[0].1);
}

#[test]
fn grouping_of_the_held_out_fixture_meets_its_floors() {
    check("heldout.jsonl", false, FLOORS[1].0, FLOORS[1].1);
}

#[test]
fn grouping_of_the_tuning_fixture_meets_its_floors() {
    check("tune.jsonl", false, FLOORS[2].0, FLOORS[2].1);
}

#[test]
fn grouping_of_the_blind_fixture_meets_its_floors() {
    check("blind.jsonl", true, FLOORS[3].0, FLOORS[3].1);
}
/// (pairwise precision, recall) floors of dev, heldout, tune and blind: self-written
/// sentences, so a guard against regressions and no measure of quality (that is
/// `chipwatch eval stories --folds`, on real stories; see README, "Event grouping").
/// Reached with the shipped grouping model: dev .904 / .979, heldout .711 / 1.000, tune
/// .748 / .885, blind .872 / .708. What it loses is precision on same-day items about
/// the same company that these fixtures hold apart on purpose (an earnings note beside a
/// licence), and, since it never joins two reports that name only different companies or
/// chips, recall where one report names the chip and another only the company.
const FLOORS: [(f64, f64); 4] = [(0.88, 0.95), (0.68, 0.95), (0.72, 0.85), (0.85, 0.68)];

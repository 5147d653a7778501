//! The labelled sets under `tests/data/classify/`. Tuned on: `dev.jsonl`, `tune.jsonl` and
//! `holdout.jsonl` (the first held-out set: its errors were studied in a later round, so it
//! is no longer blind). Blind: `holdout2.jsonl`, written from the topic definitions by
//! someone who had not read the rules, committed before the rules it measures, never tuned
//! on; its misclassified items are not printed. Per-topic precision, recall and F1 for each
//! set with floors, and the three seed articles.

use super::{ItemText, Lang, Rules, TopicModel, classify};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Debug, Deserialize)]
struct DevItem {
    id: String,
    title: String,
    text: String,
    #[serde(default)]
    lang: Option<String>,
    topics: Vec<String>,
}

fn load_rules() -> Rules {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let text = std::fs::read_to_string(path).expect("config/topics.toml is readable");
    Rules::from_toml(&text).expect("config/topics.toml is valid")
}

fn load_dev() -> Vec<DevItem> {
    load_set("dev.jsonl")
}

fn load_set(name: &str) -> Vec<DevItem> {
    let path = format!("{}/tests/data/classify/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{name} line {}: {e}", n + 1))
        })
        .collect()
}

fn predict(rules: &Rules, item: &DevItem) -> BTreeSet<String> {
    let lang = item.lang.as_deref().and_then(Lang::parse);
    let text = ItemText {
        title: &item.title,
        text: &item.text,
        lang,
    };
    classify(rules, &text)
        .topics
        .iter()
        .map(|t| t.topic.as_str().to_string())
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn f1(self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// An empty denominator means nothing was claimed or nothing was there: count it as perfect
/// so a topic with no gold items does not drag the report to zero.
fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        1.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

/// Per-topic (precision, recall) floors and the micro-averaged floor of one labelled set.
struct Floors {
    topics: &'static [(&'static str, f64, f64)],
    micro: (f64, f64),
}

/// Floors of the sets the rules are tuned on sit just under what the rules reach there; a
/// change to the rules or the sets that loses quality fails here.
const DEV_FLOORS: Floors = Floors {
    topics: &[
        ("export_ban", 0.96, 0.96),
        ("approval", 0.97, 0.97),
        ("open_source_ai", 0.96, 0.96),
        ("tariffs", 0.85, 0.95),
        ("rare_earths", 0.95, 0.95),
        ("chip_industry", 0.95, 0.85),
    ],
    micro: (0.97, 0.96),
};

const HOLDOUT_FLOORS: Floors = Floors {
    topics: &[
        ("export_ban", 0.96, 0.96),
        ("approval", 0.95, 0.95),
        ("open_source_ai", 0.95, 0.95),
        ("tariffs", 0.95, 0.95),
        ("rare_earths", 0.95, 0.95),
        ("chip_industry", 0.95, 0.95),
    ],
    micro: (0.97, 0.97),
};

const TUNE_FLOORS: Floors = Floors {
    topics: &[
        ("export_ban", 0.96, 0.93),
        ("approval", 0.95, 0.96),
        ("open_source_ai", 0.95, 0.95),
        ("tariffs", 0.95, 0.95),
        ("rare_earths", 0.95, 0.95),
        ("chip_industry", 0.95, 0.80),
    ],
    micro: (0.97, 0.95),
};

#[test]
fn dev_set_meets_the_quality_floors() {
    let items = load_dev();
    assert!(items.len() >= 150, "the dev set has {} items", items.len());
    check_floors("dev.jsonl", &items, &DEV_FLOORS);
}

#[test]
fn holdout_set_meets_the_quality_floors() {
    let items = load_set("holdout.jsonl");
    assert!(
        items.len() >= 80,
        "the holdout set has {} items",
        items.len()
    );
    check_floors("holdout.jsonl", &items, &HOLDOUT_FLOORS);
}

#[test]
fn tuning_set_meets_the_quality_floors() {
    let items = load_set("tune.jsonl");
    assert!(
        items.len() >= 150,
        "the tuning set has {} items",
        items.len()
    );
    check_floors("tune.jsonl", &items, &TUNE_FLOORS);
}

#[test]
fn no_item_is_in_two_sets() {
    let mut seen = BTreeSet::new();
    for name in ["dev.jsonl", "holdout.jsonl", "tune.jsonl", "holdout2.jsonl"] {
        for item in load_set(name) {
            assert!(
                seen.insert(item.id.clone()),
                "{name}: {} is in two sets",
                item.id
            );
        }
    }
}

/// Scores `items`, prints the per-topic report and the misclassified ids, and fails if a
/// topic or the micro average falls below its floor.
fn check_floors(name: &str, items: &[DevItem], floors: &Floors) {
    check_floors_showing(&load_rules(), name, items, floors, true)
}

/// `show_errors: false` for a blind set: its misclassified items are not printed, so
/// nobody tunes the rules on them by accident.
fn check_floors_showing(
    rules: &Rules,
    name: &str,
    items: &[DevItem],
    floors: &Floors,
    show_errors: bool,
) {
    let topics: Vec<String> = rules.topics().iter().map(|t| t.id.to_string()).collect();
    let mut counts = vec![Counts::default(); topics.len()];
    let mut wrong = Vec::new();
    for item in items {
        let predicted = predict(rules, item);
        let gold: BTreeSet<String> = item.topics.iter().cloned().collect();
        if let Some(unknown) = gold.iter().find(|t| !topics.contains(t)) {
            panic!(
                "{name} {}: gold topic {unknown} is not in topics.toml",
                item.id
            );
        }
        for (topic, count) in topics.iter().zip(counts.iter_mut()) {
            match (gold.contains(topic), predicted.contains(topic)) {
                (true, true) => count.tp += 1,
                (false, true) => count.fp += 1,
                (true, false) => count.fn_ += 1,
                (false, false) => {}
            }
        }
        if predicted != gold {
            wrong.push(format!("{}: gold {:?} got {:?}", item.id, gold, predicted));
        }
    }
    let micro = counts.iter().fold(Counts::default(), |a, c| Counts {
        tp: a.tp + c.tp,
        fp: a.fp + c.fp,
        fn_: a.fn_ + c.fn_,
    });
    println!(
        "{name}: {} items; {:<16} {:>5} {:>5} {:>5}  tp/fp/fn",
        items.len(),
        "topic",
        "P",
        "R",
        "F1"
    );
    let micro_name = "micro".to_string();
    for (topic, c) in topics.iter().zip(&counts).chain([(&micro_name, &micro)]) {
        println!(
            "      {topic:<16} {:>5.3} {:>5.3} {:>5.3}  {}/{}/{}",
            c.precision(),
            c.recall(),
            c.f1(),
            c.tp,
            c.fp,
            c.fn_
        );
    }
    if show_errors {
        println!("misclassified ({}):\n  {}", wrong.len(), wrong.join("\n  "));
    } else {
        println!("misclassified: {} (not listed: a blind set)", wrong.len());
    }
    let mut failures = Vec::new();
    for &(topic, p_floor, r_floor) in floors.topics {
        let index = topics
            .iter()
            .position(|t| t == topic)
            .expect("floor topic exists");
        let c = counts[index];
        if c.precision() < p_floor || c.recall() < r_floor {
            failures.push(format!(
                "{topic}: P {:.3} R {:.3}",
                c.precision(),
                c.recall()
            ));
        }
    }
    if micro.precision() < floors.micro.0 || micro.recall() < floors.micro.1 {
        failures.push(format!(
            "micro: P {:.3} R {:.3}",
            micro.precision(),
            micro.recall()
        ));
    }
    assert!(failures.is_empty(), "{name} below the floors: {failures:?}");
}

/// The blind set's floors sit a little under what the rules reach on items they were never
/// tuned on (measured once, after this round's tuning). They are the promise to users; raise
/// them only when the blind numbers rise, and never tune on this set.
const BLIND_FLOORS: Floors = Floors {
    topics: &[
        ("export_ban", 0.95, 0.86),
        ("approval", 0.92, 0.83),
        ("open_source_ai", 0.95, 0.95),
        ("tariffs", 0.95, 0.95),
        ("rare_earths", 0.88, 0.95),
        ("chip_industry", 0.95, 0.80),
    ],
    micro: (0.96, 0.88),
};

#[test]
fn blind_set_meets_the_quality_floors() {
    let items = load_set("holdout2.jsonl");
    assert!(
        items.len() >= 130,
        "the blind set has {} items",
        items.len()
    );
    check_floors_showing(
        &load_rules(),
        "holdout2.jsonl",
        &items,
        &BLIND_FLOORS,
        false,
    );
}

/// The rules with the shipped model (`config/model.json`), as `chipwatch run` classifies.
fn load_shipped() -> Rules {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/model.json");
    let text = std::fs::read_to_string(path).expect("config/model.json is readable");
    let model = TopicModel::from_json(&text).expect("config/model.json is a model");
    load_rules()
        .with_model(model)
        .expect("the model fits the rules")
}

#[test]
fn the_shipped_model_was_trained_with_the_shipped_rules() {
    // Its features include the rules' points: after any rule change, retrain it
    // (README, "Classifier quality and speed").
    let rules = load_rules();
    let shipped = load_shipped();
    let model = shipped.model().expect("a model");
    assert_eq!(
        model.rules_fingerprint,
        rules.fingerprint(),
        "config/model.json was trained with other rules: retrain it"
    );
}

/// The model learned the real corpus's conventions (a hedged or China-side restriction is
/// news of a ban), which these sets, written earlier, label a little differently: floors
/// under what rules + model reach on the blind set (measured once, after training).
const SHIPPED_BLIND_FLOORS: Floors = Floors {
    topics: &[
        ("export_ban", 0.88, 0.88),
        ("approval", 0.92, 0.88),
        ("open_source_ai", 0.95, 0.95),
        ("tariffs", 0.95, 0.95),
        ("rare_earths", 0.88, 0.95),
        ("chip_industry", 0.95, 0.80),
    ],
    micro: (0.93, 0.90),
};

#[test]
fn blind_set_meets_the_floors_with_the_shipped_model() {
    let items = load_set("holdout2.jsonl");
    check_floors_showing(
        &load_shipped(),
        "holdout2.jsonl (model)",
        &items,
        &SHIPPED_BLIND_FLOORS,
        false,
    );
}

#[test]
fn seed_articles_classify_as_the_readme_says() {
    for rules in [load_rules(), load_shipped()] {
        check_seeds(&rules);
    }
}

fn check_seeds(rules: &Rules) {
    let items = load_dev();
    let expect = [
        ("seed-000", "approval"),
        ("seed-001", "approval"),
        ("seed-002", "open_source_ai"),
    ];
    for (id, topic) in expect {
        let item = items
            .iter()
            .find(|i| i.id == id)
            .expect("seed is in the dev set");
        let predicted = predict(rules, item);
        assert!(
            predicted.contains(topic),
            "{id}: {predicted:?} lacks {topic}"
        );
        // Seed 001 says "divieto" but the ban was lifted; 002 names restrictions in passing.
        assert!(
            !predicted.contains("export_ban"),
            "{id}: {predicted:?} has export_ban"
        );
    }
}

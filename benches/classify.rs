//! Classifier throughput: classifies the dev set's items (title + lead) over and over on one
//! thread for about two seconds and prints items/s and ns/item. Run it in release:
//! `cargo bench --bench classify`. On Linux it also prints the same figures per second of
//! the process's own CPU time, which a busy machine (other builds sharing the cores)
//! distorts far less than wall-clock time.
//!
//! The shipped model (`config/model.json`) is on, as in `chipwatch run`; `-- --no-model`
//! measures the rules alone.
//!
//! `-- --rounds N` classifies the set exactly N times instead of for two seconds: with
//! `valgrind --tool=callgrind` that gives an instruction count per item, which does not
//! depend on the machine's speed or load (see README, "Classifier quality and speed").

use chipwatch::classify::{ItemText, Lang, Rules, TopicModel, classify};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "common/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

struct Item {
    title: String,
    text: String,
    lang: Option<Lang>,
}

fn load_items(path: &str) -> Vec<Item> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}"));
            let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
            Item {
                title: field("title"),
                text: field("text"),
                lang: value["lang"].as_str().and_then(Lang::parse),
            }
        })
        .collect()
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::fs::read_to_string(format!("{root}/config/topics.toml"))
        .expect("config/topics.toml is readable");
    let started = Instant::now();
    let mut rules = Rules::from_toml(&config).expect("config/topics.toml is valid");
    let with_model = !std::env::args().any(|arg| arg == "--no-model");
    if with_model {
        let text = std::fs::read_to_string(format!("{root}/config/model.json"))
            .expect("config/model.json is readable");
        let model = TopicModel::from_json(&text).expect("config/model.json is a model");
        rules = rules.with_model(model).expect("the model fits the rules");
    }
    println!(
        "rules {} compiled in {:.1} ms",
        if with_model {
            "and model"
        } else {
            "alone (--no-model)"
        },
        started.elapsed().as_secs_f64() * 1e3
    );
    let items = load_items(&format!("{root}/tests/data/classify/dev.jsonl"));
    let bytes: usize = items.iter().map(|i| i.title.len() + i.text.len()).sum();
    println!(
        "{} items, {} bytes on average",
        items.len(),
        bytes / items.len().max(1)
    );

    // Warm up the thread-local buffers and the caches before timing.
    for item in &items {
        black_box(classify(
            &rules,
            &ItemText {
                title: &item.title,
                text: &item.text,
                lang: item.lang,
            },
        ));
    }
    let rounds: Option<u64> = std::env::args()
        .skip_while(|arg| arg != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok());
    let budget = Duration::from_secs(2);
    let cpu_started = cpu_seconds();
    let started = Instant::now();
    let mut classified: u64 = 0;
    let mut round: u64 = 0;
    while rounds.map_or(started.elapsed() < budget, |rounds| round < rounds) {
        round += 1;
        for item in &items {
            let text = ItemText {
                title: &item.title,
                text: &item.text,
                lang: item.lang,
            };
            black_box(classify(&rules, black_box(&text)));
        }
        classified += items.len() as u64;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_started.zip(cpu_seconds()).map(|(from, to)| to - from);
    println!(
        "classify: {classified} items in {elapsed:.2} s: {:.0} items/s, {:.0} ns/item",
        classified as f64 / elapsed,
        elapsed * 1e9 / classified as f64
    );
    if let Some(cpu) = cpu.filter(|cpu| *cpu > 0.0) {
        println!(
            "classify (cpu time): {:.2} s: {:.0} items/s, {:.0} ns/item",
            cpu,
            classified as f64 / cpu,
            cpu * 1e9 / classified as f64
        );
    }
}

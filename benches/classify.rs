//! Classifier throughput: classifies the dev set's items (title + lead) over and over on one
//! thread for about two seconds and prints items/s and ns/item. Run it in release:
//! `cargo bench --bench classify`.

use chipwatch::classify::{ItemText, Lang, Rules, classify};
use std::hint::black_box;
use std::time::{Duration, Instant};

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
    let rules = Rules::from_toml(&config).expect("config/topics.toml is valid");
    println!(
        "rules compiled in {:.1} ms",
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
    let budget = Duration::from_secs(2);
    let started = Instant::now();
    let mut classified: u64 = 0;
    while started.elapsed() < budget {
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
    println!(
        "classify: {classified} items in {elapsed:.2} s: {:.0} items/s, {:.0} ns/item",
        classified as f64 / elapsed,
        elapsed * 1e9 / classified as f64
    );
}

//! Event grouping cost: what the poller pays per poll round to load the window's events
//! (`Grouper::with_events`, every stored report turned back into a comparison vector) and
//! per item to place it (`Grouper::place`: the item compared with every report of every
//! event in the window), with 1,000 and 10,000 events in the window. Run it in release:
//! `cargo bench --bench grouping`. It also prints the memory the loaded events take (the
//! growth of the process's resident set) and, on Linux, the per-item figure in CPU time,
//! which a busy machine distorts far less than wall-clock time.
//!
//! The items are invented (words drawn from a made-up vocabulary around export-ban
//! phrasing, so that they classify and carry topics, entities and places); the cost of
//! a comparison depends on the lengths of the reports, not on what they say.
//! `-- --events N` measures one window size instead of 1,000 and 10,000.

use chipwatch::classify::{ItemText, Rules, classify};
use chipwatch::domain::{Classification, Event, EventId, FeedId, Item, ItemId, Lang};
use chipwatch::events::{EventParams, Grouper, When};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use std::hint::black_box;
use std::time::Instant;

#[path = "common/cpu.rs"]
mod cpu;
use cpu::{cpu_seconds, resident_bytes};

/// Distinct reports the events are made of before they are repeated to fill the window.
const DISTINCT: usize = 400;
/// Items placed and timed per window size.
const PLACED: usize = 300;

const COMPANIES: [&str; 8] = [
    "Nvidia", "AMD", "Intel", "ASML", "TSMC", "Samsung", "Huawei", "SMIC",
];
const COUNTRIES: [&str; 6] = [
    "Cina",
    "Russia",
    "Iran",
    "Taiwan",
    "Corea del Sud",
    "Giappone",
];

/// A small deterministic generator (xorshift): the same items on every run.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
    /// A made-up word of letters only (digits would read as figures) out of 20,000.
    fn word(&mut self) -> String {
        let mut n = self.next() % 20_000;
        let mut word = String::from("zu");
        for _ in 0..4 {
            word.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
        }
        word
    }
}

fn item(words: &mut Words, number: usize, at: DateTime<Utc>) -> Item {
    let company = words.pick(&COMPANIES);
    let country = words.pick(&COUNTRIES);
    let mut title = format!("Export, {company} e {country}:");
    for _ in 0..6 {
        title.push(' ');
        title.push_str(&words.word());
    }
    let mut summary = String::from("Il governo vieta l'esportazione dei chip.");
    for _ in 0..40 {
        summary.push(' ');
        summary.push_str(&words.word());
    }
    Item {
        id: ItemId(number as u64),
        feed: FeedId::parse("bench").expect("a valid feed id"),
        outlet: format!("Testata {}", number % 12),
        title,
        summary,
        link: Some(format!("https://example.org/{number}")),
        published: Some(at),
        first_seen: at,
        lang: Lang::It,
    }
}

fn classified(rules: &Rules, item: &Item) -> Classification {
    classify(
        rules,
        &ItemText {
            title: &item.title,
            text: &item.summary,
            lang: Some(item.lang),
        },
    )
}

/// `count` stored events, as the poller loads them: `DISTINCT` events of one to three
/// reports (two on average; the corpus's stories have one to seven), each grouped on its
/// own, repeated under new ids.
fn window_events(
    rules: &Rules,
    params: &EventParams,
    count: usize,
    at: DateTime<Utc>,
) -> Vec<Event> {
    let mut words = Words(0x9E37_79B9_7F4A_7C15);
    let base: Vec<Event> = (0..DISTINCT)
        .filter_map(|number| {
            let mut grouper = Grouper::new(params.clone());
            let first = item(&mut words, number, at);
            let classification = classified(rules, &first);
            for copy in 0..=number % 3 {
                let mut report = first.clone();
                report.id = ItemId((number * 10 + copy) as u64);
                report.outlet = format!("Testata {copy}");
                grouper.place(&report, &classification, When::Exact(at), |_| false);
            }
            grouper.into_events().into_iter().next()
        })
        .collect();
    (0..count)
        .map(|n| {
            let mut event = base[n % base.len()].clone();
            event.id = EventId::from_number(n as u64 + 1);
            event
        })
        .collect()
}

fn measure(rules: &Rules, params: &EventParams, count: usize) {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid date");
    let events = window_events(rules, params, count, at);
    let reports: usize = events.iter().map(|e| e.sources.len()).sum();

    let resident_before = resident_bytes();
    let started = Instant::now();
    let mut grouper = Grouper::with_events(params.clone(), events);
    let load = started.elapsed();
    let resident_after = resident_bytes();

    let mut words = Words(0xD1B5_4A32_D192_ED03);
    let items: Vec<(Item, Classification)> = (0..PLACED)
        .map(|n| {
            let item = item(&mut words, 1_000_000 + n, at + Span::minutes(n as i64));
            let classification = classified(rules, &item);
            (item, classification)
        })
        .collect();
    let cpu_started = cpu_seconds();
    let started = Instant::now();
    for (item, classification) in &items {
        black_box(grouper.place(item, classification, When::Exact(item.time()), |_| false));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_started.zip(cpu_seconds()).map(|(from, to)| to - from);

    println!(
        "{count} events ({reports} reports) in the window: loaded in {:.1} ms ({:.1} µs/report)",
        load.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e6 / reports.max(1) as f64
    );
    if let (Some(before), Some(after)) = (resident_before, resident_after) {
        println!(
            "  memory of the loaded window: {:.1} MiB ({:.0} bytes/report)",
            after.saturating_sub(before) as f64 / 1_048_576.0,
            after.saturating_sub(before) as f64 / reports.max(1) as f64
        );
    }
    println!(
        "  placing {PLACED} items: {:.2} ms/item wall",
        elapsed * 1e3 / PLACED as f64
    );
    if let Some(cpu) = cpu.filter(|cpu| *cpu > 0.0) {
        println!(
            "  placing (cpu time): {:.2} ms/item",
            cpu * 1e3 / PLACED as f64
        );
    }
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = std::fs::read_to_string(format!("{root}/config/topics.toml"))
        .expect("config/topics.toml is readable");
    let rules = Rules::from_toml(&config).expect("config/topics.toml is valid");
    // The shipped grouping model (`config/grouping.json`, built in) and the default window.
    let params = EventParams::default();
    let sizes: Vec<usize> = match std::env::args().skip_while(|a| a != "--events").nth(1) {
        Some(n) => vec![n.parse().expect("--events takes a number")],
        None => vec![1_000, 10_000],
    };
    for count in sizes {
        measure(&rules, &params, count);
    }
}

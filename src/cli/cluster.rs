//! `chipwatch cluster`: JSON lines in, one `{"id", "event"}` line per item out, so the
//! grouping can be judged offline on any set of items. Each item is classified with the
//! configured rules (and model) and grouped as the poller would: every item gets an event.
//! A bad line is reported with its number and skipped, and the command then fails at the
//! end. The reading is shared with `eval stories`, whose lines also carry a `story`.

use super::jsonl;
use crate::classify::{self, ItemText, Rules};
use crate::config::Config;
use crate::domain::{Classification, FeedId, Item, ItemId, Lang, stable_hash};
use crate::events::{Batch, EventParams, When, processing_order};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Input {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    outlet: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// RFC 3339; missing, `null` or empty when the feed gave no date.
    #[serde(default)]
    published: Option<String>,
    /// The corpus's date: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    #[serde(default)]
    date: Option<String>,
    /// RFC 3339: when the item was first seen, which places an undated item (as the
    /// poller places it).
    #[serde(default)]
    first_seen: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    /// The true story, for `eval stories`.
    #[serde(default)]
    story: Option<String>,
}

/// One readable input line, ready to group.
pub(super) struct Parsed {
    pub id: serde_json::Value,
    pub item: Item,
    pub lang: Option<Lang>,
    pub when: When,
    pub story: Option<String>,
}

pub fn run(config: &Config, file: &Path) -> anyhow::Result<()> {
    // 1. Rules first: a broken rules file is reported before any input is read.
    let rules = crate::app::compile_rules(config)?;
    // 2. Read every line (grouping needs them in time order), reporting the bad ones.
    let (parsed, bad) = read(file)?;
    // 3. Group in time order, then print in input order.
    let events = group(&rules, &config.events.params, &parsed);
    let mut out = std::io::stdout().lock();
    for (line, event) in parsed.iter().zip(events) {
        // Written by hand so that `id` comes first, as a reader expects.
        writeln!(out, r#"{{"id":{},"event":"{event}"}}"#, line.id)?;
    }
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

/// The readable lines of `file` and how many were not.
pub(super) fn read(file: &Path) -> anyhow::Result<(Vec<Parsed>, usize)> {
    let feed = FeedId::parse("cluster").context("the feed id of cluster input")?;
    let (lines, mut bad) = jsonl::read_lines(file)?;
    let mut parsed = Vec::new();
    for (number, line) in lines {
        match parse(&line, number, &feed) {
            Ok(item) => parsed.push(item),
            Err(problem) => {
                eprintln!("{}: line {number}: {problem}", file.display());
                bad += 1;
            }
        }
    }
    Ok((parsed, bad))
}

fn rfc3339(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("`{field}` is not an RFC 3339 date ({raw}): {e}")),
    }
}

/// A corpus date: a day is exact (noon UTC); a month or a year is a span.
fn corpus_date(raw: &str) -> Result<When, String> {
    let bad = || format!("`date` is not YYYY-MM-DD, YYYY-MM or YYYY ({raw})");
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    let parts: Vec<&str> = raw.trim().split('-').collect();
    let numbers: Vec<u32> = parts
        .iter()
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let when = match numbers.as_slice() {
        [y, m, d] => day(*y as i32, *m, *d).map(|t| When::Exact(t + chrono::Duration::hours(12))),
        [y, m] => {
            let start = day(*y as i32, *m, 1);
            let next = if *m == 12 {
                day(*y as i32 + 1, 1, 1)
            } else {
                day(*y as i32, m + 1, 1)
            };
            start
                .zip(next)
                .map(|(s, n)| When::Between(s, n - chrono::Duration::seconds(1)))
        }
        [y] => day(*y as i32, 1, 1)
            .zip(day(*y as i32 + 1, 1, 1))
            .map(|(s, n)| When::Between(s, n - chrono::Duration::seconds(1))),
        _ => None,
    };
    when.ok_or_else(bad)
}

fn parse(line: &str, number: usize, feed: &FeedId) -> Result<Parsed, String> {
    let input: Input = serde_json::from_str(line).map_err(|e| {
        format!("not a JSON object with id/title/text/outlet/url/published/first_seen: {e}")
    })?;
    let published = rfc3339("published", input.published.as_deref())?;
    let first_seen = rfc3339("first_seen", input.first_seen.as_deref())?;
    let date = match input.date.as_deref().map(str::trim) {
        None | Some("") => When::Unknown,
        Some(raw) => corpus_date(raw)?,
    };
    // The date if the item has a day; else when it was first seen, as the poller places
    // it; else a month or a year; else unknown.
    let dated = published.or(match date {
        When::Exact(at) => Some(at),
        _ => None,
    });
    let when = match (dated, first_seen) {
        (Some(at), _) | (None, Some(at)) => When::Exact(at),
        (None, None) => date,
    };
    let title = input.title.unwrap_or_default();
    let summary = input.text.or(input.summary).unwrap_or_default();
    let lang = input.lang.as_deref().and_then(Lang::parse);
    // The line number keeps two lines with one id (or none) two items.
    let id_text = input.id.to_string();
    let placed_at = first_seen.or(when.middle()).unwrap_or(DateTime::UNIX_EPOCH);
    let item = Item {
        id: ItemId(stable_hash(&["cluster", &number.to_string(), &id_text])),
        feed: feed.clone(),
        outlet: input.outlet.unwrap_or_default(),
        link: input.url,
        published: dated,
        first_seen: placed_at,
        lang: lang.unwrap_or_else(|| classify::detect_lang(&format!("{title} {summary}"))),
        title,
        summary,
    };
    Ok(Parsed {
        id: input.id,
        item,
        lang,
        when,
        story: input.story,
    })
}

pub(super) fn classify_item(rules: &Rules, parsed: &Parsed) -> Classification {
    classify::classify(
        rules,
        &ItemText {
            title: &parsed.item.title,
            text: &parsed.item.summary,
            lang: parsed.lang,
        },
    )
}

/// The event of each item, in input order.
pub(super) fn group(rules: &Rules, params: &EventParams, parsed: &[Parsed]) -> Vec<String> {
    let whens: Vec<When> = parsed.iter().map(|p| p.when).collect();
    let mut batch = Batch::new(params.clone());
    let mut events = vec![String::new(); parsed.len()];
    for index in processing_order(&whens) {
        let line = &parsed[index];
        let classification = classify_item(rules, line);
        events[index] = batch
            .place(&line.item, &classification, line.when)
            .to_string();
    }
    events
}

//! `chipwatch cluster`: JSON lines in, one `{"id", "event"}` line per item out, so the
//! grouping can be judged offline on any set of items. Each item is classified with the
//! configured rules; only relevant ones join events. A bad line is reported with its
//! number and skipped, and the command then fails at the end.

use crate::classify::{self, ItemText, Rules};
use crate::config::Config;
use crate::domain::{FeedId, Item, ItemId, Lang, stable_hash};
use crate::events::{Batch, processing_order};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Input {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    outlet: String,
    #[serde(default)]
    url: Option<String>,
    /// RFC 3339; missing, `null` or empty when the feed gave no date.
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// One readable input line, ready to group.
struct Parsed {
    id: serde_json::Value,
    item: Item,
    lang: Option<Lang>,
}

pub fn run(config: &Config, file: &Path) -> anyhow::Result<()> {
    // 1. Rules first: a broken rules file is reported before any input is read.
    let rules = crate::app::compile_rules(config)?;
    // 2. Read every line (grouping needs them sorted by date), reporting the bad ones.
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let (parsed, bad) = read(reader)?;
    // 3. Group in time order, then print in input order.
    let events = group(&rules, config, &parsed);
    let mut out = std::io::stdout().lock();
    for (line, event) in parsed.iter().zip(events) {
        // Written by hand so that `id` comes first, as a reader expects.
        writeln!(out, r#"{{"id":{},"event":{}}}"#, line.id, json!(event))?;
    }
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

fn read(reader: impl BufRead) -> anyhow::Result<(Vec<Parsed>, usize)> {
    let feed = FeedId::parse("cluster").context("the feed id of cluster input")?;
    let (mut parsed, mut bad) = (Vec::new(), 0);
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line, number, &feed) {
            Ok(item) => parsed.push(item),
            Err(problem) => {
                eprintln!("line {number}: {problem}");
                bad += 1;
            }
        }
    }
    Ok((parsed, bad))
}

fn parse(line: &str, number: usize, feed: &FeedId) -> Result<Parsed, String> {
    let input: Input = serde_json::from_str(line)
        .map_err(|e| format!("not a JSON object with id/title/text/outlet/url/published: {e}"))?;
    let published = match input.published.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw)
                .map_err(|e| format!("`published` is not an RFC 3339 date ({raw}): {e}"))?
                .with_timezone(&Utc),
        ),
    };
    let summary = input.text.or(input.summary).unwrap_or_default();
    let lang = input.lang.as_deref().and_then(Lang::parse);
    // The line number keeps two lines with one id (or none) two items.
    let id_text = input.id.to_string();
    let item = Item {
        id: ItemId(stable_hash(&["cluster", &number.to_string(), &id_text])),
        feed: feed.clone(),
        outlet: input.outlet,
        link: input.url,
        published,
        // Replaced by the grouping time for undated items (see `processing_order`).
        first_seen: published.unwrap_or(DateTime::UNIX_EPOCH),
        lang: lang.unwrap_or_else(|| classify::detect_lang(&format!("{} {summary}", input.title))),
        title: input.title,
        summary,
    };
    Ok(Parsed {
        id: input.id,
        item,
        lang,
    })
}

/// The event of each item, in input order (`None`: not relevant to any topic).
fn group(rules: &Rules, config: &Config, parsed: &[Parsed]) -> Vec<Option<String>> {
    let dates: Vec<Option<DateTime<Utc>>> = parsed.iter().map(|p| p.item.published).collect();
    let mut batch = Batch::new(config.events.params.clone());
    let mut events = vec![None; parsed.len()];
    for (index, time) in processing_order(&dates) {
        let Parsed { item, lang, .. } = &parsed[index];
        let item = Item {
            first_seen: time,
            ..item.clone()
        };
        let classification = classify::classify(
            rules,
            &ItemText {
                title: &item.title,
                text: &item.summary,
                lang: *lang,
            },
        );
        events[index] = batch.place(&item, &classification).map(|id| id.to_string());
    }
    events
}

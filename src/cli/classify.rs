//! `chipwatch classify`: JSON lines in, one verdict per line out, so the classifier can
//! be judged offline on any set of items. A bad line is reported and skipped.

use super::Cli;
use crate::classify::{self, ItemText, Rules};
use crate::config::Config;
use crate::domain::{Classification, Lang};
use anyhow::Context;
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
    lang: Option<String>,
}

/// Reads only the topic rules, so it works without feeds or a database.
fn rules(cli: &Cli) -> anyhow::Result<Rules> {
    let config = Config::load(&cli.config, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::app::compile_rules(&config)
}

pub fn run(cli: &Cli, file: &Path, text: Option<&str>) -> anyhow::Result<()> {
    let rules = rules(cli)?;
    let mut out = std::io::stdout().lock();
    if let Some(text) = text {
        let verdict = classify::classify(
            &rules,
            &ItemText {
                title: "",
                text,
                lang: None,
            },
        );
        writeln!(out, "{}", output(&serde_json::Value::Null, &verdict))?;
        return Ok(());
    }
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let mut bad = 0;
    for (number, line) in reader.lines().enumerate() {
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        let input: Input = match serde_json::from_str(&line) {
            Ok(input) => input,
            Err(error) => {
                eprintln!(
                    "line {}: not a JSON object with id/title/text: {error}",
                    number + 1
                );
                bad += 1;
                continue;
            }
        };
        let text = input.text.or(input.summary).unwrap_or_default();
        let lang = input.lang.as_deref().and_then(Lang::parse);
        let verdict = classify::classify(
            &rules,
            &ItemText {
                title: &input.title,
                text: &text,
                lang,
            },
        );
        writeln!(out, "{}", output(&input.id, &verdict))?;
    }
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

fn output(id: &serde_json::Value, verdict: &Classification) -> serde_json::Value {
    let scores: serde_json::Map<String, serde_json::Value> = verdict
        .topics
        .iter()
        .map(|t| (t.topic.to_string(), json!(t.score)))
        .collect();
    json!({
        "id": id,
        "relevant": verdict.is_relevant(),
        "topics": verdict.topics.iter().map(|t| t.topic.as_str()).collect::<Vec<_>>(),
        "scores": scores,
        "entities": verdict.entities,
        "why": verdict.why,
    })
}

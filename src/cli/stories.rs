//! `chipwatch eval stories` and `chipwatch train --stories`: JSON lines of items with their
//! true `story` (the corpus format, or `cluster`'s with a `story` field) in, a report or a
//! grouping model out. Items are classified with the configured rules and model, as the
//! poller would; `--texts` adds real text (any JSON lines with a title and text) to the
//! document frequencies the grouping learns.

use super::cluster::{self, Parsed};
use crate::config::Config;
use crate::domain::Classification;
use crate::events::quality::{self, StoryReport};
use crate::learn::stories::{
    StoryItem, StoryOptions, cross_validate_stories, document, group, train_grouping,
};
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Items of a story file, classified; lines without a `story` are reported and skipped.
fn read_stories(config: &Config, file: &Path) -> anyhow::Result<(Vec<StoryItem>, usize)> {
    let rules = crate::app::compile_rules(config)?;
    let (parsed, mut bad) = cluster::read(file)?;
    let mut items = Vec::new();
    for line in parsed {
        let Parsed { id, story, .. } = &line;
        let Some(story) = story.clone().filter(|s| !s.trim().is_empty()) else {
            eprintln!("{}: item {id}: no `story`; skipped", file.display());
            bad += 1;
            continue;
        };
        let classification = cluster::classify_item(&rules, &line);
        items.push(StoryItem {
            id: match &line.id {
                serde_json::Value::String(id) => id.clone(),
                other => other.to_string(),
            },
            story,
            item: line.item,
            classification,
            when: line.when,
            noise: false,
        });
    }
    Ok((items, bad))
}

/// Ordinary news from `files`, each item its own story, placed at the times of the story
/// items in turn (a fixed stride through them): unrelated news arrives every day a story
/// is told, and that is what the grouping must keep out.
fn read_noise(
    config: &Config,
    files: &[PathBuf],
    stories: &[StoryItem],
) -> anyhow::Result<(Vec<StoryItem>, usize)> {
    let rules = crate::app::compile_rules(config)?;
    let mut noise = Vec::new();
    let mut bad = 0;
    for file in files {
        let (parsed, unreadable) = cluster::read(file)?;
        bad += unreadable;
        for line in parsed {
            let classification = cluster::classify_item(&rules, &line);
            let k = noise.len();
            let when = stories
                .get((k * 7919 + 13) % stories.len().max(1))
                .map_or(line.when, |s| s.when);
            let mut item = line.item;
            if let Some(at) = when.middle() {
                item.published = Some(at);
                item.first_seen = at;
            }
            let id = format!(
                "noise:{}",
                line.id
                    .as_str()
                    .map_or_else(|| line.id.to_string(), str::to_string)
            );
            noise.push(StoryItem {
                story: id.clone(),
                id,
                item,
                classification,
                when,
                noise: true,
            });
        }
    }
    Ok((noise, bad))
}

/// The words of every readable line of `files`, as documents for the frequencies.
fn read_texts(files: &[PathBuf]) -> anyhow::Result<(Vec<BTreeSet<String>>, usize)> {
    let mut documents = Vec::new();
    let mut bad = 0;
    for file in files {
        let (parsed, unreadable) = cluster::read(file)?;
        bad += unreadable;
        documents.extend(
            parsed
                .iter()
                .map(|line| document(&line.item, &Classification::default())),
        );
    }
    Ok((documents, bad))
}

/// The regression's penalty and the F-beta the threshold is chosen by (`--alpha`, `--beta`).
#[derive(Debug, Clone, Copy)]
pub struct Fitting {
    pub alpha: f64,
    pub beta: f64,
}

fn options(config: &Config, Fitting { alpha, beta }: Fitting) -> anyhow::Result<StoryOptions> {
    if !(alpha.is_finite() && alpha > 0.0) {
        anyhow::bail!("--alpha must be a positive number, not {alpha}");
    }
    if !(beta.is_finite() && beta > 0.0) {
        anyhow::bail!("--beta must be a positive number, not {beta}");
    }
    Ok(StoryOptions {
        alpha,
        threshold_folds: 4,
        beta,
        params: config.events.params.clone(),
    })
}

/// `chipwatch train --stories FILE… [--texts FILE…] -o FILE`.
pub fn train(
    config: &Config,
    files: &[PathBuf],
    texts: &[PathBuf],
    noise: &[PathBuf],
    output: &Path,
    fitting: Fitting,
) -> anyhow::Result<()> {
    let options = options(config, fitting)?;
    let mut items = Vec::new();
    let mut bad = 0;
    for file in files {
        let (read, unreadable) = read_stories(config, file)?;
        items.extend(read);
        bad += unreadable;
    }
    let (documents, unreadable) = read_texts(texts)?;
    bad += unreadable;
    let (noise, unreadable) = read_noise(config, noise, &items)?;
    bad += unreadable;
    items.extend(noise);
    let model = train_grouping(&items, &documents, &options)?;
    std::fs::write(output, model.to_json() + "\n")
        .with_context(|| format!("writing {}", output.display()))?;
    eprintln!(
        "trained on {} items of {} stories and {} of ordinary news ({} pairs), frequencies \
         over {} documents; calibrated min_score {:.2}; written to {}",
        model.trained_on.items,
        model.trained_on.stories,
        model.trained_on.noise,
        model.trained_on.pairs,
        model.idf_documents,
        model.min_score,
        output.display()
    );
    eprintln!("measure it where it was not trained: chipwatch eval stories FILE --folds 5");
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

/// `chipwatch eval stories FILE [--folds K] [--texts FILE…] [--json]`.
pub fn eval(
    config: &Config,
    file: &Path,
    folds: Option<usize>,
    texts: &[PathBuf],
    noise: &[PathBuf],
    json_out: bool,
    fitting: Fitting,
) -> anyhow::Result<()> {
    let (mut items, mut bad) = read_stories(config, file)?;
    if items.is_empty() {
        anyhow::bail!("no items with a story to measure");
    }
    let (noise, unreadable) = read_noise(config, noise, &items)?;
    bad += unreadable;
    let noise_count = noise.len();
    items.extend(noise);
    let (events, method) = match folds {
        Some(k) => {
            let (documents, unreadable) = read_texts(texts)?;
            bad += unreadable;
            let options = options(config, fitting)?;
            let events = cross_validate_stories(&items, &documents, k, &options)?;
            let method = format!(
                "{k}-fold cross-validation by story: each fold grouped by a model trained on the \
                 other folds' stories (frequencies over their items and {} more documents), its \
                 threshold chosen on those stories alone (best pairwise F-beta, beta {}); \
                 window {}",
                documents.len(),
                fitting.beta,
                humantime::format_duration(config.events.params.window)
            );
            (events, method)
        }
        None => {
            let params = &config.events.params;
            let all: Vec<&StoryItem> = items.iter().collect();
            let method = format!(
                "the configured grouping (trained on {} items of {} stories; min_score {:.2}, \
                 window {}): if these stories were among them, this is no measure — use --folds",
                params.grouping.source.trained_on.items,
                params.grouping.source.trained_on.stories,
                params.min_score,
                humantime::format_duration(params.window)
            );
            (group(&all, params), method)
        }
    };
    // The stories alone (what the file labels), then with the ordinary news too.
    let judge = |keep: &dyn Fn(&StoryItem) -> bool| {
        let kept: Vec<usize> = (0..items.len()).filter(|&i| keep(&items[i])).collect();
        quality::judge(
            &kept
                .iter()
                .map(|&i| items[i].id.clone())
                .collect::<Vec<_>>(),
            &kept.iter().map(|&i| events[i].clone()).collect::<Vec<_>>(),
            &kept
                .iter()
                .map(|&i| items[i].story.clone())
                .collect::<Vec<_>>(),
        )
    };
    let report = judge(&|s| !s.noise);
    let with_noise = (noise_count > 0).then(|| judge(&|_| true));
    let method = if noise_count > 0 {
        format!(
            "{method}; with {noise_count} items of ordinary news among them (each its own \
             story, placed at the story items' times{})",
            if folds.is_some() {
                ", trained on too"
            } else {
                ""
            }
        )
    } else {
        method
    };
    if json_out {
        println!(
            "{}",
            json!({"method": method, "report": report, "with_noise": with_noise})
        );
    } else {
        print_report(&method, &report);
        if let Some(with_noise) = &with_noise {
            println!("\nwith the ordinary news, each item its own story:");
            print_scores(with_noise);
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

/// How many splits and merges the text report lists.
const WORST: usize = 8;

fn print_scores(report: &StoryReport) {
    println!(
        "{} items, {} stories, {} events",
        report.items, report.stories, report.events
    );
    println!("            precision  recall     F1");
    for (name, prf) in [("pairwise", report.pairwise), ("B-cubed", report.bcubed)] {
        println!(
            "  {name:<9} {:>9.3} {:>7.3} {:>6.3}",
            prf.precision, prf.recall, prf.f1
        );
    }
}

fn print_report(method: &str, report: &StoryReport) {
    println!("measured by {method}\n");
    print_scores(report);
    for (title, mixes) in [
        ("stories split over several events", &report.splits),
        ("events holding several stories", &report.merges),
    ] {
        println!(
            "\n{title} ({}; the worst {}):",
            mixes.len(),
            WORST.min(mixes.len())
        );
        for mix in mixes.iter().take(WORST) {
            let parts: Vec<String> = mix
                .parts
                .iter()
                .map(|(part, items)| format!("{part}: {}", items.join(" ")))
                .collect();
            println!("  {}  →  {}", mix.name, parts.join(" | "));
        }
    }
}

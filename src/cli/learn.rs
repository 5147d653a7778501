//! `chipwatch train` and `chipwatch eval topics`: labelled JSON lines in (the corpus
//! format: `id`, `title`, `text`, `lang`, `labels`), a model file or a report out. A bad
//! line is reported with its number and skipped; the command then fails at the end.

use super::jsonl;
use crate::classify::{Rules, TopicModel};
use crate::config::Config;
use crate::domain::{Lang, TopicId};
use crate::learn::{self, Example, Report, TrainOptions};
use anyhow::Context;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The options of training, shared by `train` and `eval topics --folds`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// L2 penalty of the logistic regressions (larger: smaller weights).
    #[arg(long, default_value_t = TrainOptions::default().alpha)]
    pub alpha: f64,
    /// Keep a feature only if at least this many training items have it.
    #[arg(long, default_value_t = TrainOptions::default().min_count)]
    pub min_count: usize,
    /// Thresholds maximise F-beta on out-of-fold probabilities (below 1 favours precision);
    /// with --stories, the joining threshold maximises pairwise F-beta over inner folds.
    #[arg(long, default_value_t = TrainOptions::default().beta)]
    pub beta: f64,
}

impl TrainArgs {
    fn options(&self) -> anyhow::Result<TrainOptions> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            anyhow::bail!("--alpha must be a positive number, not {}", self.alpha);
        }
        if !(self.beta.is_finite() && self.beta > 0.0) {
            anyhow::bail!("--beta must be a positive number, not {}", self.beta);
        }
        Ok(TrainOptions {
            alpha: self.alpha,
            min_count: self.min_count,
            beta: self.beta,
            ..TrainOptions::default()
        })
    }
}

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
    lang: Option<String>,
    /// The corpus's field; `topics` is the project's own sets' name for it.
    #[serde(default, alias = "topics")]
    labels: Option<Vec<String>>,
}

/// Reads labelled examples from every file; bad lines are reported on stderr and counted.
pub fn read_examples(rules: &Rules, files: &[PathBuf]) -> anyhow::Result<(Vec<Example>, usize)> {
    let (examples, _, bad) = read_examples_by_file(rules, files)?;
    Ok((examples, bad))
}

/// Like [`read_examples`], with the index of the file each example came from.
fn read_examples_by_file(
    rules: &Rules,
    files: &[PathBuf],
) -> anyhow::Result<(Vec<Example>, Vec<usize>, usize)> {
    let mut examples = Vec::new();
    let mut origin = Vec::new();
    let mut bad = 0;
    for (file_index, file) in files.iter().enumerate() {
        let (lines, unreadable) = jsonl::read_lines(file)?;
        bad += unreadable;
        for (number, line) in lines {
            match example(rules, &line) {
                Ok(example) => {
                    examples.push(example);
                    origin.push(file_index);
                }
                Err(problem) => {
                    eprintln!("{}: line {number}: {problem}", file.display());
                    bad += 1;
                }
            }
        }
    }
    Ok((examples, origin, bad))
}

fn example(rules: &Rules, line: &str) -> Result<Example, String> {
    let input: Input = serde_json::from_str(line)
        .map_err(|e| format!("not a JSON object with id/title/text/labels: {e}"))?;
    let labels = input
        .labels
        .ok_or("no `labels` (a list of topics, or [\"none\"])")?;
    let mut topics = BTreeSet::new();
    for label in labels {
        if label == "none" {
            continue;
        }
        let topic = TopicId::parse(&label).map_err(|e| format!("label {label:?}: {e}"))?;
        if rules.topic(topic.as_str()).is_none() {
            return Err(format!("label {label:?} is not a topic of the rules"));
        }
        topics.insert(topic);
    }
    let id = match input.id {
        serde_json::Value::String(id) => id,
        serde_json::Value::Null => return Err("no `id`".into()),
        other => other.to_string(),
    };
    Ok(Example {
        id,
        title: input.title.unwrap_or_default(),
        text: input.text.or(input.summary).unwrap_or_default(),
        lang: input.lang.as_deref().and_then(Lang::parse),
        labels: topics,
    })
}

/// `chipwatch train --data FILE… -o FILE`.
pub fn train(
    config: &Config,
    data: &[PathBuf],
    output: &Path,
    args: &TrainArgs,
) -> anyhow::Result<()> {
    let options = args.options()?;
    // The model reads the rules' points: train with the rules alone, never with a model.
    let rules = crate::app::compile_rules_only(config)?;
    let (examples, bad) = read_examples(&rules, data)?;
    let model = learn::train(&rules, &examples, &options)?;
    std::fs::write(output, model.to_json() + "\n")
        .with_context(|| format!("writing {}", output.display()))?;
    eprintln!(
        "trained on {} items, {} features: {}; written to {}",
        examples.len(),
        model.features.len(),
        model
            .topics
            .iter()
            .zip(&model.trained_on.positives)
            .map(|(t, (_, n))| format!("{} ({n} items, threshold {:.3})", t.topic, t.threshold))
            .collect::<Vec<_>>()
            .join(", "),
        output.display()
    );
    eprintln!("measure it where it was not trained: chipwatch eval topics FILE --folds 5");
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

/// What `eval topics` is asked to do.
pub struct EvalArgs<'a> {
    pub files: &'a [PathBuf],
    pub folds: Option<usize>,
    pub json: bool,
    /// Topics to judge; empty: those the files label.
    pub topics: &'a [String],
}

/// `chipwatch eval topics FILE… [--folds K] [--json] [--topics a,b]`.
pub fn eval_topics(config: &Config, eval: EvalArgs<'_>, args: &TrainArgs) -> anyhow::Result<()> {
    let EvalArgs {
        files,
        folds,
        json: json_out,
        topics: requested,
    } = eval;
    // Cross-validation trains its own models; the configured one is loaded only to be judged.
    let mut rules = match folds {
        Some(_) => crate::app::compile_rules_only(config)?,
        None => crate::app::compile_rules(config)?,
    };
    let (examples, origin, bad) = read_examples_by_file(&rules, files)?;
    if examples.is_empty() {
        anyhow::bail!("no labelled items to measure");
    }
    let topics = if requested.is_empty() {
        learn::labelled_topics(&examples)
    } else {
        let mut topics = Vec::new();
        for name in requested {
            let topic =
                TopicId::parse(name).map_err(|e| anyhow::anyhow!("--topics {name:?}: {e}"))?;
            if rules.topic(topic.as_str()).is_none() {
                anyhow::bail!("--topics: {name:?} is not a topic of the rules");
            }
            topics.push(topic);
        }
        topics.sort();
        topics.dedup();
        topics
    };
    let (predictions, method) = match folds {
        Some(k) => {
            let options = args.options()?;
            let predictions = learn::cross_validate(&mut rules, &examples, k, &options)?;
            let method = format!(
                "{k}-fold cross-validation: rules + a model trained on the other folds \
                 (alpha {}, min count {}, beta {}); folds by a stable hash of the id",
                options.alpha, options.min_count, options.beta
            );
            (predictions, method)
        }
        None => {
            let method = match rules.model() {
                Some(model) => format!(
                    "the configured rules and model (trained on {} items): if these items were \
                     among them, this is no measure of quality — use --folds",
                    model.trained_on.items
                ),
                None => "the configured rules (no model)".to_string(),
            };
            (learn::predict(&rules, &examples), method)
        }
    };
    let all: Vec<&Example> = examples.iter().collect();
    let all_predictions: Vec<&BTreeSet<TopicId>> = predictions.iter().collect();
    let report = Report::new(&all, &all_predictions, &topics);
    let subset = |keep: &dyn Fn(usize) -> bool| {
        let (items, predicted): (Vec<&Example>, Vec<&BTreeSet<TopicId>>) = (0..examples.len())
            .filter(|&i| keep(i))
            .map(|i| (&examples[i], &predictions[i]))
            .unzip();
        Report::new(&items, &predicted, &topics)
    };
    let titled = subset(&|i| examples[i].titled());
    let untitled = subset(&|i| !examples[i].titled());
    let by_file: Vec<(String, Report)> = if files.len() > 1 {
        files
            .iter()
            .enumerate()
            .map(|(f, file)| (file.display().to_string(), subset(&|i| origin[i] == f)))
            .collect()
    } else {
        Vec::new()
    };
    if json_out {
        println!(
            "{}",
            json!({"method": method, "all": report, "titled": titled, "untitled": untitled,
                   "files": by_file})
        );
    } else {
        println!("measured by {method}\n");
        print_report("all items", &report);
        print_report("titled items", &titled);
        print_report("untitled items (lead only)", &untitled);
        for (file, report) in &by_file {
            print_report(file, report);
        }
        println!("errors ({}): id  labels → predicted", report.errors.len());
        for error in &report.errors {
            println!(
                "  {}  {} → {}",
                error.id,
                names(&error.labels),
                names(&error.predicted)
            );
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} input line(s) could not be read");
    }
    Ok(())
}

fn per_thousand(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        1000.0 * count as f64 / of as f64
    }
}

fn names(topics: &[TopicId]) -> String {
    if topics.is_empty() {
        return "none".into();
    }
    topics
        .iter()
        .map(TopicId::as_str)
        .collect::<Vec<_>>()
        .join("+")
}

fn print_report(title: &str, report: &Report) {
    println!("{title}: {} items", report.items);
    println!(
        "  {:<16} {:>9} {:>7} {:>6} {:>6}",
        "", "precision", "recall", "F1", "items"
    );
    for (topic, s) in &report.topics {
        println!(
            "  {:<16} {:>9.3} {:>7.3} {:>6.3} {:>6}",
            topic.as_str(),
            s.precision,
            s.recall,
            s.f1,
            s.support
        );
    }
    let r = &report.relevance;
    println!(
        "  {:<16} {:>9.3} {:>7.3} {:>6.3} {:>6}",
        "relevance", r.precision, r.recall, r.f1, r.support
    );
    println!("  macro-F1 {:.3}", report.macro_f1);
    println!(
        "  items labelled none given a judged topic (false alerts): {} of {} ({:.1} per 1,000); \
         given another topic only: {}\n",
        report.false_alerts,
        report.none_items,
        per_thousand(report.false_alerts, report.none_items),
        report.other_topic_alerts
    );
}

/// For `check-config`: what the configured model is, and whether it fits the rules.
pub fn describe_model(rules: &Rules) -> Option<String> {
    let model: &TopicModel = rules.model()?;
    let topics: Vec<String> = model
        .topics
        .iter()
        .map(|t| format!("{} (threshold {:.3})", t.topic, t.threshold))
        .collect();
    let mut text = format!(
        "model: {} features, trained on {} items: {}",
        model.features.len(),
        model.trained_on.items,
        topics.join(", ")
    );
    if let Some(warning) = crate::app::model_warning(rules, model) {
        text.push_str(&format!("\n  warning: {warning}"));
    }
    Some(text)
}

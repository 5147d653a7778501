//! The command line: clap definitions and the commands that are not the service itself
//! (`classify`, `check-config`, `feeds`, `db`). `main` parses and calls [`execute`].

mod classify;
mod cluster;
mod db;
mod feeds;
mod jsonl;
mod learn;
mod opml;
mod stories;

use crate::app::{self, RunOptions};
use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "chipwatch",
    version,
    about = "Watches Italian tech and policy outlets for semiconductor export-policy news and alerts Telegram chats or the console.",
    long_about = None,
    after_help = "With no command, `run` is assumed. The bot token comes from the environment only \
                  (TELOXIDE_TOKEN); with none set, alerts print on the console."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "CHIPWATCH_CONFIG",
        default_value = "config/chipwatch.toml"
    )]
    pub config: PathBuf,

    /// Where the database lives (overrides settings.data_dir).
    #[arg(long, global = true, env = "CHIPWATCH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll the feeds on their schedules and deliver alerts until SIGINT or SIGTERM.
    Run {
        /// Print console alerts as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Poll every feed once now, deliver what is new, and exit.
    Poll {
        /// Required: one cycle (a scheduled loop is `run`).
        #[arg(long, required = true)]
        once: bool,
        /// Print what would be alerted without recording anything.
        #[arg(long)]
        dry_run: bool,
        /// Print alerts as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Classify items given as JSON lines (`id`, `title`, `text` or `summary`, optional `lang`).
    Classify {
        /// A file of JSON lines, or `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Classify this one text instead of reading JSON lines.
        #[arg(long, conflicts_with = "file")]
        text: Option<String>,
    },
    /// Group items given as JSON lines (`id`, `title`, `text`, `outlet`, `url`, optional
    /// `published`, `date`, `first_seen` and `lang`) into events as the poller would;
    /// prints `{"id", "event"}` per item (an item alone in its story gets an event of its own).
    Cluster {
        /// A file of JSON lines, or `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Train the learned topic model on labelled JSON lines (`id`, `title`, `text`, `lang`,
    /// `labels`: topics or ["none"]), or with `--stories` the grouping model on items with
    /// their `story`; write it (deterministic for a given input).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["data", "stories"])))]
    Train {
        /// Labelled JSON-lines files (the corpus format): trains the topic model.
        #[arg(long, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Story files (items with a `story`): trains the grouping model instead.
        #[arg(long, num_args = 1.., conflicts_with = "data")]
        stories: Vec<PathBuf>,
        /// With --stories: more real text (JSON lines with title and text) for the word
        /// frequencies.
        #[arg(long, num_args = 1.., requires = "stories")]
        texts: Vec<PathBuf>,
        /// With --stories: ordinary news (JSON lines), each item its own story, placed among
        /// the stories' times: what the grouping must keep out of them.
        #[arg(long, num_args = 1.., requires = "stories")]
        noise: Vec<PathBuf>,
        /// Where to write the model (`settings.model_file` or `events.model_file` to use it).
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten)]
        options: learn::TrainArgs,
    },
    /// Measure the classifier on labelled items.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Validate the configuration and the topic rules; report every problem.
    CheckConfig,
    /// Show each feed's health: last poll, status, errors, next poll; or move the feed
    /// list in and out of OPML.
    Feeds {
        /// As JSON lines.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<FeedsCommand>,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Per-topic and relevance precision, recall and F1, macro-F1, and the errors, on
    /// labelled JSON lines; with `--folds K`, K-fold cross-validation of rules + model.
    Topics {
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Train on K−1 folds, score the held fold, for each fold: no item is scored by a
        /// model that saw it.
        #[arg(long)]
        folds: Option<usize>,
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// The topics to judge (comma-separated); by default those the files label. A file
        /// of general news, all labelled none, is judged on the topics users follow.
        #[arg(long, value_delimiter = ',')]
        topics: Vec<String>,
        #[command(flatten)]
        options: learn::TrainArgs,
    },
    /// Pairwise and B-cubed precision, recall and F1 of the grouping against true stories
    /// (JSON lines with a `story`), events against stories, and the worst splits and
    /// merges; with `--folds K`, cross-validation by story.
    Stories {
        file: PathBuf,
        /// Group each of K folds of stories with a model trained on the others.
        #[arg(long)]
        folds: Option<usize>,
        /// With --folds: more real text for the word frequencies.
        #[arg(long, num_args = 1..)]
        texts: Vec<PathBuf>,
        /// Ordinary news (JSON lines), each item its own story, placed among the stories'
        /// times: grouped and judged with them (and, with --folds, trained on).
        #[arg(long, num_args = 1..)]
        noise: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// L2 penalty of the pair regression (with --folds).
        #[arg(long, default_value_t = 1.0)]
        alpha: f64,
        /// The joining threshold maximises pairwise F-beta (with --folds; below 1 favours
        /// precision).
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Read an OPML file and print the `[[feeds]]` tables for the feeds not yet
    /// configured; with `--write`, append them to the configuration file.
    ImportOpml {
        file: PathBuf,
        /// Append to the configuration file (checked to load first) instead of printing.
        #[arg(long)]
        write: bool,
    },
    /// Write the configured feeds as OPML 2.0 (to standard output by default).
    ExportOpml {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Counts of seen items, stored items, queued and delivered alerts, dead letters.
    Stats,
    /// Move a damaged database aside and rebuild it: the subscriptions and queued
    /// deliveries that can be read are kept, and the seen-set is rebuilt from what the
    /// feeds list now, without alerting any of it. Refuses while another process holds the
    /// database, and refuses a healthy one unless `--force`.
    Recover {
        /// Rebuild even a database that opens and passes the schema check.
        #[arg(long)]
        force: bool,
    },
}

/// Process exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const CONFIG: i32 = 2;
}

fn load_config(cli: &Cli) -> Result<Config, crate::config::ConfigError> {
    Config::load(&cli.config, cli.data_dir.clone())
}

/// Runs the command and returns the exit code; errors are printed here.
pub async fn execute(cli: Cli) -> i32 {
    let command = cli
        .command
        .as_ref()
        .unwrap_or(&Command::Run { json: false });
    if let Command::Classify { file, text } = command {
        return report(classify::run(&cli, file, text.as_deref()));
    }
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprint!("chipwatch: {error}");
            return exit::CONFIG;
        }
    };
    match command {
        Command::Run { json } => report(app::run(config, RunOptions { json: *json }).await),
        Command::Poll {
            once: _,
            dry_run,
            json,
        } => match poll(config, *dry_run, *json).await {
            Ok(code) => code,
            Err(error) => report(Err(error)),
        },
        Command::Cluster { file } => report(cluster::run(&config, file)),
        Command::Train {
            data,
            stories,
            texts,
            noise,
            output,
            options,
        } => report(if stories.is_empty() {
            learn::train(&config, data, output, options)
        } else {
            stories::train(
                &config,
                stories,
                texts,
                noise,
                output,
                stories::Fitting {
                    alpha: options.alpha,
                    beta: options.beta,
                },
            )
        }),
        Command::Eval {
            command:
                EvalCommand::Stories {
                    file,
                    folds,
                    texts,
                    noise,
                    json,
                    alpha,
                    beta,
                },
        } => report(stories::eval(
            &config,
            file,
            *folds,
            texts,
            noise,
            *json,
            stories::Fitting {
                alpha: *alpha,
                beta: *beta,
            },
        )),
        Command::Eval {
            command:
                EvalCommand::Topics {
                    files,
                    folds,
                    json,
                    topics,
                    options,
                },
        } => report(learn::eval_topics(
            &config,
            learn::EvalArgs {
                files,
                folds: *folds,
                json: *json,
                topics,
            },
            options,
        )),
        Command::CheckConfig => check_config(&config),
        Command::Feeds {
            json,
            command: None,
        } => report(feeds::run(&config, *json)),
        Command::Feeds {
            command: Some(FeedsCommand::ImportOpml { file, write }),
            ..
        } => report(opml::import(&config, file, *write)),
        Command::Feeds {
            command: Some(FeedsCommand::ExportOpml { output }),
            ..
        } => report(opml::export(&config, output.as_deref())),
        Command::Db {
            command: DbCommand::Stats,
        } => report(db::stats(&config)),
        Command::Db {
            command: DbCommand::Recover { force },
        } => report(db::recover(config, *force).await),
        Command::Classify { .. } => exit::OK,
    }
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("chipwatch: {error:#}");
            exit::FAILURE
        }
    }
}

fn check_config(config: &Config) -> i32 {
    // A feed read from a file that is not there would fail every poll.
    let missing: Vec<String> = config
        .feeds
        .iter()
        .filter_map(|feed| match &feed.source {
            crate::config::FeedSource::File(path) if !path.is_file() => {
                Some(format!("feed `{}`: no file {}", feed.id, path.display()))
            }
            _ => None,
        })
        .collect();
    for problem in &missing {
        eprintln!("chipwatch: {}: {problem}", config.path.display());
    }
    match app::compile_rules(config) {
        Ok(_) if !missing.is_empty() => exit::CONFIG,
        Ok(rules) => {
            println!(
                "{}: ok — {} feeds, {} topics ({}), data in {}",
                config.path.display(),
                config.feeds.len(),
                rules.topics().len(),
                rules
                    .topics()
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                config.settings.data_dir.display()
            );
            if let Some(model) = learn::describe_model(&rules) {
                println!("{model}");
            }
            exit::OK
        }
        Err(error) => {
            eprintln!("chipwatch: {error:#}");
            exit::CONFIG
        }
    }
}

/// One poll of every feed; the exit code is 1 when feeds were configured and none could
/// be read (each failed or was rate limited), so cron and scripts notice.
async fn poll(config: Config, dry_run: bool, json: bool) -> anyhow::Result<i32> {
    let reports = app::poll_once(config, RunOptions { json }, dry_run).await?;
    for report in &reports {
        if dry_run {
            for alert in &report.alerts {
                println!(
                    "{}",
                    if json {
                        crate::render::json_line(alert)
                    } else {
                        crate::render::console_line(alert)
                    }
                );
            }
        }
        eprintln!("{}: {}", report.feed, feeds::describe_outcome(report));
    }
    let summary = feeds::poll_summary(&reports);
    eprintln!("{}", summary.line);
    Ok(if reports.is_empty() || summary.any_read {
        exit::OK
    } else {
        exit::FAILURE
    })
}

//! `chipwatch feeds`: each configured feed's health as the store recorded it.

use crate::config::Config;
use crate::domain::FeedState;
use crate::poller::{PollOutcome, PollReport};
use crate::store::Store;
use serde_json::json;

pub fn run(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open(&config.settings.data_dir)?;
    if !json {
        println!(
            "{:<24} {:>6} {:>9} {:>5} {:>5} {:>5}  {:<19} {:<19} {:<19} last error",
            "feed",
            "status",
            "bytes",
            "items",
            "errs",
            "304%",
            "last attempt",
            "last success",
            "next poll"
        );
    }
    for feed in &config.feeds {
        let state = store.feed_state(&feed.id)?.unwrap_or_default();
        if json {
            println!(
                "{}",
                json!({ "feed": feed.id, "name": feed.name, "url": feed.source.to_string(), "state": state })
            );
        } else {
            println!("{}", table_row(feed.id.as_str(), &state));
        }
    }
    Ok(())
}

fn table_row(id: &str, state: &FeedState) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    format!(
        "{:<24} {:>6} {:>9} {:>5} {:>5} {:>4.0}%  {:<19} {:<19} {:<19} {}",
        id,
        state.last_status.map_or("-".to_string(), |s| s.to_string()),
        state.last_bytes,
        state.last_items,
        state.consecutive_errors,
        state.not_modified_ratio() * 100.0,
        time(state.last_attempt),
        time(state.last_success),
        time(state.next_poll),
        crate::render::terminal_safe(state.last_error.as_deref().unwrap_or("")),
    )
}

/// One line saying what a poll did, for `poll --once`.
pub fn describe_outcome(report: &PollReport) -> String {
    match &report.outcome {
        PollOutcome::NotModified => "not modified (304)".into(),
        PollOutcome::RateLimited { retry_after } => {
            format!("rate limited, retry after {retry_after:?}")
        }
        PollOutcome::Failed { error } => format!("FAILED: {error}"),
        PollOutcome::Polled {
            entries,
            new,
            relevant,
            held_by_flood_breaker,
            first_poll,
        } => {
            let mut line = format!(
                "{entries} entries, {new} new, {relevant} relevant, {} alerted",
                report.alerts.len()
            );
            if *first_poll && report.held_first_poll > 0 {
                line.push_str(&format!(
                    " (first poll: {} relevant recorded without alerting; see settings.backfill)",
                    report.held_first_poll
                ));
            }
            if *held_by_flood_breaker {
                line.push_str(" (flood breaker: held without alerting)");
            }
            line
        }
    }
}

//! `chipwatch feeds`: each configured feed's health as the store recorded it.

use crate::config::Config;
use crate::domain::FeedState;
use crate::poller::{PollOutcome, PollReport};
use crate::store::Store;
use serde_json::json;

pub fn run(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = Store::open_existing(&config.settings.data_dir)?;
    if !json {
        println!(
            "{:<24} {:>6} {:>9} {:>5} {:>5} {:>5} {:>5}  {:<25} {:<25} {:<25} last error",
            "feed",
            "status",
            "bytes",
            "items",
            "errs",
            "304%",
            "held",
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
            println!(
                "{}",
                table_row(feed.id.as_str(), &state, config.settings.time_zone)
            );
        }
    }
    Ok(())
}

/// One feed's row; times in the configured zone, with their offset (`settings.time_zone`).
fn table_row(id: &str, state: &FeedState, zone: chrono_tz::Tz) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_string(), |t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        })
    };
    format!(
        "{:<24} {:>6} {:>9} {:>5} {:>5} {:>4.0}% {:>5}  {:<25} {:<25} {:<25} {}",
        id,
        state.last_status.map_or("-".to_string(), |s| s.to_string()),
        state.last_bytes,
        state.last_items,
        state.consecutive_errors,
        state.not_modified_ratio() * 100.0,
        state.held_items,
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
                line.push_str(" (flood breaker: re-listed entries held without alerting)");
            }
            line
        }
    }
}

/// What a `poll --once` did, in one line for stderr.
pub struct PollSummary {
    pub line: String,
    /// Whether any feed was read: a body parsed, or a 304 for one read before.
    pub any_read: bool,
}

/// How many feeds were read, not modified, rate limited and failed, with the first
/// failures (by feed id) named: `poll: 0 ok, 0 not modified, 0 rate limited, 1 failed — a: …`.
pub fn poll_summary(reports: &[PollReport]) -> PollSummary {
    const NAMED: usize = 3;
    let (mut ok, mut not_modified, mut rate_limited) = (0, 0, 0);
    let mut failures: Vec<(&str, &str)> = Vec::new();
    for report in reports {
        match &report.outcome {
            PollOutcome::Polled { .. } => ok += 1,
            PollOutcome::NotModified => not_modified += 1,
            PollOutcome::RateLimited { .. } => rate_limited += 1,
            PollOutcome::Failed { error } => failures.push((report.feed.as_str(), error)),
        }
    }
    failures.sort_unstable();
    let mut line = format!(
        "poll: {ok} ok, {not_modified} not modified, {rate_limited} rate limited, {} failed",
        failures.len()
    );
    for (n, (feed, error)) in failures.iter().take(NAMED).enumerate() {
        line.push_str(if n == 0 { " — " } else { "; " });
        line.push_str(&crate::render::terminal_safe(&format!("{feed}: {error}")));
    }
    if failures.len() > NAMED {
        line.push_str(&format!("; and {} more", failures.len() - NAMED));
    }
    PollSummary {
        line,
        any_read: ok + not_modified > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FeedId;

    #[test]
    fn a_row_keeps_a_multi_line_error_on_its_line_and_shows_times_with_their_zone() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-07-01T10:00:00Z")
            .expect("date")
            .to_utc();
        let state = FeedState {
            last_attempt: Some(at),
            last_error: Some("connection refused\nretrying\r\nagain".into()),
            ..FeedState::default()
        };
        let row = table_row("local", &state, chrono_tz::Europe::Rome);
        assert!(!row.contains('\n') && !row.contains('\r'), "{row:?}");
        assert!(
            row.ends_with("connection refused retrying again"),
            "{row:?}"
        );
        // Summer time in Rome: two hours ahead of UTC, and it says so.
        assert!(row.contains("2026-07-01 12:00:00 +02:00"), "{row:?}");
        assert!(row.contains("never"), "no success yet: {row:?}");
    }

    fn report(feed: &str, outcome: PollOutcome) -> PollReport {
        PollReport {
            feed: FeedId::parse(feed).expect("feed id"),
            outcome,
            alerts: Vec::new(),
            held_first_poll: 0,
        }
    }

    fn failed(feed: &str, error: &str) -> PollReport {
        report(
            feed,
            PollOutcome::Failed {
                error: error.into(),
            },
        )
    }

    #[test]
    fn the_poll_summary_counts_outcomes_and_names_the_first_failures() {
        let reports = [
            failed("e", "fetch: HTTP status 404"),
            failed("b", "fetch: refused:\nloopback"),
            report("c", PollOutcome::RateLimited { retry_after: None }),
            failed("d", "parse: malformed"),
            failed("a", "fetch: timed out"),
        ];
        let summary = poll_summary(&reports);
        assert_eq!(
            summary.line,
            "poll: 0 ok, 0 not modified, 1 rate limited, 4 failed — a: fetch: timed out; \
             b: fetch: refused: loopback; d: parse: malformed; and 1 more"
        );
        assert!(!summary.any_read);

        let summary = poll_summary(&[report("a", PollOutcome::NotModified), failed("b", "x")]);
        assert_eq!(
            summary.line,
            "poll: 0 ok, 1 not modified, 0 rate limited, 1 failed — b: x"
        );
        assert!(summary.any_read);
    }
}

//! When to poll a feed next: the configured interval, lengthened by the feed's `<ttl>` and
//! the server's Cache-Control/Expires, bounded by min/max; exponential back-off after
//! errors; `Retry-After` honoured; jitter so feeds drift apart. Pure: the caller passes
//! `now` and the random draw.

use super::CacheHints;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest we ever wait, even when a server asks for more.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Jitter spreads each delay by up to this share either way.
const JITTER: f64 = 0.1;

#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub interval: Duration,
    pub min: Duration,
    pub max: Duration,
    pub ttl: Option<Duration>,
    pub cache: CacheHints,
    pub consecutive_errors: u32,
    pub retry_after: Option<Duration>,
}

/// The delay before the next poll, before jitter.
pub fn base_delay(input: &ScheduleInput, now: DateTime<Utc>) -> Duration {
    if let Some(wait) = input.retry_after {
        // The server's wait is a floor: being told to slow down must never make us poll
        // sooner than the feed's own schedule would (a `Retry-After: 60` on a 15-minute
        // feed used to bring the next poll forward to `min`).
        let scheduled = base_delay(
            &ScheduleInput {
                retry_after: None,
                ..input.clone()
            },
            now,
        );
        return wait.max(scheduled).min(MAX_RETRY_AFTER);
    }
    if input.consecutive_errors > 0 {
        let factor = 2u32.saturating_pow(input.consecutive_errors.min(16));
        return input
            .interval
            .saturating_mul(factor)
            .clamp(input.min, input.max.max(input.min));
    }
    let mut delay = input.interval;
    // Hints only ever lengthen the interval: we never poll more often than configured.
    for hint in [input.ttl, input.cache.max_age].into_iter().flatten() {
        delay = delay.max(hint);
    }
    if let Some(expires) = input.cache.expires
        && let Ok(until) = (expires - now).to_std()
    {
        delay = delay.max(until);
    }
    delay.clamp(input.min, input.max.max(input.min))
}

/// The time of the next poll; `random` is a draw in [0, 1) that sets the jitter.
pub fn next_poll(input: &ScheduleInput, now: DateTime<Utc>, random: f64) -> DateTime<Utc> {
    let delay = base_delay(input, now);
    let spread = 1.0 - JITTER + 2.0 * JITTER * random.clamp(0.0, 1.0);
    let mut jittered = delay.mul_f64(spread);
    if input.retry_after.is_some() {
        // Never earlier than the server asked.
        jittered = jittered.max(delay);
    }
    now + chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::hours(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ScheduleInput {
        ScheduleInput {
            interval: Duration::from_secs(900),
            min: Duration::from_secs(300),
            max: Duration::from_secs(6 * 3600),
            ..ScheduleInput::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn delays_follow_each_rule() {
        let secs = |i: &ScheduleInput| base_delay(i, now()).as_secs();
        let cases: Vec<(&str, ScheduleInput, u64)> = vec![
            ("configured interval", input(), 900),
            (
                "ttl lengthens",
                ScheduleInput {
                    ttl: Some(Duration::from_secs(3600)),
                    ..input()
                },
                3600,
            ),
            (
                "short ttl never shortens",
                ScheduleInput {
                    ttl: Some(Duration::from_secs(60)),
                    ..input()
                },
                900,
            ),
            (
                "max-age lengthens",
                ScheduleInput {
                    cache: CacheHints {
                        max_age: Some(Duration::from_secs(1800)),
                        expires: None,
                    },
                    ..input()
                },
                1800,
            ),
            (
                "expires lengthens",
                ScheduleInput {
                    cache: CacheHints {
                        max_age: None,
                        expires: Some(now() + chrono::Duration::hours(1)),
                    },
                    ..input()
                },
                3600,
            ),
            (
                "huge ttl bounded by max",
                ScheduleInput {
                    ttl: Some(Duration::from_secs(86400)),
                    ..input()
                },
                6 * 3600,
            ),
            (
                "one error doubles",
                ScheduleInput {
                    consecutive_errors: 1,
                    ..input()
                },
                1800,
            ),
            (
                "three errors: 8x",
                ScheduleInput {
                    consecutive_errors: 3,
                    ..input()
                },
                7200,
            ),
            (
                "many errors capped",
                ScheduleInput {
                    consecutive_errors: 40,
                    ..input()
                },
                6 * 3600,
            ),
            (
                "retry-after honoured",
                ScheduleInput {
                    retry_after: Some(Duration::from_secs(7200)),
                    ..input()
                },
                7200,
            ),
            (
                "a short retry-after never shortens the interval",
                ScheduleInput {
                    retry_after: Some(Duration::from_secs(5)),
                    ..input()
                },
                900,
            ),
            (
                "retry-after never undercuts the back-off",
                ScheduleInput {
                    retry_after: Some(Duration::from_secs(120)),
                    consecutive_errors: 2,
                    ..input()
                },
                3600,
            ),
        ];
        for (name, case, expected) in cases {
            assert_eq!(secs(&case), expected, "{name}");
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_never_precedes_retry_after() {
        let low = next_poll(&input(), now(), 0.0) - now();
        let high = next_poll(&input(), now(), 0.999) - now();
        assert_eq!(low.num_seconds(), 810);
        assert!(
            high.num_seconds() >= 989 && high.num_seconds() <= 990,
            "{high}"
        );
        let limited = ScheduleInput {
            retry_after: Some(Duration::from_secs(600)),
            ..input()
        };
        assert!((next_poll(&limited, now(), 0.0) - now()).num_seconds() >= 600);
    }
}

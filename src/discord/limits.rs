//! Discord's rate limits, enforced before each send rather than learned from 429s: at
//! most 5 messages per 5 s to one channel, and 50 requests per second in all. A 429 for
//! the global limit (which ours should prevent, but another process on the same token
//! may cause) pauses every channel until it is over.

use crate::notify::even_quota;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, RateLimiter};
use std::time::Duration;

/// The limits as counts per window; the defaults are Discord's usual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscordLimits {
    /// Messages to one channel per `per_channel_window`.
    pub per_channel: u32,
    pub per_channel_window: Duration,
    /// Requests per second, all channels together.
    pub global_per_second: u32,
}

impl Default for DiscordLimits {
    fn default() -> Self {
        Self {
            per_channel: 5,
            per_channel_window: Duration::from_secs(5),
            global_per_second: 50,
        }
    }
}

pub struct Limiters {
    global: DefaultDirectRateLimiter,
    per_channel: DefaultKeyedRateLimiter<u64>,
    /// Until when Discord's global limit stops every send.
    paused_until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Limiters {
    pub fn new(limits: DiscordLimits) -> Self {
        Self {
            global: RateLimiter::direct(even_quota(
                limits.global_per_second,
                Duration::from_secs(1),
            )),
            per_channel: RateLimiter::keyed(even_quota(
                limits.per_channel,
                limits.per_channel_window,
            )),
            paused_until: std::sync::Mutex::new(None),
        }
    }

    /// Waits until one more message to `channel` is within both limits and no global
    /// pause is on.
    pub async fn until_ready(&self, channel: u64) {
        self.until_unpaused().await;
        self.per_channel.until_key_ready(&channel).await;
        self.global.until_ready().await;
        // A global 429 may have come while this waited for its turn.
        self.until_unpaused().await;
    }

    /// Stops every send for `wait` (Discord answered 429 for its global limit).
    pub fn pause_all(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    async fn until_unpaused(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(until) if until > tokio::time::Instant::now() => {
                    tokio::time::sleep_until(until).await;
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::Quota;

    /// The most sends a quota lets through in any `window`: its burst at once, then one
    /// per period.
    fn most_in_window(quota: Quota, window: Duration) -> u32 {
        let period = quota.replenish_interval().as_secs_f64();
        quota.burst_size().get() + (window.as_secs_f64() / period).floor() as u32
    }

    #[test]
    fn the_default_quotas_stay_within_discords_limits() {
        let limits = DiscordLimits::default();
        let per_channel = even_quota(limits.per_channel, limits.per_channel_window);
        // Discord counts 5 per 5 s per channel: never more in any 5 s, and not far below.
        assert_eq!(most_in_window(per_channel, Duration::from_secs(5)), 5);
        assert!(per_channel.replenish_interval() <= Duration::from_millis(1050));
        let global = even_quota(limits.global_per_second, Duration::from_secs(1));
        let most = most_in_window(global, Duration::from_secs(1));
        assert!((45..=50).contains(&most), "{most} per second");
        assert_eq!(global.burst_size().get(), 1, "no burst at the full rate");
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_pause_holds_every_channel_until_it_is_over() {
        let limiters = Limiters::new(DiscordLimits::default());
        let started = tokio::time::Instant::now();
        limiters.pause_all(Duration::from_secs(3));
        limiters.pause_all(Duration::from_secs(1));
        limiters.until_ready(7).await;
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(3),
            "a shorter pause does not cut a longer one"
        );
        limiters.until_ready(8).await;
        assert_eq!(started.elapsed(), Duration::from_secs(3), "then all go");
    }

    #[test]
    fn a_channel_waits_its_turn_while_others_go() {
        use governor::clock::{Clock, DefaultClock};
        // A long window, so that no pause of a busy machine between the checks matters.
        let limiters = Limiters::new(DiscordLimits {
            per_channel: 2,
            per_channel_window: Duration::from_secs(3600),
            global_per_second: 1000,
        });
        assert!(limiters.per_channel.check_key(&1).is_ok());
        assert!(
            limiters.per_channel.check_key(&2).is_ok(),
            "two channels at once"
        );
        let refused = limiters
            .per_channel
            .check_key(&1)
            .expect_err("the second message to one channel waits a period");
        let wait = refused.wait_time_from(DefaultClock::default().now());
        let period = even_quota(2, Duration::from_secs(3600)).replenish_interval();
        assert!(
            wait <= period && wait + Duration::from_secs(60) > period,
            "{wait:?}: about one period ({period:?})"
        );
    }
}

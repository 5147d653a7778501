//! The delivery loop of one platform. Each round takes the due deliveries from the
//! outbox, plans one message per chat (`delivery::plan`: at most `max_in_flight` chats at
//! once, a chat's burst or digest folded into one message), sends them concurrently and
//! records each outcome. A delivery leaves the outbox only in the transaction that
//! records it delivered or dead. Stops only between rounds, never inside a send.

use crate::delivery::{self, Group, GroupKind};
use crate::domain::{ChatRef, Delivery, DeliveryKind, Platform};
use crate::notify::{Notifier, Receipt, SendError};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Where the loop reads the time: the wall clock in service, a clock driven by tokio's
/// paused time in tests (so a digest due tomorrow at 08:00 can be waited for at once).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A transient error is retried this many times before the delivery is a dead letter.
pub const MAX_ATTEMPTS: u32 = 8;
/// With nothing queued, look again at least this often (a wake-up may come sooner).
const IDLE_RECHECK: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchParams {
    pub max_in_flight: usize,
    pub burst_min: usize,
}

impl From<&crate::config::DeliveryConfig> for DispatchParams {
    fn from(config: &crate::config::DeliveryConfig) -> Self {
        Self {
            max_in_flight: config.max_in_flight,
            burst_min: config.burst_min,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    /// Deliveries accepted by the platform (or found already delivered).
    pub delivered: usize,
    /// Messages sent (a burst or digest is one message for several deliveries).
    pub messages: usize,
    pub retrying: usize,
    pub dropped: usize,
    /// Nothing was due: the next delivery becomes due at this time, if any.
    pub idle_until: Option<DateTime<Utc>>,
    pub idle: bool,
}

/// How one message of a round ended.
enum Sent {
    Delivered(usize),
    Dropped,
    Retrying,
}

/// Sends what is due now for `notifier`'s platform.
pub async fn deliver_round(
    store: &Store,
    notifier: &dyn Notifier,
    now: DateTime<Utc>,
    params: DispatchParams,
) -> Result<Round, StoreError> {
    let (fresh, next, already) = due_unsent(
        store,
        notifier.platform(),
        now,
        params.max_in_flight,
        &HashSet::new(),
    )
    .await?;
    let mut round = Round {
        idle_until: next,
        delivered: already,
        ..Round::default()
    };
    if fresh.is_empty() {
        round.idle = round.delivered == 0;
        return Ok(round);
    }
    let groups = delivery::plan(fresh, params.max_in_flight, params.burst_min);
    // Each message is sent and its outcome recorded on its own, so one chat's store write
    // overlaps the others' sends instead of waiting for the whole round. Each send is
    // timed: a wait the platform asks for counts from its answer, not from the round's start.
    let sends = groups
        .into_iter()
        .map(|group| send_and_record(store, notifier, group, now));
    for outcome in futures_util::future::join_all(sends).await {
        match outcome? {
            Sent::Delivered(deliveries) => {
                round.delivered += deliveries;
                round.messages += 1;
            }
            Sent::Dropped => round.dropped += 1,
            Sent::Retrying => round.retrying += 1,
        }
    }
    Ok(round)
}

/// Sends one planned message and records its outcome at once. The send is timed: a wait
/// the platform asks for counts from its answer, not from when the message was planned.
async fn send_and_record(
    store: &Store,
    notifier: &dyn Notifier,
    group: Group,
    now: DateTime<Utc>,
) -> Result<Sent, StoreError> {
    let started = std::time::Instant::now();
    let result = notifier.send(&group).await;
    let answered = now + to_chrono(started.elapsed());
    let messages = group.deliveries.len();
    match result {
        Ok(receipt) => record_success(store, &group, receipt, answered)
            .await
            .map(|()| Sent::Delivered(messages)),
        Err(error) => record_failure(store, group.deliveries, error, answered)
            .await
            .map(|dropped| {
                if dropped {
                    Sent::Dropped
                } else {
                    Sent::Retrying
                }
            }),
    }
}

async fn record_success(
    store: &Store,
    group: &Group,
    receipt: Receipt,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    store.complete_deliveries(&group.deliveries, at).await?;
    let first = &group.deliveries[0];
    tracing::debug!(chat = %first.chat, deliveries = group.deliveries.len(), kind = ?group.kind, "delivered");
    // Follow-ups about this event reply to the chat's first alert message.
    if let (GroupKind::Single, DeliveryKind::Alert, Some(event), Some(message_id)) =
        (group.kind, &first.kind, &first.event, receipt.message_id)
    {
        store
            .record_first_message(event, &first.chat, message_id)
            .await?;
    }
    Ok(())
}

/// Applies the platform's answer to every delivery of a failed message; returns whether
/// they were dropped to the dead letters.
async fn record_failure(
    store: &Store,
    mut deliveries: Vec<Delivery>,
    error: SendError,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let reason = error.to_string();
    let chat = deliveries[0].chat.clone();
    tracing::warn!(chat = %chat, deliveries = deliveries.len(), error = %reason, "delivery failed");
    let retry_at = match error {
        SendError::RetryAfter(wait) => Some(now + to_chrono(wait)),
        SendError::Transient(_) => {
            let attempts = deliveries.iter().map(|d| d.attempts).max().unwrap_or(0) + 1;
            if attempts >= MAX_ATTEMPTS {
                return drop_all(store, &deliveries, &reason, now).await;
            }
            for delivery in &mut deliveries {
                delivery.attempts = attempts;
            }
            Some(now + to_chrono(backoff(attempts, fastrand::f64())))
        }
        SendError::Malformed(_) if deliveries.iter().all(|d| !d.plain_text) => {
            for delivery in &mut deliveries {
                delivery.plain_text = true;
            }
            // At once, in the next round.
            None
        }
        SendError::Malformed(_) => return drop_all(store, &deliveries, &reason, now).await,
        SendError::Permanent(_) => {
            deactivate(store, &chat, &reason).await?;
            return drop_all(store, &deliveries, &reason, now).await;
        }
        SendError::Migrated(new_id) => {
            let new = migrate(store, &chat, new_id).await?;
            for delivery in &mut deliveries {
                delivery.chat = new.clone();
            }
            // At once, in the next round.
            None
        }
    };
    for delivery in &mut deliveries {
        delivery.last_error = Some(reason.clone());
        delivery.not_before = retry_at;
        store.reschedule_delivery(delivery).await?;
    }
    Ok(false)
}

async fn drop_all(
    store: &Store,
    deliveries: &[Delivery],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    for delivery in deliveries {
        store.dead_letter(delivery, reason, now).await?;
        tracing::error!(delivery = delivery.id, chat = %delivery.chat, reason, "delivery dropped to dead letters");
    }
    Ok(true)
}

/// The chat blocked us or is gone: keep its subscription but stop alerting it, so
/// `/start` can bring it back.
async fn deactivate(store: &Store, chat: &ChatRef, reason: &str) -> Result<(), StoreError> {
    if let Some(mut subscription) = store.subscription(chat)?
        && subscription.active
    {
        subscription.active = false;
        store.put_subscription(&subscription).await?;
        tracing::warn!(chat = %chat, reason, "subscription deactivated");
    }
    Ok(())
}

/// A Telegram group became a supergroup: move its subscription and queued deliveries.
async fn migrate(store: &Store, old: &ChatRef, new_id: i64) -> Result<ChatRef, StoreError> {
    let mut new = old.clone();
    new.id = new_id;
    if let Some(mut subscription) = store.subscription(old)? {
        subscription.chat = new.clone();
        store.put_subscription(&subscription).await?;
        store.remove_subscription(old).await?;
    }
    store.move_deliveries(old, &new).await?;
    tracing::info!(from = %old, to = new_id, "chat migrated");
    Ok(new)
}

/// Exponential back-off with jitter: between half and all of 2^attempts seconds, at most
/// an hour.
pub fn backoff(attempts: u32, random: f64) -> Duration {
    let ceiling =
        Duration::from_secs(2u64.saturating_pow(attempts.min(12))).min(Duration::from_secs(3600));
    ceiling.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::hours(1))
}

/// Runs the loop for one platform until `shutdown`; `wake` is signalled when the poller
/// queues something. Up to `max_in_flight` chats are being sent to at any moment, and a
/// slot is refilled as soon as its message is recorded, so the platform's rate limit is
/// the only pace (rounds that wait for their slowest store write leave it idle).
pub async fn run(
    store: Store,
    notifier: Arc<dyn Notifier>,
    params: DispatchParams,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    run_with_clock(
        store,
        notifier,
        params,
        wake,
        shutdown,
        Arc::new(crate::clock::now),
    )
    .await
}

/// [`run`] reading the time from `clock`.
pub async fn run_with_clock(
    store: Store,
    notifier: Arc<dyn Notifier>,
    params: DispatchParams,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    clock: Clock,
) {
    let platform: Platform = notifier.platform();
    tracing::info!(platform = platform.as_str(), "dispatcher started");
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut busy: HashSet<ChatRef> = HashSet::new();
    loop {
        let mut wait = IDLE_RECHECK;
        // 1. Fill free slots with chats that are not already being sent to. On shutdown no
        //    new send starts; the ones in flight finish and are recorded.
        if !shutdown.is_cancelled() && in_flight.len() < params.max_in_flight {
            match next_groups(
                &store,
                platform,
                params,
                params.max_in_flight - in_flight.len(),
                &busy,
                clock(),
            )
            .await
            {
                Ok((groups, next)) => {
                    if let Some(at) = next {
                        wait = (at - clock())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .min(IDLE_RECHECK);
                    }
                    for group in groups {
                        busy.insert(group.deliveries[0].chat.clone());
                        let notifier = notifier.as_ref();
                        let store = &store;
                        let now = clock();
                        in_flight.push(async move {
                            let chat = group.deliveries[0].chat.clone();
                            (chat, send_and_record(store, notifier, group, now).await)
                        });
                    }
                }
                Err(error) => {
                    tracing::error!(platform = platform.as_str(), %error, "outbox error; retrying in 5 s");
                    wait = Duration::from_secs(5);
                }
            }
        }
        // 2. Wait for a message to finish, for new work, or for the next due time.
        if in_flight.is_empty() {
            if shutdown.is_cancelled() {
                break;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
            continue;
        }
        tokio::select! {
            Some((chat, outcome)) = futures_util::StreamExt::next(&mut in_flight) => {
                busy.remove(&chat);
                if let Err(error) = outcome {
                    tracing::error!(platform = platform.as_str(), chat = %chat, %error, "outbox error after a send");
                }
            }
            () = wake.notified(), if in_flight.len() < params.max_in_flight => {}
            () = tokio::time::sleep(wait), if in_flight.len() < params.max_in_flight => {}
        }
    }
    tracing::info!(platform = platform.as_str(), "dispatcher stopped");
}

/// The due deliveries of at most `max_chats` chats not in `busy`, in the order they became
/// due; the earliest time a waiting delivery becomes due; and how many were already
/// recorded as sent. Those are removed rather than sent again: the idempotency check.
async fn due_unsent(
    store: &Store,
    platform: Platform,
    now: DateTime<Utc>,
    max_chats: usize,
    busy: &HashSet<ChatRef>,
) -> Result<(Vec<Delivery>, Option<DateTime<Utc>>, usize), StoreError> {
    let (due, next) = store.due_deliveries(platform, now, max_chats, busy)?;
    let mut fresh = Vec::with_capacity(due.len());
    let mut already = 0;
    for delivery in due {
        if store.is_delivered(delivery.id)? {
            store.complete_delivery(&delivery, now).await?;
            already += 1;
        } else {
            fresh.push(delivery);
        }
    }
    Ok((fresh, next, already))
}

/// The next messages to send for chats not in `busy`, at most `slots`, and the earliest
/// time a waiting delivery becomes due.
async fn next_groups(
    store: &Store,
    platform: Platform,
    params: DispatchParams,
    slots: usize,
    busy: &HashSet<ChatRef>,
    now: DateTime<Utc>,
) -> Result<(Vec<Group>, Option<DateTime<Utc>>), StoreError> {
    let (fresh, next, _) = due_unsent(store, platform, now, slots, busy).await?;
    Ok((delivery::plan(fresh, slots, params.burst_min), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(3600));
    }
}

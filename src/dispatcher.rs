//! The delivery loop: takes the oldest due delivery of one platform from the outbox,
//! hands it to that platform's notifier, and records the outcome. Stops only between
//! deliveries, never inside a send or a store transaction.

use crate::domain::{Delivery, DeliveryKind, Platform};
use crate::notify::{Notifier, SendError};
use crate::store::{NextDelivery, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A transient error is retried this many times before the delivery is a dead letter.
pub const MAX_ATTEMPTS: u32 = 8;
/// With nothing queued, look again at least this often (a wake-up may come sooner).
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// What one step of the loop did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered {
        id: u64,
    },
    /// Already recorded as delivered (a re-queued duplicate): removed without sending.
    AlreadyDelivered {
        id: u64,
    },
    Retrying {
        id: u64,
        at: DateTime<Utc>,
        reason: String,
    },
    Dropped {
        id: u64,
        reason: String,
    },
    /// Nothing is due; the next delivery becomes due at this time, if any.
    Idle {
        until: Option<DateTime<Utc>>,
    },
}

/// Sends the next due delivery for `notifier`'s platform, if any.
pub async fn deliver_next(
    store: &Store,
    notifier: &dyn Notifier,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, StoreError> {
    let mut delivery = match store.next_delivery(notifier.platform(), now)? {
        NextDelivery::Due(delivery) => *delivery,
        NextDelivery::WaitUntil(at) => return Ok(DeliveryOutcome::Idle { until: Some(at) }),
        NextDelivery::Empty => return Ok(DeliveryOutcome::Idle { until: None }),
    };
    let id = delivery.id;
    if store.is_delivered(id)? {
        store.complete_delivery(&delivery, now).await?;
        return Ok(DeliveryOutcome::AlreadyDelivered { id });
    }
    match notifier.send(&delivery).await {
        Ok(receipt) => {
            store.complete_delivery(&delivery, Utc::now()).await?;
            // Follow-ups about this event reply to the chat's first alert message.
            if let (DeliveryKind::Alert, Some(event), Some(message_id)) =
                (&delivery.kind, &delivery.event, receipt.message_id)
            {
                store
                    .record_first_message(event, &delivery.chat, message_id)
                    .await?;
            }
            tracing::debug!(delivery = id, chat = %delivery.chat, "delivered");
            Ok(DeliveryOutcome::Delivered { id })
        }
        Err(error) => handle_error(store, &mut delivery, error, now).await,
    }
}

async fn handle_error(
    store: &Store,
    delivery: &mut Delivery,
    error: SendError,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, StoreError> {
    let id = delivery.id;
    let reason = error.to_string();
    tracing::warn!(delivery = id, chat = %delivery.chat, error = %reason, "delivery failed");
    delivery.last_error = Some(reason.clone());
    let retry_at = match error {
        SendError::RetryAfter(wait) => now + to_chrono(wait),
        SendError::Transient(_) => {
            delivery.attempts += 1;
            if delivery.attempts >= MAX_ATTEMPTS {
                return drop_delivery(store, delivery, &reason, now).await;
            }
            now + to_chrono(backoff(delivery.attempts, fastrand::f64()))
        }
        SendError::Malformed(_) if !delivery.plain_text => {
            delivery.plain_text = true;
            now
        }
        SendError::Malformed(_) => return drop_delivery(store, delivery, &reason, now).await,
        SendError::Permanent(_) => {
            deactivate(store, delivery, &reason).await?;
            return drop_delivery(store, delivery, &reason, now).await;
        }
        SendError::Migrated(new_id) => {
            migrate(store, delivery, new_id).await?;
            now
        }
    };
    delivery.not_before = Some(retry_at);
    store.reschedule_delivery(delivery).await?;
    Ok(DeliveryOutcome::Retrying {
        id,
        at: retry_at,
        reason,
    })
}

async fn drop_delivery(
    store: &Store,
    delivery: &Delivery,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, StoreError> {
    store.dead_letter(delivery, reason, now).await?;
    tracing::error!(delivery = delivery.id, chat = %delivery.chat, reason, "delivery dropped to dead letters");
    Ok(DeliveryOutcome::Dropped {
        id: delivery.id,
        reason: reason.to_string(),
    })
}

/// The chat blocked us or is gone: keep its subscription but stop alerting it, so
/// `/start` can bring it back.
async fn deactivate(store: &Store, delivery: &Delivery, reason: &str) -> Result<(), StoreError> {
    if let Some(mut subscription) = store.subscription(&delivery.chat)?
        && subscription.active
    {
        subscription.active = false;
        store.put_subscription(&subscription).await?;
        tracing::warn!(chat = %delivery.chat, reason, "subscription deactivated");
    }
    Ok(())
}

/// A Telegram group became a supergroup: move its subscription and queued deliveries.
async fn migrate(store: &Store, delivery: &mut Delivery, new_id: i64) -> Result<(), StoreError> {
    let old = delivery.chat.clone();
    let mut new = old.clone();
    new.id = new_id;
    if let Some(mut subscription) = store.subscription(&old)? {
        subscription.chat = new.clone();
        store.put_subscription(&subscription).await?;
        store.remove_subscription(&old).await?;
    }
    store.move_deliveries(&old, &new).await?;
    delivery.chat = new;
    tracing::info!(from = %old, to = new_id, "chat migrated");
    Ok(())
}

/// Exponential back-off with full jitter: up to 2^attempts seconds, at most an hour.
pub fn backoff(attempts: u32, random: f64) -> Duration {
    let ceiling =
        Duration::from_secs(2u64.saturating_pow(attempts.min(12))).min(Duration::from_secs(3600));
    ceiling.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::hours(1))
}

/// Runs the loop for one platform until `shutdown`; `wake` is signalled when the poller
/// queues something.
pub async fn run(
    store: Store,
    notifier: Arc<dyn Notifier>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let platform: Platform = notifier.platform();
    tracing::info!(platform = platform.as_str(), "dispatcher started");
    while !shutdown.is_cancelled() {
        let wait = match deliver_next(&store, notifier.as_ref(), Utc::now()).await {
            Ok(DeliveryOutcome::Idle { until }) => until
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(IDLE_RECHECK)
                .min(IDLE_RECHECK),
            Ok(_) => continue,
            Err(error) => {
                tracing::error!(platform = platform.as_str(), %error, "outbox error; retrying in 5 s");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => {}
        }
    }
    tracing::info!(platform = platform.as_str(), "dispatcher stopped");
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

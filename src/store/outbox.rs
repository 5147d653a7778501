//! The persisted delivery queue. A delivery leaves the outbox in the same transaction
//! that records it as delivered (or as a dead letter), so a restart neither loses nor
//! repeats it; only a crash between the platform's "ok" and that transaction can repeat
//! the one message in flight.

use super::{DEAD_LETTERS, DELIVERED, OUTBOX, Store, StoreError, decode, encode};
use crate::domain::{ChatRef, Delivery, Platform};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

/// Outbox keys sort by platform, then by delivery id (the order they were queued).
pub(super) fn key(delivery: &Delivery) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(delivery.chat.platform as u8);
    key.extend_from_slice(&delivery.id.to_be_bytes());
    key
}

/// A delivery that will never be sent, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub delivery: Delivery,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: usize,
    pub delivered: usize,
    pub dead_letters: usize,
}

impl Store {
    /// Up to `limit` deliveries for `platform` that may be sent at `now`, in queue order,
    /// and the earliest time one of the others becomes due.
    pub fn due_deliveries(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<DateTime<Utc>>), StoreError> {
        let mut due = Vec::new();
        let mut earliest: Option<DateTime<Utc>> = None;
        for entry in self.outbox.scan_prefix([platform as u8]) {
            let (_, value) = entry?;
            let delivery: Delivery = decode(OUTBOX, &value)?;
            match delivery.not_before {
                Some(at) if at > now => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                _ if due.len() < limit => due.push(delivery),
                _ => {}
            }
        }
        Ok((due, earliest))
    }

    /// Records several deliveries sent as one message, in one transaction.
    pub async fn complete_deliveries(
        &self,
        deliveries: &[Delivery],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = encode(&at)?;
        let keys: Vec<(Vec<u8>, [u8; 8])> = deliveries
            .iter()
            .map(|d| (key(d), d.id.to_be_bytes()))
            .collect();
        (&self.outbox, &self.delivered)
            .transaction(|(outbox, delivered)| {
                for (outbox_key, id) in &keys {
                    outbox.remove(outbox_key.as_slice())?;
                    delivered.insert(id, done.as_slice())?;
                }
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await
    }

    pub fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.outbox
            .iter()
            .values()
            .map(|v| decode(OUTBOX, &v?))
            .collect()
    }

    /// Whether this delivery was already recorded as sent: the idempotency check that keeps
    /// a delivery re-queued by mistake from going out twice.
    pub fn is_delivered(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.delivered.contains_key(id.to_be_bytes())?)
    }

    /// Records that the platform accepted `delivery`, removing it from the outbox, in one
    /// transaction; flushed before returning.
    pub async fn complete_delivery(
        &self,
        delivery: &Delivery,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let outbox_key = key(delivery);
        let done = encode(&at)?;
        (&self.outbox, &self.delivered)
            .transaction(|(outbox, delivered)| {
                outbox.remove(outbox_key.as_slice())?;
                delivered.insert(&delivery.id.to_be_bytes(), done.as_slice())?;
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await
    }

    /// Puts a delivery back with its new attempt count, error and `not_before`.
    pub async fn reschedule_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.outbox.insert(key(delivery), encode(delivery)?)?;
        self.flush().await
    }

    /// Moves a delivery that can never be sent to the dead letters, with the reason.
    pub async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let outbox_key = key(delivery);
        let letter = encode(&DeadLetter {
            delivery: delivery.clone(),
            reason: reason.to_string(),
            at,
        })?;
        (&self.outbox, &self.dead_letters)
            .transaction(|(outbox, dead)| {
                outbox.remove(outbox_key.as_slice())?;
                dead.insert(&delivery.id.to_be_bytes(), letter.as_slice())?;
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters
            .iter()
            .values()
            .map(|v| decode(DEAD_LETTERS, &v?))
            .collect()
    }

    /// Moves every queued delivery for `from` to `to` (a Telegram group that became a
    /// supergroup), so nothing queued for the old id is lost.
    pub async fn move_deliveries(&self, from: &ChatRef, to: &ChatRef) -> Result<usize, StoreError> {
        let mut moved = 0;
        for entry in self.outbox.scan_prefix([from.platform as u8]) {
            let (outbox_key, value) = entry?;
            let mut delivery: Delivery = decode(OUTBOX, &value)?;
            if delivery.chat.id == from.id {
                delivery.chat.id = to.id;
                self.outbox.insert(outbox_key, encode(&delivery)?)?;
                moved += 1;
            }
        }
        self.flush().await?;
        Ok(moved)
    }

    pub fn outbox_stats(&self) -> OutboxStats {
        OutboxStats {
            pending: self.outbox.len(),
            delivered: self.delivered.len(),
            dead_letters: self.dead_letters.len(),
        }
    }

    /// Forgets delivered records older than `cutoff`; the outbox itself is never pruned.
    pub fn prune_delivered(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.delivered.iter() {
            let (id, value) = entry?;
            let at: DateTime<Utc> = decode(DELIVERED, &value)?;
            if at < cutoff {
                self.delivered.remove(id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

//! The persisted delivery queue. A delivery leaves the outbox in the same transaction
//! that records it as delivered (or as a dead letter), so a restart neither loses nor
//! repeats it; only a crash between the platform's "ok" and that transaction can repeat
//! the one message in flight.
//!
//! Beside the outbox sits its schedule, `outbox_due`: one key per queued delivery,
//! `platform | due time (ms) | id`, whose value is the chat's key. Finding what is due, and
//! when the next delivery becomes due, reads only the front of the schedule, so its cost
//! does not grow with the queue (scanning and decoding the whole outbox on every refill
//! made a 10,000-chat fan-out CPU-bound). Every write to the outbox writes the schedule in
//! the same transaction.

use super::{DEAD_LETTERS, DELIVERED, OUTBOX, Store, StoreError, decode, encode};
use crate::domain::{ChatRef, Delivery, Platform};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use std::collections::HashSet;

/// How many schedule entries one look for due work reads at most. Entries are small (no
/// delivery is decoded until its chat is chosen), so this only bounds the work when most
/// of the due deliveries belong to chats already in flight.
const DUE_SCAN: usize = 4096;

/// Outbox keys sort by platform, then by delivery id (the order they were queued).
pub(super) fn key(delivery: &Delivery) -> Vec<u8> {
    outbox_key(delivery.chat.platform, delivery.id)
}

fn outbox_key(platform: Platform, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(platform as u8);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// When a delivery may go: its `not_before`, else when it was queued; in milliseconds,
/// rounded up so that the schedule never calls a delivery due before its `not_before`.
fn due_millis(created: DateTime<Utc>, not_before: Option<DateTime<Utc>>) -> u64 {
    let at = not_before.unwrap_or(created);
    let millis =
        at.timestamp_millis() + i64::from(!at.timestamp_subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(millis).unwrap_or(0)
}

fn schedule_key(platform: Platform, due: u64, id: u64) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = platform as u8;
    key[1..9].copy_from_slice(&due.to_be_bytes());
    key[9..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The schedule key of a delivery as it is stored.
pub(super) fn due_key(delivery: &Delivery) -> [u8; 17] {
    schedule_key(
        delivery.chat.platform,
        due_millis(delivery.created, delivery.not_before),
        delivery.id,
    )
}

/// The two fields of a stored delivery its schedule key depends on; decoding only these
/// skips the alert's text.
#[derive(Deserialize)]
struct DueFields {
    created: DateTime<Utc>,
    #[serde(default)]
    not_before: Option<DateTime<Utc>>,
}

/// Inside a transaction: removes the schedule entry of the stored delivery `old` (an
/// outbox value), if it can be read. An entry left behind by an unreadable record is
/// found and removed by `due_deliveries`.
fn unschedule(
    schedule: &TransactionalTree,
    platform: Platform,
    id: u64,
    old: Option<sled::IVec>,
) -> ConflictableTransactionResult<(), ()> {
    if let Some(old) = old
        && let Ok(fields) = serde_json::from_slice::<DueFields>(&old)
    {
        let due = due_millis(fields.created, fields.not_before);
        schedule.remove(&schedule_key(platform, due, id)[..])?;
    }
    Ok(())
}

/// Inside a transaction: queues `delivery` (outbox record and schedule entry).
pub(super) fn enqueue(
    outbox: &TransactionalTree,
    schedule: &TransactionalTree,
    delivery: &Delivery,
    value: &[u8],
) -> ConflictableTransactionResult<(), ()> {
    let old = outbox.insert(key(delivery), value)?;
    unschedule(schedule, delivery.chat.platform, delivery.id, old)?;
    schedule.insert(&due_key(delivery)[..], delivery.chat.key())?;
    Ok(())
}

/// Inside a transaction: takes `delivery` off the queue (outbox record and schedule entry).
fn dequeue(
    outbox: &TransactionalTree,
    schedule: &TransactionalTree,
    delivery: &Delivery,
) -> ConflictableTransactionResult<(), ()> {
    let old = outbox.remove(key(delivery))?;
    unschedule(schedule, delivery.chat.platform, delivery.id, old)
}

fn schedule_id(entry: &[u8]) -> u64 {
    entry
        .get(9..17)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

fn schedule_time(entry: &[u8]) -> DateTime<Utc> {
    let millis = entry
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    DateTime::from_timestamp_millis(i64::try_from(millis).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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
    /// The deliveries for `platform` that may be sent at `now`, of at most `max_chats`
    /// chats that are not in `busy`, in the order they became due; and the earliest time
    /// one of the waiting deliveries becomes due. Reads the front of the schedule and
    /// decodes only the chosen chats' deliveries.
    pub fn due_deliveries(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
        max_chats: usize,
        busy: &HashSet<ChatRef>,
    ) -> Result<(Vec<Delivery>, Option<DateTime<Utc>>), StoreError> {
        // Rounded up like the schedule's keys, so a delivery due at exactly `now` is in
        // range; one due later in that same millisecond is caught by the exact check below.
        let now_ms = due_millis(now, None);
        let busy: HashSet<Vec<u8>> = busy.iter().map(ChatRef::key).collect();
        let mut chosen: Vec<sled::IVec> = Vec::new();
        let mut due = Vec::new();
        let mut earliest: Option<DateTime<Utc>> = None;
        let range = schedule_key(platform, 0, 0)..=schedule_key(platform, now_ms, u64::MAX);
        for entry in self.outbox_due.range(range).take(DUE_SCAN) {
            let (schedule_entry, chat) = entry?;
            if busy.contains(chat.as_ref()) {
                continue;
            }
            if !chosen.contains(&chat) {
                if chosen.len() >= max_chats {
                    continue;
                }
                chosen.push(chat.clone());
            }
            let id = schedule_id(&schedule_entry);
            let Some(value) = self.outbox.get(outbox_key(platform, id))? else {
                // A schedule entry whose delivery is gone (left by an unreadable record).
                self.outbox_due.remove(&schedule_entry)?;
                continue;
            };
            let delivery: Delivery = decode(OUTBOX, &value)?;
            match delivery.not_before {
                Some(at) if at > now => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                _ => due.push(delivery),
            }
        }
        let later = schedule_key(platform, now_ms.saturating_add(1), 0)
            ..=schedule_key(platform, u64::MAX, u64::MAX);
        if let Some(entry) = self.outbox_due.range(later).next() {
            let (schedule_entry, _) = entry?;
            let at = schedule_time(&schedule_entry);
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
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
        (&self.outbox, &self.outbox_due, &self.delivered)
            .transaction(|(outbox, schedule, delivered)| {
                for delivery in deliveries {
                    dequeue(outbox, schedule, delivery)?;
                    delivered.insert(&delivery.id.to_be_bytes(), done.as_slice())?;
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
        self.complete_deliveries(std::slice::from_ref(delivery), at)
            .await
    }

    /// Puts a delivery back with its new attempt count, error and `not_before`.
    pub async fn reschedule_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let value = encode(delivery)?;
        (&self.outbox, &self.outbox_due)
            .transaction(|(outbox, schedule)| enqueue(outbox, schedule, delivery, &value))
            .map_err(StoreError::from_transaction)?;
        self.flush().await
    }

    /// Moves a delivery that can never be sent to the dead letters, with the reason.
    pub async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let letter = encode(&DeadLetter {
            delivery: delivery.clone(),
            reason: reason.to_string(),
            at,
        })?;
        (&self.outbox, &self.outbox_due, &self.dead_letters)
            .transaction(|(outbox, schedule, dead)| {
                dequeue(outbox, schedule, delivery)?;
                dead.insert(&delivery.id.to_be_bytes(), letter.as_slice())?;
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await
    }

    /// Rebuilds the schedule from the outbox when the two disagree: a database written
    /// before the schedule existed, or one whose schedule lost entries. Run at open.
    pub(super) fn rebuild_schedule_if_needed(&self) -> Result<(), StoreError> {
        if self.outbox.len() == self.outbox_due.len() {
            return Ok(());
        }
        self.outbox_due.clear()?;
        let mut rebuilt = 0usize;
        for entry in self.outbox.iter() {
            let (_, value) = entry?;
            let delivery: Delivery = decode(OUTBOX, &value)?;
            self.outbox_due
                .insert(&due_key(&delivery)[..], delivery.chat.key())?;
            rebuilt += 1;
        }
        self.db.flush()?;
        tracing::info!(deliveries = rebuilt, "rebuilt the outbox schedule");
        Ok(())
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters
            .iter()
            .values()
            .map(|v| decode(DEAD_LETTERS, &v?))
            .collect()
    }

    /// Moves every queued delivery for `from` to `to` (a Telegram group that became a
    /// supergroup), so nothing queued for the old id is lost. One transaction.
    pub async fn move_deliveries(&self, from: &ChatRef, to: &ChatRef) -> Result<usize, StoreError> {
        let mut moved = Vec::new();
        for entry in self.outbox.scan_prefix([from.platform as u8]) {
            let (_, value) = entry?;
            let mut delivery: Delivery = decode(OUTBOX, &value)?;
            if delivery.chat.id == from.id {
                delivery.chat.id = to.id;
                let value = encode(&delivery)?;
                moved.push((delivery, value));
            }
        }
        (&self.outbox, &self.outbox_due)
            .transaction(|(outbox, schedule)| {
                for (delivery, value) in &moved {
                    enqueue(outbox, schedule, delivery, value)?;
                }
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await?;
        Ok(moved.len())
    }

    pub fn outbox_stats(&self) -> OutboxStats {
        OutboxStats {
            // The schedule holds one small entry per queued delivery: counting it is far
            // cheaper than walking the outbox's records.
            pending: self.outbox_due.len(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Alert, Classification, DeliveryKind, FeedId, Item, ItemId, Lang};
    use crate::store::PollCommit;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("date").to_utc()
    }

    fn chat(id: i64) -> ChatRef {
        ChatRef {
            platform: Platform::Telegram,
            id,
            thread: None,
        }
    }

    fn delivery(chat_id: i64, created: DateTime<Utc>) -> Delivery {
        let item = Item {
            id: ItemId(chat_id as u64),
            feed: FeedId::parse("test").expect("id"),
            outlet: "Test".into(),
            title: "Stop all'export".into(),
            summary: String::new(),
            link: None,
            published: None,
            first_seen: created,
            lang: Lang::It,
        };
        let alert = Alert {
            item,
            classification: Classification::default(),
        };
        Delivery::new(chat(chat_id), alert, None, DeliveryKind::Alert, created)
    }

    async fn queued(store: &Store, deliveries: Vec<Delivery>) -> Vec<Delivery> {
        let commit = PollCommit {
            deliveries,
            ..PollCommit::default()
        };
        store.commit_poll(commit).await.expect("queue")
    }

    fn due_chats(store: &Store, now: DateTime<Utc>, max_chats: usize, busy: &[i64]) -> Vec<i64> {
        let busy: HashSet<ChatRef> = busy.iter().map(|id| chat(*id)).collect();
        let (due, _) = store
            .due_deliveries(Platform::Telegram, now, max_chats, &busy)
            .expect("due");
        due.iter().map(|d| d.chat.id).collect()
    }

    #[tokio::test]
    async fn the_schedule_follows_every_change_to_the_outbox() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let t0 = at("2026-11-29T09:00:00Z");
        let mut queue = queued(&store, (1..=4).map(|c| delivery(c, t0)).collect()).await;
        // Due in queue order, at most `max_chats` chats, busy chats skipped.
        assert_eq!(due_chats(&store, t0, 10, &[]), vec![1, 2, 3, 4]);
        assert_eq!(due_chats(&store, t0, 2, &[]), vec![1, 2]);
        assert_eq!(due_chats(&store, t0, 2, &[1, 3]), vec![2, 4]);
        // Nothing is due before it was queued.
        let before = t0 - chrono::Duration::seconds(1);
        let (due, next) = store
            .due_deliveries(Platform::Telegram, before, 10, &HashSet::new())
            .expect("due");
        assert!(due.is_empty());
        assert_eq!(next, Some(t0));

        // A rescheduled delivery leaves the front and comes back at its time, to the
        // microsecond: one microsecond early it is still waiting.
        let later = t0 + chrono::Duration::microseconds(30_000_500);
        queue[0].not_before = Some(later);
        store
            .reschedule_delivery(&queue[0])
            .await
            .expect("reschedule");
        assert_eq!(due_chats(&store, t0, 10, &[]), vec![2, 3, 4]);
        let (_, next) = store
            .due_deliveries(Platform::Telegram, t0, 10, &HashSet::new())
            .expect("due");
        assert_eq!(next, Some(t0 + chrono::Duration::milliseconds(30_001)));
        let early = later - chrono::Duration::microseconds(1);
        assert_eq!(due_chats(&store, early, 10, &[2, 3, 4]), Vec::<i64>::new());
        assert_eq!(due_chats(&store, later, 10, &[2, 3, 4]), vec![1]);

        // Completed, dead and moved deliveries leave (or move in) the schedule with them.
        store
            .complete_delivery(&queue[1], t0)
            .await
            .expect("complete");
        store
            .dead_letter(&queue[2], "403", t0)
            .await
            .expect("dead letter");
        assert_eq!(
            store
                .move_deliveries(&chat(4), &chat(-4))
                .await
                .expect("move"),
            1
        );
        assert_eq!(due_chats(&store, later, 10, &[]), vec![-4, 1]);
        assert_eq!(store.outbox.len(), 2);
        assert_eq!(store.outbox_due.len(), 2);
    }

    #[tokio::test]
    async fn a_database_without_a_schedule_gets_one_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let t0 = at("2026-11-29T09:00:00Z");
        queued(&store, (1..=3).map(|c| delivery(c, t0)).collect()).await;
        // As a database written before the schedule existed: nothing looks due.
        store.outbox_due.clear().expect("clear");
        assert!(due_chats(&store, t0, 10, &[]).is_empty());
        // What `Store::open` runs (reopening in this process would race sled's own
        // threads for the database lock).
        store.rebuild_schedule_if_needed().expect("rebuild");
        assert_eq!(store.outbox_due.len(), 3);
        assert_eq!(due_chats(&store, t0, 10, &[]), vec![1, 2, 3]);
        // A schedule that agrees with the outbox is left alone.
        store.rebuild_schedule_if_needed().expect("no-op");
        assert_eq!(store.outbox_due.len(), 3);
    }

    #[tokio::test]
    async fn a_schedule_entry_without_its_delivery_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let t0 = at("2026-11-29T09:00:00Z");
        let queue = queued(&store, (1..=2).map(|c| delivery(c, t0)).collect()).await;
        store.outbox.remove(key(&queue[0])).expect("remove");
        assert_eq!(due_chats(&store, t0, 10, &[]), vec![2]);
        assert_eq!(store.outbox_due.len(), 1);
    }
}

//! Events and their indexes. One `event_index` tree holds four kinds of keys, each
//! ending in the event's last-seen time and id so a prefix scan lists newest last:
//! `t` + time + id (every event: what grouping compares with), `r` + time + id (events
//! with a topic: what users list and search), `p` + topic + 0 + time + id,
//! `e` + entity + 0 + time + id. Every item has an event, most of no topic: those serve
//! grouping only, are never listed, and are pruned once no new report can join them.

use super::{EVENTS, Store, StoreError, decode, encode};
use crate::domain::{ChatRef, Event, EventId};
use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

fn time_bytes(time: DateTime<Utc>) -> [u8; 8] {
    // Offset so that times before 1970 still sort before later ones as unsigned bytes.
    (time.timestamp_millis() as u64 ^ (1 << 63)).to_be_bytes()
}

fn suffix(event: &Event) -> Vec<u8> {
    let mut key = time_bytes(event.last_seen).to_vec();
    key.extend_from_slice(event.id.as_str().as_bytes());
    key
}

/// Every index key of `event` in its current state.
pub(super) fn index_keys(event: &Event) -> Vec<Vec<u8>> {
    let tail = suffix(event);
    let mut keys = vec![[b"t".as_slice(), &tail].concat()];
    if !event.topics.is_empty() {
        keys.push([b"r".as_slice(), &tail].concat());
    }
    for topic in &event.topics {
        keys.push([b"p", topic.as_str().as_bytes(), &[0], &tail].concat());
    }
    for entity in &event.entities {
        keys.push([b"e", entity.name.to_lowercase().as_bytes(), &[0], &tail].concat());
    }
    keys
}

/// Inside a transaction: writes `event`, replacing the index keys of its previous state.
pub(super) fn upsert(
    events: &TransactionalTree,
    index: &TransactionalTree,
    event: &Event,
    value: &[u8],
) -> ConflictableTransactionResult<(), ()> {
    if let Some(old) = events.get(event.id.as_str())?
        && let Ok(old) = serde_json::from_slice::<Event>(&old)
    {
        for key in index_keys(&old) {
            index.remove(key)?;
        }
    }
    events.insert(event.id.as_str(), value)?;
    for key in index_keys(event) {
        index.insert(key, &[])?;
    }
    Ok(())
}

/// When a chat was last sent something about an event, and the message to reply to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventDelivery {
    pub first_message_id: Option<i64>,
    pub last_queued: DateTime<Utc>,
}

impl Store {
    pub fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.events
            .get(id.as_str())?
            .map(|v| decode(EVENTS, &v))
            .transpose()
    }

    pub fn event_exists(&self, id: &EventId) -> bool {
        self.events.contains_key(id.as_str()).unwrap_or(true)
    }

    fn events_from_keys(
        &self,
        keys: impl Iterator<Item = sled::Result<sled::IVec>>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::new();
        for key in keys {
            let key = key?;
            let Some(id) = key
                .get(key.len().saturating_sub(6)..)
                .and_then(|b| std::str::from_utf8(b).ok())
            else {
                continue;
            };
            let Some(id) = EventId::parse(id) else {
                continue;
            };
            if let Some(event) = self.event(&id)? {
                found.push(event);
            }
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// The newest events with a topic (optionally this one), newest first.
    pub fn recent_events(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let prefix = match topic {
            Some(topic) => [b"p", topic.as_bytes(), &[0]].concat(),
            None => b"r".to_vec(),
        };
        let keys = self.event_index.scan_prefix(prefix).keys().rev();
        self.events_from_keys(keys, limit)
    }

    /// Events naming an entity (any case), newest first.
    pub fn events_with_entity(&self, entity: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        let prefix = [b"e", entity.to_lowercase().as_bytes(), &[0]].concat();
        self.events_from_keys(self.event_index.scan_prefix(prefix).keys().rev(), limit)
    }

    /// Events last seen at or after `since`: the candidates a new item may join.
    pub fn events_since(&self, since: DateTime<Utc>) -> Result<Vec<Event>, StoreError> {
        let start = [b"t".as_slice(), &time_bytes(since)].concat();
        let keys = self.event_index.range(start..b"u".to_vec()).keys();
        self.events_from_keys(keys, usize::MAX)
    }

    /// Forgets events last seen before `cutoff`, with their index keys and per-chat
    /// records. Returns how many.
    pub fn prune_events(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.forget_events_before(cutoff, |_| true)
    }

    /// Forgets events of no topic last seen before `cutoff` (the grouping window ago: no
    /// new report can join them, and no one is told of them). Returns how many.
    pub fn prune_events_without_topics(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.forget_events_before(cutoff, |event| event.topics.is_empty())
    }

    fn forget_events_before(
        &self,
        cutoff: DateTime<Utc>,
        which: impl Fn(&Event) -> bool,
    ) -> Result<usize, StoreError> {
        let old = self.events_from_keys(
            self.event_index
                .range(b"t".to_vec()..[b"t".as_slice(), &time_bytes(cutoff)].concat())
                .keys(),
            usize::MAX,
        )?;
        let mut forgotten = 0;
        for event in old.iter().filter(|event| which(event)) {
            for key in index_keys(event) {
                self.event_index.remove(key)?;
            }
            self.events.remove(event.id.as_str())?;
            for entry in self.event_deliveries.scan_prefix(event.id.as_str()).keys() {
                self.event_deliveries.remove(entry?)?;
            }
            forgotten += 1;
        }
        Ok(forgotten)
    }

    /// Adds the `r` keys of events stored before they existed (once; see the module doc).
    pub(super) fn index_relevant_events_if_needed(&self) -> Result<(), StoreError> {
        const DONE: &str = "relevant_event_index";
        if self.meta.contains_key(DONE)? {
            return Ok(());
        }
        let mut indexed = 0usize;
        for entry in self.events.iter() {
            let (_, value) = entry?;
            let event: Event = decode(EVENTS, &value)?;
            if !event.topics.is_empty() {
                self.event_index
                    .insert([b"r".as_slice(), &suffix(&event)].concat(), &[])?;
                indexed += 1;
            }
        }
        self.meta.insert(DONE, &[1])?;
        self.db.flush()?;
        if indexed > 0 {
            tracing::info!(events = indexed, "indexed the events users list");
        }
        Ok(())
    }

    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    fn event_delivery_key(event: &EventId, chat: &ChatRef) -> Vec<u8> {
        [event.as_str().as_bytes(), &chat.key()].concat()
    }

    pub fn event_delivery(
        &self,
        event: &EventId,
        chat: &ChatRef,
    ) -> Result<Option<EventDelivery>, StoreError> {
        let key = Self::event_delivery_key(event, chat);
        self.event_deliveries
            .get(key)?
            .map(|v| decode("event_deliveries", &v))
            .transpose()
    }

    pub(super) fn event_delivery_entry(
        event: &EventId,
        chat: &ChatRef,
        record: &EventDelivery,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        Ok((Self::event_delivery_key(event, chat), encode(record)?))
    }

    /// Remembers the message id of the first alert about `event` in `chat`, so follow-ups
    /// can reply to it.
    pub async fn record_first_message(
        &self,
        event: &EventId,
        chat: &ChatRef,
        message_id: i64,
    ) -> Result<(), StoreError> {
        let key = Self::event_delivery_key(event, chat);
        let mut record = self.event_delivery(event, chat)?.unwrap_or(EventDelivery {
            first_message_id: None,
            last_queued: crate::clock::now(),
        });
        if record.first_message_id.is_none() {
            record.first_message_id = Some(message_id);
            self.event_deliveries.insert(key, encode(&record)?)?;
            self.flush().await?;
        }
        Ok(())
    }
}

//! The only user of sled. Owns the trees, the record encoding and the schema version;
//! every commit point that a later step relies on is flushed before it returns.
//! No sled type leaves this module.

mod error;
mod events;
mod outbox;
mod recovery;

pub use error::StoreError;
pub use events::EventDelivery;
pub use recovery::{Inspection, Salvage};

use crate::domain::{
    ChatRef, Delivery, Event, EventId, FeedId, FeedRecord, FeedState, Item, ItemId, Subscription,
};
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use sled::Transactional;
use std::path::{Path, PathBuf};

/// Bump when a record's encoding changes incompatibly; `open` refuses a mismatch.
pub const SCHEMA_VERSION: u32 = 1;

const META: &str = "meta";
const SEEN: &str = "seen";
const ITEMS: &str = "items";
const FEEDS: &str = "feeds";
const SUBSCRIPTIONS: &str = "subscriptions";
const OUTBOX: &str = "outbox";
const OUTBOX_DUE: &str = "outbox_due";
const DELIVERED: &str = "delivered";
const DEAD_LETTERS: &str = "dead_letters";
const EVENTS: &str = "events";
const EVENT_INDEX: &str = "event_index";
const EVENT_DELIVERIES: &str = "event_deliveries";
const FEED_RECORDS: &str = "feed_records";

/// A remembered item: when it was first seen, so the seen-set is pruned by age.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeenRecord {
    pub first_seen: DateTime<Utc>,
}

/// Everything one poll of one feed changes, written in one transaction.
#[derive(Debug, Default)]
pub struct PollCommit {
    pub feed: Option<(FeedId, FeedState)>,
    pub seen: Vec<ItemId>,
    /// Relevant items, kept for `/recent`, `/search` and events.
    pub items: Vec<Item>,
    /// Deliveries to queue; their `id` is assigned here.
    pub deliveries: Vec<Delivery>,
    /// Events created or grown by this poll.
    pub events: Vec<Event>,
    /// Per chat and event: when a delivery about it was last queued.
    pub event_deliveries: Vec<(EventId, ChatRef, EventDelivery)>,
    /// When the items were seen (the poll's time); the store's clock when not given.
    pub seen_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    meta: sled::Tree,
    seen: sled::Tree,
    items: sled::Tree,
    feeds: sled::Tree,
    subscriptions: sled::Tree,
    outbox: sled::Tree,
    /// The outbox's schedule: see `outbox.rs`.
    outbox_due: sled::Tree,
    delivered: sled::Tree,
    dead_letters: sled::Tree,
    events: sled::Tree,
    event_index: sled::Tree,
    event_deliveries: sled::Tree,
    feed_records: sled::Tree,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(tree: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: tree.to_string(),
        detail: e.to_string(),
    })
}

/// Whether a stored `schema_version` is the one this chipwatch writes.
fn schema_matches(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let found = <[u8; 4]>::try_from(bytes)
        .map(u32::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            tree: META.into(),
            detail: "schema_version is not 4 bytes".into(),
        })?;
    if found == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(StoreError::SchemaMismatch {
            path: path.to_path_buf(),
            found,
            expected: SCHEMA_VERSION,
        })
    }
}

impl Store {
    /// Opens (or creates) the database in `dir`, writing the schema version at first open
    /// and refusing a database written by an incompatible version.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|e| StoreError::from_open(dir, e))?;
        let tree = |name: &str| db.open_tree(name).map_err(StoreError::from);
        let store = Store {
            path: dir.to_path_buf(),
            meta: tree(META)?,
            seen: tree(SEEN)?,
            items: tree(ITEMS)?,
            feeds: tree(FEEDS)?,
            subscriptions: tree(SUBSCRIPTIONS)?,
            outbox: tree(OUTBOX)?,
            outbox_due: tree(OUTBOX_DUE)?,
            delivered: tree(DELIVERED)?,
            dead_letters: tree(DEAD_LETTERS)?,
            events: tree(EVENTS)?,
            event_index: tree(EVENT_INDEX)?,
            event_deliveries: tree(EVENT_DELIVERIES)?,
            feed_records: tree(FEED_RECORDS)?,
            db,
        };
        store.check_schema()?;
        store.rebuild_schedule_if_needed()?;
        store.index_relevant_events_if_needed()?;
        Ok(store)
    }

    /// Whether `dir` holds a database (sled's `db` or `conf` file), without touching it.
    pub fn exists(dir: &Path) -> bool {
        dir.join("db").is_file() || dir.join("conf").is_file()
    }

    /// Opens the database in `dir` as [`Store::open`] does, but never creates one: a
    /// directory without a database is `StoreError::Missing`, and nothing is written there.
    /// What read-only commands (`db stats`, `feeds`) use, so a mistyped `--data-dir` is an
    /// error instead of a new empty database.
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        if !Self::exists(dir) {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        Self::open(dir)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.meta.get("schema_version")? {
            None => {
                self.meta
                    .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                self.db.flush()?;
                Ok(())
            }
            Some(bytes) => schema_matches(&self.path, &bytes),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything sled holds in memory to disk. sled 0.34's `flush_async` can lose
    /// its wake-up when several run at once (spacejam/sled#1308) and hang the caller, so
    /// the blocking flush runs on a blocking thread instead.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Sled(format!("flush task: {e}")))??;
        Ok(())
    }

    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    pub fn is_seen(&self, id: ItemId) -> Result<bool, StoreError> {
        Ok(self.seen.contains_key(id.to_bytes())?)
    }

    pub fn seen_count(&self) -> usize {
        self.seen.len()
    }

    pub fn feed_state(&self, feed: &FeedId) -> Result<Option<FeedState>, StoreError> {
        self.feeds
            .get(feed.as_str())?
            .map(|bytes| decode(FEEDS, &bytes))
            .transpose()
    }

    pub fn feed_states(&self) -> Result<Vec<(FeedId, FeedState)>, StoreError> {
        let mut states = Vec::new();
        for entry in self.feeds.iter() {
            let (key, value) = entry?;
            let id = String::from_utf8_lossy(&key).into_owned();
            let Ok(id) = FeedId::parse(&id) else { continue };
            states.push((id, decode(FEEDS, &value)?));
        }
        Ok(states)
    }

    pub async fn put_feed_state(&self, feed: &FeedId, state: &FeedState) -> Result<(), StoreError> {
        self.feeds.insert(feed.as_str(), encode(state)?)?;
        self.flush().await
    }

    /// Feeds added at run time, in id order.
    pub fn feed_records(&self) -> Result<Vec<FeedRecord>, StoreError> {
        self.feed_records
            .iter()
            .values()
            .map(|v| decode(FEED_RECORDS, &v?))
            .collect()
    }

    pub async fn put_feed_record(&self, record: &FeedRecord) -> Result<(), StoreError> {
        self.feed_records
            .insert(record.id.as_str(), encode(record)?)?;
        self.flush().await
    }

    pub async fn remove_feed_record(&self, id: &FeedId) -> Result<bool, StoreError> {
        let removed = self.feed_records.remove(id.as_str())?.is_some();
        self.flush().await?;
        Ok(removed)
    }

    pub fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        self.items
            .get(id.to_bytes())?
            .map(|bytes| decode(ITEMS, &bytes))
            .transpose()
    }

    pub fn items(&self) -> Result<Vec<Item>, StoreError> {
        self.items
            .iter()
            .values()
            .map(|v| decode(ITEMS, &v?))
            .collect()
    }

    /// Writes one poll's outcome atomically: the feed's state, the newly seen items, the
    /// relevant items and their queued deliveries; then flushes. After this returns, a
    /// crash can neither lose the deliveries nor alert the items again.
    pub async fn commit_poll(&self, mut commit: PollCommit) -> Result<Vec<Delivery>, StoreError> {
        for delivery in &mut commit.deliveries {
            delivery.id = self.db.generate_id()?;
        }
        let seen_value = encode(&SeenRecord {
            first_seen: commit.seen_at.unwrap_or_else(crate::clock::now),
        })?;
        let feed = match &commit.feed {
            Some((id, state)) => Some((id.as_str().as_bytes().to_vec(), encode(state)?)),
            None => None,
        };
        let item_records: Vec<(Vec<u8>, Vec<u8>)> = commit
            .items
            .iter()
            .map(|item| Ok((item.id.to_bytes().to_vec(), encode(item)?)))
            .collect::<Result<_, StoreError>>()?;
        let deliveries: Vec<(&Delivery, Vec<u8>)> = commit
            .deliveries
            .iter()
            .map(|d| Ok((d, encode(d)?)))
            .collect::<Result<_, StoreError>>()?;
        let events: Vec<(&Event, Vec<u8>)> = commit
            .events
            .iter()
            .map(|e| Ok((e, encode(e)?)))
            .collect::<Result<_, StoreError>>()?;
        let event_deliveries: Vec<(Vec<u8>, Vec<u8>)> = commit
            .event_deliveries
            .iter()
            .map(|(event, chat, record)| Self::event_delivery_entry(event, chat, record))
            .collect::<Result<_, StoreError>>()?;
        let trees = (
            &self.seen,
            &self.items,
            &self.feeds,
            &self.outbox,
            &self.outbox_due,
            &self.events,
            &self.event_index,
            &self.event_deliveries,
        );
        trees
            .transaction(
                |(
                    seen,
                    items,
                    feeds,
                    outbox,
                    schedule,
                    events_tree,
                    index,
                    event_deliveries_tree,
                )| {
                    for id in &commit.seen {
                        seen.insert(&id.to_bytes(), seen_value.as_slice())?;
                    }
                    for (key, value) in &item_records {
                        items.insert(key.as_slice(), value.as_slice())?;
                    }
                    if let Some((key, value)) = &feed {
                        feeds.insert(key.as_slice(), value.as_slice())?;
                    }
                    for (delivery, value) in &deliveries {
                        outbox::enqueue(outbox, schedule, delivery, value)?;
                    }
                    for (event, value) in &events {
                        events::upsert(events_tree, index, event, value)?;
                    }
                    for (key, value) in &event_deliveries {
                        event_deliveries_tree.insert(key.as_slice(), value.as_slice())?;
                    }
                    Ok(())
                },
            )
            .map_err(|e: sled::transaction::TransactionError<()>| {
                StoreError::from_transaction(e)
            })?;
        self.flush().await?;
        Ok(commit.deliveries)
    }

    /// Forgets seen items and stored items first seen before `cutoff`. Returns how many.
    pub fn prune_seen(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.seen.iter() {
            let (key, value) = entry?;
            let record: SeenRecord = decode(SEEN, &value)?;
            if record.first_seen < cutoff {
                self.seen.remove(&key)?;
                self.items.remove(&key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.subscriptions
            .iter()
            .values()
            .map(|v| decode(SUBSCRIPTIONS, &v?))
            .collect()
    }

    pub fn subscription(
        &self,
        chat: &crate::domain::ChatRef,
    ) -> Result<Option<Subscription>, StoreError> {
        self.subscriptions
            .get(chat.key())?
            .map(|v| decode(SUBSCRIPTIONS, &v))
            .transpose()
    }

    pub async fn put_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        self.subscriptions
            .insert(subscription.chat.key(), encode(subscription)?)?;
        self.flush().await
    }

    pub async fn remove_subscription(
        &self,
        chat: &crate::domain::ChatRef,
    ) -> Result<bool, StoreError> {
        let removed = self.subscriptions.remove(chat.key())?.is_some();
        self.flush().await?;
        Ok(removed)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Values that callers of the outbox keep; see `outbox.rs`.
pub use outbox::{DeadLetter, OutboxStats};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Entity, EntityKind, EventSource};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("date").to_utc()
    }

    fn event(id: u64, last_seen: DateTime<Utc>) -> Event {
        Event {
            id: EventId::from_number(id),
            topics: vec![crate::domain::TopicId::parse("export_ban").expect("id")],
            entities: vec![Entity {
                kind: EntityKind::Chip,
                name: "H20".into(),
            }],
            headline: format!("story {id}"),
            sources: vec![EventSource {
                item: ItemId(id),
                outlet: "O".into(),
                title: "t".into(),
                link: None,
                time: last_seen,
                score: 1.0,
                tokens: vec![],
                topics: vec![],
            }],
            first_seen: last_seen,
            last_seen,
        }
    }

    #[tokio::test]
    async fn old_records_are_pruned_by_age_and_recent_ones_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let old = at("2026-08-01T00:00:00Z");
        let recent = at("2026-11-28T00:00:00Z");
        for (id, when) in [(1, old), (2, recent)] {
            let commit = PollCommit {
                seen: vec![ItemId(id)],
                events: vec![event(id, when)],
                seen_at: Some(when),
                ..PollCommit::default()
            };
            store.commit_poll(commit).await.expect("commit");
        }
        let cutoff = at("2026-09-01T00:00:00Z");
        assert_eq!(store.prune_seen(cutoff).expect("prune"), 1);
        assert!(
            !store.is_seen(ItemId(1)).expect("read") && store.is_seen(ItemId(2)).expect("read")
        );
        assert_eq!(store.prune_events(cutoff).expect("prune"), 1);
        assert_eq!(store.event_count(), 1);
        assert_eq!(
            store.events_with_entity("h20", 10).expect("index").len(),
            1,
            "the index lost the old event too"
        );
        assert_eq!(
            store.recent_events(None, 10).expect("recent")[0].id,
            EventId::from_number(2)
        );
    }

    #[tokio::test]
    async fn events_of_no_topic_group_but_are_never_listed_and_go_after_the_window() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = at("2026-11-01T00:00:00Z");
        let recent = at("2026-11-28T00:00:00Z");
        let mut quiet_old = event(1, old);
        quiet_old.topics.clear();
        let mut quiet_recent = event(2, recent);
        quiet_recent.topics.clear();
        {
            let store = Store::open(dir.path()).expect("store");
            let commit = PollCommit {
                events: vec![quiet_old, quiet_recent, event(3, old)],
                ..PollCommit::default()
            };
            store.commit_poll(commit).await.expect("commit");
            // Grouping compares with every event of the window; users see those with a topic.
            assert_eq!(store.events_since(old).expect("window").len(), 3);
            let listed: Vec<EventId> = store
                .recent_events(None, 10)
                .expect("recent")
                .into_iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(listed, [EventId::from_number(3)]);
            // A database written before the `r` index: the index is rebuilt at open.
            for key in store.event_index.scan_prefix(b"r").keys() {
                store.event_index.remove(key.expect("key")).expect("remove");
            }
            store.meta.remove("relevant_event_index").expect("remove");
            store.flush_blocking().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.recent_events(None, 10).expect("recent").len(), 1);
        // Past the window: the topicless old event goes, the other two stay.
        let cutoff = at("2026-11-20T00:00:00Z");
        assert_eq!(store.prune_events_without_topics(cutoff).expect("prune"), 1);
        assert_eq!(store.event_count(), 2);
        assert!(!store.event_exists(&EventId::from_number(1)));
        assert_eq!(store.events_since(old).expect("window").len(), 2);
    }

    #[test]
    fn a_database_of_another_schema_is_refused_with_a_way_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("store");
            store
                .meta
                .insert("schema_version", &99u32.to_be_bytes())
                .expect("write");
            store.flush_blocking().expect("flush");
        }
        let error = Store::open(dir.path()).expect_err("refused");
        assert!(matches!(
            error,
            StoreError::SchemaMismatch {
                found: 99,
                expected: SCHEMA_VERSION,
                ..
            }
        ));
        assert!(
            error.to_string().contains("chipwatch db recover"),
            "{error}"
        );
    }
}

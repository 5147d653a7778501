//! What `chipwatch db recover` needs from the old database: whether it is healthy (it
//! opens and passes the schema check), and the subscriptions and queued deliveries that
//! can still be read from it; and writing those into the new database.
//!
//! The old database is opened once and held (sled's file lock with it) until the caller
//! has moved it aside, so no other process can open it in between, and this process never
//! reopens a database its own sled threads may still hold.

use super::{META, OUTBOX, SUBSCRIPTIONS, Store, StoreError, decode, encode, outbox};
use crate::domain::{Delivery, Subscription};
use sled::Transactional;
use std::path::Path;

/// What could be read from an old database.
#[derive(Debug, Default)]
pub struct Salvage {
    pub subscriptions: Vec<Subscription>,
    /// Queued deliveries, in the order they were queued (per platform).
    pub deliveries: Vec<Delivery>,
    /// Records (or whole trees) that could not be read.
    pub unreadable: usize,
}

/// An old database, opened for recovery: its problem, if any, and what it still holds.
pub struct Inspection {
    /// Held until [`Inspection::release`]: keeps sled's lock on the old database.
    db: Option<sled::Db>,
    /// Why the database cannot be used (`None`: it opens and passes the schema check).
    pub problem: Option<StoreError>,
    pub salvage: Salvage,
}

impl std::fmt::Debug for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspection")
            .field("open", &self.db.is_some())
            .field("problem", &self.problem)
            .field("salvage", &self.salvage)
            .finish()
    }
}

impl Inspection {
    pub fn is_healthy(&self) -> bool {
        self.problem.is_none()
    }

    /// Closes the old database (releasing its lock) and hands back what was read.
    pub fn release(self) -> Salvage {
        drop(self.db);
        self.salvage
    }
}

/// Reads every record of `name` that decodes; counts the rest. A tree that is not there
/// holds nothing (and is not created: the old database is only read). An iteration error
/// ends the tree, so a damaged page cannot keep the loop going.
fn read_tree<T: serde::de::DeserializeOwned>(
    db: &sled::Db,
    name: &str,
    unreadable: &mut usize,
) -> Vec<T> {
    let exists = db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == name.as_bytes());
    if !exists {
        return Vec::new();
    }
    let tree = match db.open_tree(name) {
        Ok(tree) => tree,
        Err(error) => {
            tracing::warn!(tree = name, %error, "cannot open the tree of the old database");
            *unreadable += 1;
            return Vec::new();
        }
    };
    let mut records = Vec::new();
    for entry in tree.iter().values() {
        match entry {
            Ok(bytes) => match decode(name, &bytes) {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::warn!(%error, "skipping an unreadable record");
                    *unreadable += 1;
                }
            },
            Err(error) => {
                tracing::warn!(tree = name, %error, "cannot read on in the old database");
                *unreadable += 1;
                break;
            }
        }
    }
    records
}

/// The schema problem of an opened database, if any; a database without a version is
/// accepted, as [`Store::open`] accepts it (and writes the version).
fn schema_problem(db: &sled::Db, dir: &Path) -> Option<StoreError> {
    if !db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == META.as_bytes())
    {
        return None;
    }
    let version = db
        .open_tree(META)
        .and_then(|meta| meta.get("schema_version"));
    match version {
        Ok(None) => None,
        Ok(Some(bytes)) => super::schema_matches(dir, &bytes).err(),
        Err(error) => Some(StoreError::from(error)),
    }
}

impl Store {
    /// Opens the database in `dir` for recovery and reads what it still holds. Errors only
    /// when there is no database (`Missing`) or another process holds it (`Locked`); a
    /// database that cannot be used is an inspection with a `problem`.
    pub fn inspect(dir: &Path) -> Result<Inspection, StoreError> {
        if !Self::exists(dir) {
            return Err(StoreError::Missing {
                path: dir.to_path_buf(),
            });
        }
        let db = match sled::Config::new().path(dir).open() {
            Ok(db) => db,
            Err(error) => {
                return match StoreError::from_open(dir, error) {
                    locked @ StoreError::Locked { .. } => Err(locked),
                    problem => Ok(Inspection {
                        db: None,
                        problem: Some(problem),
                        salvage: Salvage::default(),
                    }),
                };
            }
        };
        let problem = schema_problem(&db, dir);
        let mut salvage = Salvage::default();
        salvage.subscriptions = read_tree(&db, SUBSCRIPTIONS, &mut salvage.unreadable);
        salvage.deliveries = read_tree(&db, OUTBOX, &mut salvage.unreadable);
        Ok(Inspection {
            db: Some(db),
            problem,
            salvage,
        })
    }

    /// Writes what was salvaged from an old database into this one, in one transaction:
    /// the subscriptions, and the queued deliveries under ids of this database (the old
    /// ids could collide with the ones it hands out), in their order. Flushed. Returns how
    /// many subscriptions and deliveries were written.
    pub async fn restore(&self, salvage: &Salvage) -> Result<(usize, usize), StoreError> {
        let subscriptions: Vec<(Vec<u8>, Vec<u8>)> = salvage
            .subscriptions
            .iter()
            .map(|s| Ok((s.chat.key(), encode(s)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut deliveries = Vec::with_capacity(salvage.deliveries.len());
        for delivery in &salvage.deliveries {
            let mut delivery = delivery.clone();
            delivery.id = self.db.generate_id()?;
            let value = encode(&delivery)?;
            deliveries.push((delivery, value));
        }
        (&self.subscriptions, &self.outbox, &self.outbox_due)
            .transaction(|(subscriptions_tree, outbox_tree, schedule)| {
                for (key, value) in &subscriptions {
                    subscriptions_tree.insert(key.as_slice(), value.as_slice())?;
                }
                for (delivery, value) in &deliveries {
                    outbox::enqueue(outbox_tree, schedule, delivery, value)?;
                }
                Ok(())
            })
            .map_err(StoreError::from_transaction)?;
        self.flush().await?;
        Ok((subscriptions.len(), deliveries.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Alert, ChatRef, Classification, DeliveryKind, FeedId, Item, ItemId};
    use crate::domain::{Lang, Platform};
    use crate::store::PollCommit;

    fn chat(id: i64) -> ChatRef {
        ChatRef {
            platform: Platform::Telegram,
            id,
            thread: None,
        }
    }

    fn delivery(chat_id: i64) -> Delivery {
        let now = crate::clock::now();
        let item = Item {
            id: ItemId(chat_id as u64),
            feed: FeedId::parse("test").expect("id"),
            outlet: "Test".into(),
            title: format!("Stop all'export {chat_id}"),
            summary: String::new(),
            link: None,
            published: None,
            first_seen: now,
            lang: Lang::It,
        };
        let alert = Alert {
            item,
            classification: Classification::default(),
        };
        Delivery::new(chat(chat_id), alert, None, DeliveryKind::Alert, now)
    }

    #[tokio::test]
    async fn a_database_of_another_schema_is_damaged_and_its_records_are_kept() {
        let old = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(old.path()).expect("store");
            for id in [1, 2] {
                store
                    .put_subscription(&Subscription::new(chat(id)))
                    .await
                    .expect("subscribe");
            }
            let commit = PollCommit {
                deliveries: vec![delivery(1), delivery(2), delivery(2)],
                ..PollCommit::default()
            };
            store.commit_poll(commit).await.expect("queue");
            store
                .subscriptions
                .insert(chat(3).key(), b"{not json".to_vec())
                .expect("garbage");
            store
                .meta
                .insert("schema_version", &99u32.to_be_bytes())
                .expect("write");
            store.flush_blocking().expect("flush");
        }
        let inspection = Store::inspect(old.path()).expect("inspect");
        assert!(matches!(
            inspection.problem,
            Some(StoreError::SchemaMismatch { found: 99, .. })
        ));
        let salvage = inspection.release();
        assert_eq!(salvage.subscriptions.len(), 2);
        assert_eq!(salvage.deliveries.len(), 3);
        assert_eq!(salvage.unreadable, 1);

        // Written into a new database that has handed out ids of its own already.
        let new = tempfile::tempdir().expect("temp dir");
        let store = Store::open(new.path()).expect("new store");
        let first = store
            .commit_poll(PollCommit {
                deliveries: vec![delivery(7)],
                ..PollCommit::default()
            })
            .await
            .expect("queue");
        assert_eq!(store.restore(&salvage).await.expect("restore"), (2, 3));
        assert_eq!(store.subscriptions().expect("read").len(), 2);
        let pending = store.pending_deliveries().expect("read");
        let chats: Vec<i64> = pending.iter().map(|d| d.chat.id).collect();
        assert_eq!(chats, [7, 1, 2, 2], "none overwritten, order kept");
        assert!(pending.iter().skip(1).all(|d| d.id > first[0].id));
        assert_eq!(store.outbox_stats().pending, 4, "scheduled");
    }

    #[test]
    fn a_healthy_database_has_no_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(Store::open(dir.path()).expect("store"));
        let inspection = Store::inspect(dir.path()).expect("inspect");
        assert!(inspection.is_healthy(), "{inspection:?}");
    }

    #[test]
    fn nothing_to_inspect_is_missing_and_stays_missing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope");
        assert!(matches!(
            Store::inspect(&missing),
            Err(StoreError::Missing { .. })
        ));
        assert!(matches!(
            Store::open_existing(&missing),
            Err(StoreError::Missing { .. })
        ));
        assert!(!missing.exists());
    }
}

//! `chipwatch db` and the read-only commands against the real binary: `db recover`
//! respects the lock of a running process and a healthy database, and keeps what it can
//! read; `db stats`, `feeds` and `poll --once --dry-run` never create a database.

use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::{Chipwatch, Exit};
use crate::support::rss;
use chipwatch::domain::{
    Alert, ChatRef, Classification, Delivery, DeliveryKind, FeedId, Item, ItemId, Lang, Platform,
    Subscription, TopicId,
};
use chipwatch::store::{PollCommit, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

const BAN: (&str, &str, &str) = (
    "ban-h20",
    "Gli Stati Uniti vietano l'export dei chip NVIDIA H20 verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale: serve una licenza per vendere H20 a clienti cinesi.",
);
const REVIEW: (&str, &str, &str) = (
    "review-phone",
    "Recensione Samsung Galaxy S26: display e batteria al top",
    "Abbiamo provato per due settimane il nuovo smartphone di Samsung: ecco come va la fotocamera.",
);

/// A configuration whose database is `data` and whose one feed is `feed_url`, each of
/// whose first polls may alert `backfill` items.
fn write_config(dir: &Path, data: &Path, feed_url: &str, backfill: usize) -> PathBuf {
    let config = format!(
        r#"
[settings]
data_dir = "{data}"
topics_file = "{topics}"
allow_private_addresses = true

[console]
enabled = true

[[feeds]]
id = "local"
name = "Local outlet"
url = "{feed_url}"
lang = "it"
backfill = {backfill}
"#,
        data = data.display(),
        topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
    );
    let path = dir.join("chipwatch.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

fn chat(id: i64) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        id,
        thread: None,
    }
}

fn alert(n: u64) -> Alert {
    let now = chipwatch::clock::now();
    Alert {
        item: Item {
            id: ItemId(n),
            feed: FeedId::parse("local").expect("id"),
            outlet: "Local outlet".into(),
            title: format!("Stop all'export di chip {n}"),
            summary: String::new(),
            link: None,
            published: Some(now),
            first_seen: now,
            lang: Lang::It,
        },
        classification: Classification::default(),
    }
}

/// Two subscribed chats, each with one queued delivery.
async fn populate(store: &Store) {
    for id in [11, 12] {
        let mut subscription = Subscription::new(chat(id));
        subscription
            .topics
            .insert(TopicId::parse("export_ban").expect("id"));
        store
            .put_subscription(&subscription)
            .await
            .expect("subscribe");
    }
    let now = chipwatch::clock::now();
    let deliveries = [(11, 1), (12, 2)]
        .iter()
        .map(|(c, n)| Delivery::new(chat(*c), alert(*n), None, DeliveryKind::Alert, now))
        .collect();
    store
        .commit_poll(PollCommit {
            deliveries,
            ..PollCommit::default()
        })
        .await
        .expect("queue");
}

/// The directories beside `data` that `db recover` moved a database to.
fn moved_aside(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("data.broken-"))
        })
        .collect()
}

fn stderr(exit: &Exit) -> String {
    exit.stderr.join("\n")
}

#[tokio::test]
async fn recover_refuses_while_another_process_holds_the_database() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = write_config(dir.path(), &data, &server.url("/feed.xml"), 0);
    // This test process holds the database, as `chipwatch run` would.
    let store = Store::open(&data).expect("store");
    populate(&store).await;

    let exit = Chipwatch::start(&config, &["db", "recover"])
        .finish(LIMIT)
        .await;
    assert_ne!(exit.code, 0, "refused: {:#?}", exit.stderr);
    assert!(
        stderr(&exit).contains("held by another process"),
        "{:#?}",
        exit.stderr
    );
    assert!(moved_aside(dir.path()).is_empty(), "nothing moved aside");
    // The holder goes on with its database, where it was.
    assert_eq!(store.path(), data.as_path());
    assert_eq!(store.subscriptions().expect("read").len(), 2);
    assert_eq!(store.pending_deliveries().expect("read").len(), 2);
    assert!(data.join("db").is_file());
    assert_eq!(server.hits("/feed.xml").requests, 0, "no feed was polled");
}

#[tokio::test]
async fn recover_refuses_a_healthy_database_without_force() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = write_config(dir.path(), &data, &server.url("/feed.xml"), 0);
    {
        let store = Store::open(&data).expect("store");
        populate(&store).await;
    }

    let exit = Chipwatch::start(&config, &["db", "recover"])
        .finish(LIMIT)
        .await;
    assert_ne!(exit.code, 0, "refused: {:#?}", exit.stderr);
    assert!(stderr(&exit).contains("--force"), "{:#?}", exit.stderr);
    assert!(moved_aside(dir.path()).is_empty(), "nothing moved aside");
    let store = Store::open(&data).expect("still there");
    assert_eq!(store.subscriptions().expect("read").len(), 2);
    assert_eq!(store.pending_deliveries().expect("read").len(), 2);
}

#[tokio::test]
async fn recover_with_force_keeps_subscriptions_and_queued_deliveries() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = write_config(dir.path(), &data, &server.url("/feed.xml"), 5);
    {
        let store = Store::open(&data).expect("store");
        populate(&store).await;
    }

    let exit = Chipwatch::start(&config, &["db", "recover", "--force"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    assert!(
        stderr(&exit).contains("kept 2 subscriptions and 2 queued deliveries"),
        "{:#?}",
        exit.stderr
    );
    assert!(
        exit.stdout.iter().all(|l| !l.starts_with("ALERT")),
        "nothing alerted: {:#?}",
        exit.stdout
    );
    assert_eq!(moved_aside(dir.path()).len(), 1, "the old one moved aside");

    let store = Store::open(&data).expect("the new database");
    for id in [11, 12] {
        let subscription = store
            .subscription(&chat(id))
            .expect("read")
            .unwrap_or_else(|| panic!("chat {id} still subscribed"));
        assert!(subscription.active);
        assert!(
            subscription
                .topics
                .contains(&TopicId::parse("export_ban").expect("id"))
        );
    }
    let mut queued: Vec<(i64, String)> = store
        .pending_deliveries()
        .expect("read")
        .into_iter()
        .map(|d| (d.chat.id, d.alert.item.title))
        .collect();
    queued.sort();
    assert_eq!(
        queued,
        [
            (11, "Stop all'export di chip 1".to_string()),
            (12, "Stop all'export di chip 2".to_string())
        ]
    );
    assert_eq!(store.outbox_stats().pending, 2, "scheduled as well");
    // The seen-set was rebuilt from the feed, alerting nothing (backfill is off).
    assert_eq!(store.seen_count(), 2);
}

#[tokio::test]
async fn recover_of_a_damaged_database_needs_no_force() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN])));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = write_config(dir.path(), &data, &server.url("/feed.xml"), 0);
    drop(Store::open(&data).expect("store"));
    // sled cannot read its own configuration any more.
    std::fs::write(data.join("conf"), b"\xff\xfe not a sled configuration").expect("damage");

    let exit = Chipwatch::start(&config, &["db", "recover"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    assert!(stderr(&exit).contains("is damaged"), "{:#?}", exit.stderr);
    assert!(
        stderr(&exit).contains("kept 0 subscriptions and 0 queued deliveries"),
        "{:#?}",
        exit.stderr
    );
    assert_eq!(moved_aside(dir.path()).len(), 1);
    assert_eq!(Store::open(&data).expect("new").seen_count(), 1);
}

/// Runs `args` on a data directory that does not exist and checks that it fails with a
/// clear error and leaves the directory uncreated.
async fn refuses_a_missing_database(args: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = dir.path().join("dtaa");
    let config = write_config(dir.path(), &typo, "http://127.0.0.1:9/feed.xml", 0);
    let exit = Chipwatch::start(&config, args).finish(LIMIT).await;
    assert_eq!(exit.code, 1, "{args:?}: {:#?}", exit.stderr);
    assert!(
        stderr(&exit).contains(&format!("no database at {}", typo.display())),
        "{args:?}: {:#?}",
        exit.stderr
    );
    assert!(!typo.exists(), "{args:?} created {}", typo.display());
}

#[tokio::test]
async fn db_stats_on_a_missing_database_creates_nothing() {
    refuses_a_missing_database(&["db", "stats"]).await;
}

#[tokio::test]
async fn feeds_on_a_missing_database_creates_nothing() {
    refuses_a_missing_database(&["feeds"]).await;
}

#[tokio::test]
async fn recover_on_a_missing_database_creates_nothing() {
    refuses_a_missing_database(&["db", "recover"]).await;
}

#[tokio::test]
async fn a_dry_run_without_a_database_prints_alerts_and_creates_nothing() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = write_config(dir.path(), &data, &server.url("/feed.xml"), 5);
    let scratch = dir.path().join("tmp");
    std::fs::create_dir(&scratch).expect("tmp");
    let tmpdir = scratch.display().to_string();

    let exit = Chipwatch::start_with_env(
        &config,
        &["poll", "--once", "--dry-run"],
        &[("TMPDIR", tmpdir.as_str())],
    )
    .finish(LIMIT)
    .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let alerts: Vec<&String> = exit
        .stdout
        .iter()
        .filter(|l| l.starts_with("ALERT"))
        .collect();
    assert_eq!(alerts.len(), 1, "{:#?}", exit.stdout);
    assert!(alerts[0].contains("NVIDIA H20"), "{}", alerts[0]);
    assert!(!data.exists(), "the dry run created {}", data.display());
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}

//! Delivery rules through the library: a real sled store on a temporary directory, the
//! real dispatcher and poller, and a scripted notifier behind the `Notifier` seam that
//! answers as a platform would. Time is passed as `now`, never slept; the running loop is
//! driven by tokio's paused clock.

use chipwatch::config::Config;
use chipwatch::delivery::{Group, GroupKind};
use chipwatch::dispatcher::{self, DispatchParams, MAX_ATTEMPTS};
use chipwatch::domain::{
    Alert, ChatRef, Classification, Delivery, DeliveryKind, DeliveryMode, FeedId, Item, ItemId,
    Lang, Platform, QuietHours, Subscription, TopicId, TopicScore,
};
use chipwatch::notify::{Notifier, Receipt, SendError};
use chipwatch::store::{PollCommit, Store};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PARAMS: DispatchParams = DispatchParams {
    max_in_flight: 4,
    burst_min: 3,
};

/// Answers each send with the next scripted result (Ok when the script is empty) and
/// records what it was asked to send.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Receipt, SendError>>>,
    sent: Mutex<Vec<(GroupKind, Vec<u64>, bool)>>,
}

impl Scripted {
    fn answering(answers: Vec<Result<Receipt, SendError>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            sent: Mutex::default(),
        }
    }
    fn sent(&self) -> Vec<(GroupKind, Vec<u64>, bool)> {
        self.sent.lock().expect("sent").clone()
    }
}

impl Notifier for Scripted {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }
    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>> {
        let ids = group.deliveries.iter().map(|d| d.id).collect();
        let plain = group.deliveries.iter().all(|d| d.plain_text);
        self.sent
            .lock()
            .expect("sent")
            .push((group.kind, ids, plain));
        let answer = self
            .answers
            .lock()
            .expect("answers")
            .pop_front()
            .unwrap_or(Ok(Receipt {
                message_id: Some(1),
            }));
        Box::pin(async move { answer })
    }
}

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

fn alert(n: u64) -> Alert {
    let now = at("2026-11-29T09:00:00Z");
    Alert {
        item: Item {
            id: ItemId(n),
            feed: FeedId::parse("test").expect("id"),
            outlet: "Test".into(),
            title: format!("Stop all'export di chip {n}"),
            summary: String::new(),
            link: None,
            published: Some(now),
            first_seen: now,
            lang: Lang::It,
        },
        classification: Classification {
            topics: vec![TopicScore {
                topic: TopicId::parse("export_ban").expect("id"),
                score: 3.0,
            }],
            entities: vec![],
            why: vec![],
            concepts: vec![],
            actor: None,
        },
    }
}

async fn queue(store: &Store, chats_and_items: &[(i64, u64)]) -> Vec<Delivery> {
    let now = at("2026-11-29T09:00:00Z");
    let deliveries = chats_and_items
        .iter()
        .map(|(c, n)| Delivery::new(chat(*c), alert(*n), None, DeliveryKind::Alert, now))
        .collect();
    store
        .commit_poll(PollCommit {
            deliveries,
            ..PollCommit::default()
        })
        .await
        .expect("queue")
}

async fn subscribe(store: &Store, id: i64) {
    let mut subscription = Subscription::new(chat(id));
    subscription
        .topics
        .insert(TopicId::parse("export_ban").expect("id"));
    store
        .put_subscription(&subscription)
        .await
        .expect("subscribe");
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    (dir, store)
}

#[tokio::test]
async fn transient_errors_back_off_then_become_dead_letters() {
    let (_dir, store) = temp_store();
    queue(&store, &[(1, 1)]).await;
    let failures = (0..MAX_ATTEMPTS)
        .map(|_| Err(SendError::Transient("502 Bad Gateway".into())))
        .collect();
    let notifier = Scripted::answering(failures);
    let mut now = at("2026-11-29T09:00:00Z");
    for attempt in 1..MAX_ATTEMPTS {
        let round = dispatcher::deliver_round(&store, &notifier, now, PARAMS)
            .await
            .expect("round");
        assert_eq!(round.retrying, 1, "attempt {attempt}");
        let pending = store.pending_deliveries().expect("pending");
        assert_eq!(pending[0].attempts, attempt);
        let not_before = pending[0].not_before.expect("backed off");
        let wait = (not_before - now).num_milliseconds();
        let ceiling = 1000 * 2i64.pow(attempt);
        assert!(
            wait >= ceiling / 2 && wait <= ceiling,
            "attempt {attempt}: waits {wait} ms"
        );
        // Not due before its time.
        assert!(
            dispatcher::deliver_round(
                &store,
                &notifier,
                not_before - chrono::Duration::milliseconds(1),
                PARAMS
            )
            .await
            .expect("round")
            .idle
        );
        now = not_before;
    }
    let round = dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    assert_eq!(round.dropped, 1);
    let letters = store.dead_letters().expect("letters");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].reason.contains("502"), "{}", letters[0].reason);
    assert_eq!(store.outbox_stats().pending, 0);
}

#[tokio::test]
async fn rate_limits_wait_the_time_asked_from_the_answer() {
    let (_dir, store) = temp_store();
    queue(&store, &[(1, 1)]).await;
    let notifier = Scripted::answering(vec![Err(SendError::RetryAfter(Duration::from_secs(37)))]);
    let now = at("2026-11-29T09:00:00Z");
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    let pending = store.pending_deliveries().expect("pending");
    // 37 s from the platform's answer, which came (microseconds) after `now`.
    let wait = pending[0].not_before.expect("waits") - now;
    assert!(
        wait >= chrono::Duration::seconds(37) && wait < chrono::Duration::seconds(38),
        "{wait}"
    );
    let early = dispatcher::deliver_round(
        &store,
        &notifier,
        now + chrono::Duration::seconds(36),
        PARAMS,
    );
    assert!(early.await.expect("round").idle);
    assert_eq!(
        pending[0].attempts, 0,
        "a rate limit is not a failed attempt"
    );
    let round = dispatcher::deliver_round(
        &store,
        &notifier,
        now + chrono::Duration::seconds(38),
        PARAMS,
    )
    .await
    .expect("round");
    assert_eq!(round.delivered, 1);
}

#[tokio::test]
async fn permanent_errors_deactivate_the_chat_and_keep_the_reason() {
    let (_dir, store) = temp_store();
    subscribe(&store, 1).await;
    queue(&store, &[(1, 1), (1, 2)]).await;
    let notifier = Scripted::answering(vec![Err(SendError::Permanent(
        "Forbidden: bot was blocked by the user".into(),
    ))]);
    let round = dispatcher::deliver_round(&store, &notifier, at("2026-11-29T09:00:00Z"), PARAMS)
        .await
        .expect("round");
    assert_eq!(round.dropped, 1);
    assert!(
        !store
            .subscription(&chat(1))
            .expect("read")
            .expect("kept")
            .active
    );
    assert_eq!(store.dead_letters().expect("letters").len(), 1);
    // The second alert for the same chat is dropped on its turn, with the same reason.
    let notifier = Scripted::answering(vec![Err(SendError::Permanent(
        "Forbidden: bot was blocked by the user".into(),
    ))]);
    dispatcher::deliver_round(&store, &notifier, at("2026-11-29T09:00:01Z"), PARAMS)
        .await
        .expect("round");
    assert_eq!(store.dead_letters().expect("letters").len(), 2);
}

#[tokio::test]
async fn a_refused_message_is_retried_once_as_plain_text_then_kept_as_dead_letter() {
    let (_dir, store) = temp_store();
    queue(&store, &[(1, 1), (2, 2)]).await;
    let refused = || {
        Err(SendError::Malformed(
            "Bad Request: can't parse entities".into(),
        ))
    };
    let notifier = Scripted::answering(vec![refused(), Ok(Receipt::default())]);
    let now = at("2026-11-29T09:00:00Z");
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    let sent = notifier.sent();
    assert_eq!(sent[0], (GroupKind::Single, vec![sent[0].1[0]], false));
    assert!(
        sent.iter()
            .any(|(_, ids, plain)| *plain && ids == &sent[0].1),
        "retried as plain text: {sent:?}"
    );
    assert_eq!(store.outbox_stats().pending, 0);
    // Refused twice: a dead letter, never lost silently.
    queue(&store, &[(3, 3)]).await;
    let notifier = Scripted::answering(vec![refused(), refused()]);
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    let letters = store.dead_letters().expect("letters");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].delivery.plain_text);
}

#[tokio::test]
async fn a_migrated_chat_gets_the_alert_at_its_new_id() {
    let (_dir, store) = temp_store();
    subscribe(&store, -5).await;
    queue(&store, &[(-5, 1)]).await;
    let notifier = Scripted::answering(vec![Err(SendError::Migrated(-1005))]);
    let now = at("2026-11-29T09:00:00Z");
    dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    let round = dispatcher::deliver_round(&store, &notifier, now, PARAMS)
        .await
        .expect("round");
    assert_eq!(round.delivered, 1);
    assert!(store.subscription(&chat(-5)).expect("read").is_none());
    assert!(store.subscription(&chat(-1005)).expect("read").is_some());
}

#[tokio::test]
async fn a_burst_for_one_chat_is_one_message_and_chats_go_in_parallel() {
    let (_dir, store) = temp_store();
    queue(&store, &[(1, 1), (1, 2), (1, 3), (1, 4), (2, 5), (3, 6)]).await;
    let notifier = Scripted::default();
    let round = dispatcher::deliver_round(&store, &notifier, at("2026-11-29T09:00:00Z"), PARAMS)
        .await
        .expect("round");
    assert_eq!((round.delivered, round.messages), (6, 3));
    let sent = notifier.sent();
    assert_eq!(
        sent[0],
        (
            GroupKind::Burst,
            vec![sent[0].1[0], sent[0].1[1], sent[0].1[2], sent[0].1[3]],
            false
        )
    );
    assert_eq!(sent[0].1.len(), 4);
    assert_eq!(store.outbox_stats().delivered, 6);
}

/// A config for a poller test: one file feed that will be rewritten between polls.
fn poller_config(dir: &std::path::Path, extra: &str) -> Config {
    let feed = dir.join("feed.xml");
    std::fs::write(
        &feed,
        crate::support::rss(&[("old", "Recensione smartphone", "Niente di rilevante.")]),
    )
    .expect("feed");
    let text = format!(
        "{extra}\n[settings]\ndata_dir = \"{}\"\ntopics_file = \"{}\"\n[console]\nenabled = false\n[[feeds]]\nid = \"f\"\nname = \"Fonte\"\nurl = \"file://{}\"\n",
        dir.join("data").display(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
        feed.display()
    );
    let path = dir.join("chipwatch.toml");
    std::fs::write(&path, text).expect("config");
    Config::load(&path, None).expect("config loads")
}

const BAN: (&str, &str, &str) = (
    "ban",
    "Gli Stati Uniti vietano l'export dei chip NVIDIA H20 verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale.",
);
const APPROVAL: (&str, &str, &str) = (
    "approval",
    "La Cina autorizza ByteDance e Alibaba ad acquistare i chip NVIDIA H200",
    "Pechino concede il via libera all'importazione di 400.000 chip H200, con condizioni.",
);

async fn poller(config: &Config) -> (Store, chipwatch::poller::Poller) {
    let store = Store::open(&config.settings.data_dir).expect("store");
    let rules = std::sync::Arc::new(chipwatch::app::compile_rules(config).expect("rules"));
    let fetcher = chipwatch::feeds::Fetcher::new(chipwatch::feeds::FetcherSettings::from_config(
        &config.settings,
    ))
    .expect("fetcher");
    let poller = chipwatch::poller::Poller::new(store.clone(), fetcher, rules, config);
    (store, poller)
}

#[tokio::test]
async fn digest_subscribers_get_one_message_at_their_local_time_unless_a_topic_bypasses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = poller_config(dir.path(), "[delivery]\ndigest_bypass = [\"export_ban\"]");
    let (store, poller) = poller(&config).await;
    let mut subscription = Subscription::new(chat(7));
    subscription
        .topics
        .insert(TopicId::parse("export_ban").expect("id"));
    subscription
        .topics
        .insert(TopicId::parse("approval").expect("id"));
    subscription.mode = DeliveryMode::Digest {
        minute_of_day: 8 * 60,
    };
    store
        .put_subscription(&subscription)
        .await
        .expect("subscribe");
    let feed = &config.feeds[0];
    // 10:00 in Rome: prime, then two stories arrive.
    let now = at("2026-11-29T09:00:00Z");
    poller.poll_feed(feed, now, false).await;
    let FeedPath(path) = feed_path(feed);
    std::fs::write(
        &path,
        crate::support::rss(&[
            BAN,
            APPROVAL,
            ("old", "Recensione smartphone", "Niente di rilevante."),
        ]),
    )
    .expect("feed");
    poller
        .poll_feed(feed, now + chrono::Duration::minutes(5), false)
        .await;
    let notifier = Scripted::default();
    // The ban bypasses the digest and goes at once; the approval waits for 08:00 tomorrow.
    let round = dispatcher::deliver_round(
        &store,
        &notifier,
        now + chrono::Duration::minutes(5),
        PARAMS,
    )
    .await
    .expect("round");
    assert_eq!(round.delivered, 1);
    let held = store.pending_deliveries().expect("pending");
    assert_eq!(held.len(), 1);
    assert!(held[0].digest);
    assert_eq!(
        held[0].not_before,
        Some(at("2026-11-30T07:00:00Z")),
        "08:00 in Rome (UTC+1)"
    );
    assert!(
        dispatcher::deliver_round(&store, &notifier, at("2026-11-30T06:59:59Z"), PARAMS)
            .await
            .expect("round")
            .idle
    );
    let round = dispatcher::deliver_round(&store, &notifier, at("2026-11-30T07:00:00Z"), PARAMS)
        .await
        .expect("round");
    assert_eq!((round.delivered, round.messages), (1, 1));
    assert_eq!(notifier.sent().last().map(|s| s.0), Some(GroupKind::Digest));
}

/// Records the clock's time at each send and wakes the test.
struct Timed {
    clock: dispatcher::Clock,
    sent: Mutex<Vec<(DateTime<Utc>, GroupKind)>>,
    signal: tokio::sync::Notify,
}

impl Notifier for Timed {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }
    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>> {
        self.sent
            .lock()
            .expect("sent")
            .push(((self.clock)(), group.kind));
        self.signal.notify_one();
        Box::pin(async { Ok(Receipt::default()) })
    }
}

#[tokio::test(start_paused = true)]
async fn the_running_loop_sends_a_digest_at_its_time_and_not_before() {
    let (_dir, store) = temp_store();
    // The loop's clock: 10:05 in Rome when the test starts, moving with tokio's paused time.
    let start = tokio::time::Instant::now();
    let base = at("2026-11-29T09:05:00Z");
    let clock: dispatcher::Clock =
        Arc::new(move || base + chrono::Duration::from_std(start.elapsed()).expect("elapsed fits"));
    let due = at("2026-11-30T07:00:00Z");
    let mut held = Delivery::new(chat(7), alert(1), None, DeliveryKind::Alert, base);
    held.digest = true;
    held.not_before = Some(due);
    let soon = Delivery::new(chat(8), alert(2), None, DeliveryKind::Alert, base);
    store
        .commit_poll(PollCommit {
            deliveries: vec![held, soon],
            ..PollCommit::default()
        })
        .await
        .expect("queue");
    let notifier = Arc::new(Timed {
        clock: clock.clone(),
        sent: Mutex::default(),
        signal: tokio::sync::Notify::new(),
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(dispatcher::run_with_clock(
        store.clone(),
        notifier.clone(),
        PARAMS,
        Arc::new(tokio::sync::Notify::new()),
        shutdown.clone(),
        clock,
    ));
    // Bounded in virtual time: two days, far more than the 22 hours the digest waits.
    let waited = tokio::time::timeout(Duration::from_secs(2 * 24 * 3600), async {
        while notifier.sent.lock().expect("sent").len() < 2 {
            notifier.signal.notified().await;
        }
    })
    .await;
    shutdown.cancel();
    running.await.expect("the loop stops");
    assert!(waited.is_ok(), "the digest never went: {:?}", notifier.sent);
    let sent = notifier.sent.lock().expect("sent").clone();
    // The instant alert at once; the digest at 08:00 Rome, to the second, not before.
    assert_eq!(sent[0], (base, GroupKind::Single));
    assert_eq!(sent[1].1, GroupKind::Digest);
    assert!(
        sent[1].0 >= due && sent[1].0 - due < chrono::Duration::seconds(1),
        "digest sent at {}",
        sent[1].0
    );
    assert_eq!(store.outbox_stats().pending, 0);
}

#[tokio::test]
async fn quiet_hours_defer_alerts_to_their_end_when_configured() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = poller_config(dir.path(), "[delivery]\nquiet_hours = \"defer\"");
    let (store, poller) = poller(&config).await;
    let mut subscription = Subscription::new(chat(8));
    subscription
        .topics
        .insert(TopicId::parse("export_ban").expect("id"));
    subscription.quiet = Some(QuietHours {
        start: 22 * 60,
        end: 7 * 60,
    });
    store
        .put_subscription(&subscription)
        .await
        .expect("subscribe");
    let feed = &config.feeds[0];
    // 23:30 in Rome.
    let night = at("2026-11-29T22:30:00Z");
    poller.poll_feed(feed, night, false).await;
    let FeedPath(path) = feed_path(feed);
    std::fs::write(
        &path,
        crate::support::rss(&[
            BAN,
            ("old", "Recensione smartphone", "Niente di rilevante."),
        ]),
    )
    .expect("feed");
    poller
        .poll_feed(feed, night + chrono::Duration::minutes(1), false)
        .await;
    let held = store.pending_deliveries().expect("pending");
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].not_before,
        Some(at("2026-11-30T06:00:00Z")),
        "07:00 in Rome"
    );
}

struct FeedPath(std::path::PathBuf);

fn feed_path(feed: &chipwatch::config::FeedConfig) -> FeedPath {
    match &feed.source {
        chipwatch::config::FeedSource::File(path) => FeedPath(path.clone()),
        other => panic!("a file feed, not {other}"),
    }
}

#[tokio::test]
async fn later_outlets_make_at_most_one_follow_up_per_interval() {
    let dir = tempfile::tempdir().expect("temp dir");
    let story = [
        BAN,
        (
            "ban-2",
            "Export di chip H20 verso la Cina: gli Stati Uniti impongono il divieto a NVIDIA",
            "Il Dipartimento del Commercio impone la licenza per vendere chip H20 alla Cina.",
        ),
        (
            "ban-3",
            "Stop USA all'export dei chip H20 di NVIDIA verso la Cina",
            "Nuove restrizioni del Dipartimento del Commercio all'esportazione di chip per l'intelligenza artificiale.",
        ),
    ];
    let mut text = format!(
        "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{}\"\n[console]\nenabled = false\n[events]\nfollow_up_interval = \"6h\"\n",
        dir.path().join("data").display(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
    );
    for outlet in ["a", "b", "c"] {
        let path = dir.path().join(format!("{outlet}.xml"));
        std::fs::write(
            &path,
            crate::support::rss(&[("old", "Recensione smartphone", "Niente di rilevante.")]),
        )
        .expect("feed");
        text.push_str(&format!(
            "[[feeds]]\nid = \"{outlet}\"\nname = \"Outlet {outlet}\"\nurl = \"file://{}\"\n",
            path.display()
        ));
    }
    let path = dir.path().join("chipwatch.toml");
    std::fs::write(&path, text).expect("config");
    let config = Config::load(&path, None).expect("config");
    let (store, poller) = poller(&config).await;
    subscribe(&store, 9).await;
    let t0 = at("2026-11-29T09:00:00Z");
    for feed in &config.feeds {
        poller.poll_feed(feed, t0, false).await;
    }
    let publish = |index: usize| {
        let FeedPath(path) = feed_path(&config.feeds[index]);
        std::fs::write(
            &path,
            crate::support::rss(&[
                story[index],
                ("old", "Recensione smartphone", "Niente di rilevante."),
            ]),
        )
        .expect("feed");
    };
    let kinds = |store: &Store| -> Vec<String> {
        store
            .pending_deliveries()
            .expect("pending")
            .iter()
            .map(|d| {
                format!("{:?}", d.kind)
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    // Outlet a: the first alert.
    publish(0);
    poller
        .poll_feed(&config.feeds[0], t0 + chrono::Duration::minutes(10), false)
        .await;
    assert_eq!(kinds(&store), ["Alert"]);
    // Outlet b, an hour later: inside the interval, nothing new for the chat.
    publish(1);
    poller
        .poll_feed(&config.feeds[1], t0 + chrono::Duration::hours(1), false)
        .await;
    assert_eq!(kinds(&store), ["Alert"]);
    // Outlet c, seven hours after the alert: one follow-up naming all three outlets.
    publish(2);
    poller
        .poll_feed(&config.feeds[2], t0 + chrono::Duration::hours(7), false)
        .await;
    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(kinds(&store), ["Alert", "FollowUp"]);
    let DeliveryKind::FollowUp { outlets, sources } = &pending[1].kind else {
        panic!("a follow-up")
    };
    assert_eq!((outlets.len(), *sources), (3, 3));
    assert_eq!(pending[0].event, pending[1].event, "about the same event");
    assert_eq!(store.event_count(), 1);
}

#[tokio::test]
async fn a_feed_failing_for_hours_is_reported_once_to_the_admin_chat_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = poller_config(
        dir.path(),
        "[telegram]\nadmin_chat = -777\nreport_failing_after = \"6h\"",
    );
    let (store, poller) = poller(&config).await;
    subscribe(&store, 9).await;
    let feed = &config.feeds[0];
    let FeedPath(path) = feed_path(feed);
    let good = std::fs::read(&path).expect("feed");
    let to_admin = |store: &Store| {
        store
            .pending_deliveries()
            .expect("pending")
            .into_iter()
            .filter(|d| d.chat.id == -777)
            .count()
    };
    std::fs::remove_file(&path).expect("break the feed");
    let t0 = at("2026-11-29T09:00:00Z");
    poller.poll_feed(feed, t0, false).await;
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(5), false)
        .await;
    assert_eq!(to_admin(&store), 0, "not yet six hours");
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(7), false)
        .await;
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(8), false)
        .await;
    assert_eq!(to_admin(&store), 1, "reported once");
    let report = &store.pending_deliveries().expect("pending")[0];
    assert!(matches!(report.kind, DeliveryKind::FeedFailing { since } if since == t0));
    assert!(
        report.alert.item.summary.contains("cannot read"),
        "{}",
        report.alert.item.summary
    );
    assert_eq!(store.outbox_stats().pending, 1, "subscribers hear nothing");
    // Recovered, then failing again for long: a new report.
    std::fs::write(&path, &good).expect("repair");
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(9), false)
        .await;
    std::fs::remove_file(&path).expect("break again");
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(10), false)
        .await;
    poller
        .poll_feed(feed, t0 + chrono::Duration::hours(17), false)
        .await;
    assert_eq!(to_admin(&store), 2);
}

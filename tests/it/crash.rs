//! Crash safety: the real binary delivers one story to many chats through the fake Bot
//! API and is killed with SIGKILL at random points; after each restart it carries on
//! from its sled outbox. Every chat must get its alert, with at most one repeat per kill
//! (one message is in flight at a time: `delivery.max_in_flight = 1`).

use crate::support::fake_telegram::{Call, FakeTelegram};
use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::domain::{ChatRef, Platform, Subscription, TopicId};
use chipwatch::store::Store;
use std::collections::HashMap;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const CHATS: i64 = 60;
const KILLS: usize = 3;
const QUIET: (&str, &str, &str) = (
    "phone",
    "Recensione dello smartphone dell'anno",
    "Display e batteria alla prova.",
);
const BAN: (&str, &str, &str) = (
    "ban",
    "Gli Stati Uniti vietano l'export dei chip NVIDIA H20 verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale.",
);

fn is_alert(call: &Call) -> bool {
    call.method == "sendmessage"
        && call.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("#export_ban"))
}

fn alerts_per_chat(telegram: &FakeTelegram) -> HashMap<i64, usize> {
    let mut counts = HashMap::new();
    for call in telegram.calls("sendMessage").into_iter().filter(is_alert) {
        *counts
            .entry(call.body["chat_id"].as_i64().expect("chat id"))
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn sigkill_at_random_points_loses_nothing_and_repeats_at_most_one_per_kill() {
    let feed = FeedServer::start().await;
    feed.set("/feed.xml", Route::feed(rss(&[QUIET])));
    let telegram = FakeTelegram::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).expect("store");
        for id in 1..=CHATS {
            let mut subscription = Subscription::new(ChatRef {
                platform: Platform::Telegram,
                id,
                thread: None,
            });
            subscription
                .topics
                .insert(TopicId::parse("export_ban").expect("id"));
            store
                .put_subscription(&subscription)
                .await
                .expect("subscribe");
        }
    }
    let config = dir.path().join("chipwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{}\"\npoll_interval = \"1s\"\nmin_interval = \"1s\"\nallow_private_addresses = true\n\
             [console]\nenabled = false\n[telegram]\napi_url = \"{}\"\n[delivery]\nmax_in_flight = 1\n\
             [[feeds]]\nid = \"local\"\nname = \"Agenzia\"\nurl = \"{}\"\n",
            data.display(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
            telegram.url(),
            feed.url("/feed.xml")
        ),
    )
    .expect("config");
    let start = || {
        Chipwatch::start_with_env(
            &config,
            &["run"],
            &[("TELOXIDE_TOKEN", "99:crash-test-token")],
        )
    };

    let mut process = start();
    process
        .wait_stderr(LIMIT, |l| {
            l.contains("polled") && l.contains("first_poll: true")
        })
        .await;
    feed.set("/feed.xml", Route::feed(rss(&[BAN, QUIET])));

    // Kill after a random number of alerts in each third of the run. The seed is printed
    // (on failure too) and `CHIPWATCH_CRASH_SEED` replays a run.
    let seed = std::env::var("CHIPWATCH_CRASH_SEED")
        .ok()
        .map(|raw| raw.parse().expect("CHIPWATCH_CRASH_SEED is a number"))
        .unwrap_or_else(|| fastrand::u64(..));
    println!("crash test seed {seed} (replay with CHIPWATCH_CRASH_SEED={seed})");
    let mut random = fastrand::Rng::with_seed(seed);
    let mut kill_points = Vec::new();
    for kill in 0..KILLS {
        let third = CHATS as usize / (KILLS + 1);
        let point = third * (kill + 1) + random.usize(0..third / 2);
        telegram.wait_for(LIMIT, point, is_alert).await;
        let sent_before_kill = telegram
            .calls("sendMessage")
            .into_iter()
            .filter(is_alert)
            .count();
        let exit = process.kill_hard(LIMIT).await;
        assert_ne!(exit.code, 0, "killed, not exited");
        kill_points.push(sent_before_kill);
        process = start();
    }
    // The last run finishes the fan-out by itself.
    telegram.wait_for(LIMIT, CHATS as usize, is_alert).await;
    let counts = loop {
        let counts = alerts_per_chat(&telegram);
        if counts.len() == CHATS as usize {
            break counts;
        }
        telegram
            .wait_for(LIMIT, telegram.calls("sendMessage").len() + 1, |c| {
                c.method == "sendmessage"
            })
            .await;
    };
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0);
    let repeats: usize = counts.values().map(|n| n - 1).sum();
    let store = Store::open(&data).expect("store");
    let outbox = store.outbox_stats();
    eprintln!(
        "crash test (seed {seed}): {CHATS} chats, killed after {kill_points:?} alerts; \
         every chat alerted, {repeats} repeat(s) in {KILLS} kills; outbox pending {} delivered {} dead {}",
        outbox.pending, outbox.delivered, outbox.dead_letters
    );
    assert!(counts.values().all(|n| *n >= 1), "every chat alerted");
    assert!(
        repeats <= KILLS,
        "at most one repeat per kill, saw {repeats}: {counts:?}"
    );
    assert_eq!((outbox.pending, outbox.dead_letters), (0, 0));
    assert_eq!(outbox.delivered, CHATS as usize);
}

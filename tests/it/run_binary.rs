//! The walking skeleton end to end: the real `chipwatch run` against a local feed server
//! and a temporary sled directory.

use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::store::Store;
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
const APPROVAL: (&str, &str, &str) = (
    "approval-h200",
    "La Cina autorizza ByteDance, Alibaba e Tencent ad acquistare i chip NVIDIA H200",
    "Pechino ha concesso il via libera all'importazione di oltre 400.000 chip H200, con condizioni.",
);
const CONSOLE_REVIEW: (&str, &str, &str) = (
    "review-console",
    "PlayStation 6, le prime indiscrezioni sul prezzo",
    "Secondo fonti vicine a Sony la nuova console arriverà nel 2027 con un prezzo più alto.",
);

fn write_config(dir: &Path, feed_url: &str) -> PathBuf {
    let topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let config = format!(
        r#"
[settings]
data_dir = "{data}"
topics_file = "{topics}"
poll_interval = "1s"
min_interval = "1s"
allow_private_addresses = true

[console]
enabled = true

[[feeds]]
id = "local"
name = "Local outlet"
url = "{feed_url}"
lang = "it"
"#,
        data = dir.join("data").display(),
    );
    let path = dir.join("chipwatch.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

fn is_poll_of_local(line: &str) -> bool {
    line.contains("polled") && line.contains("feed=local")
}

#[tokio::test]
async fn alerts_new_relevant_items_once_and_survives_restart_and_sigterm() {
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &server.url("/feed.xml"));

    // 1. First run: the first poll records what is there and alerts nothing.
    let mut first = Chipwatch::start(&config, &["run"]);
    first
        .wait_stderr(LIMIT, |l| {
            is_poll_of_local(l) && l.contains("first_poll: true")
        })
        .await;
    // 2. Two new items appear: one relevant, one not. Exactly the relevant one alerts.
    server.set(
        "/feed.xml",
        Route::feed(rss(&[APPROVAL, CONSOLE_REVIEW, BAN, REVIEW])),
    );
    let alert = first.wait_stdout(LIMIT, |l| l.starts_with("ALERT")).await;
    assert!(alert.contains("ByteDance, Alibaba e Tencent"), "{alert}");
    assert!(alert.contains("[approval"), "{alert}");
    assert!(
        alert.contains("Local outlet") && alert.contains("https://news.example.it/approval-h200"),
        "{alert}"
    );
    // One more poll after the alert, so an alert for the irrelevant item would have come by now.
    let seen = server.hits("/feed.xml").requests;
    server.wait_for_requests("/feed.xml", seen + 1, LIMIT).await;
    first
        .wait_stderr(LIMIT, |l| is_poll_of_local(l) && l.contains("new: 0"))
        .await;
    let exit = first.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "SIGTERM is a clean exit: {:#?}", exit.stderr);
    let alerts: Vec<&String> = exit
        .stdout
        .iter()
        .filter(|l| l.starts_with("ALERT"))
        .collect();
    assert_eq!(alerts.len(), 1, "exactly one alert: {alerts:#?}");

    // 3. Restart on the same database: the feed still lists everything; nothing alerts.
    let mut second = Chipwatch::start(&config, &["run"]);
    second
        .wait_stderr(LIMIT, |l| is_poll_of_local(l) && l.contains("new: 0"))
        .await;
    let exit = second.terminate(LIMIT).await;
    assert_eq!(exit.code, 0);
    assert!(
        exit.stdout.iter().all(|l| !l.starts_with("ALERT")),
        "no alert after restart: {:#?}",
        exit.stdout
    );

    // 4. The store is intact: four items seen, one delivered, nothing left queued.
    let store = Store::open(&dir.path().join("data")).expect("store opens after SIGTERM");
    assert_eq!(store.seen_count(), 4);
    let outbox = store.outbox_stats();
    assert_eq!(
        (outbox.pending, outbox.delivered, outbox.dead_letters),
        (0, 1, 0)
    );
}

#[tokio::test]
async fn a_broken_config_is_a_clear_error_and_exit_code_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[settings]\nconcurrency = 0\n[[feeds]]\nid = \"x\"\nname = \"X\"\nurl = \"gopher://x\"\n",
    )
    .expect("write config");
    let child = Chipwatch::start(&path, &["check-config"]);
    let exit = child.finish(LIMIT).await;
    assert_eq!(exit.code, 2);
    let message = exit.stderr.join("\n");
    assert!(
        message.contains("bad.toml: settings.concurrency: must be at least 1"),
        "{message}"
    );
    assert!(
        message.contains("bad.toml: feeds[0].url: scheme `gopher` is not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn check_config_refuses_unknown_topic_ids_and_missing_feed_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let feed = dir.path().join("feed.xml");
    std::fs::write(&feed, rss(&[REVIEW])).expect("write feed");
    let path = write_config(dir.path(), &format!("file://{}", feed.display()));
    let good = std::fs::read_to_string(&path).expect("read config");
    let ok = Chipwatch::start(&path, &["check-config"])
        .finish(LIMIT)
        .await;
    assert_eq!(ok.code, 0, "{:?}", ok.stderr);

    // A misspelt topic would silently match nothing: refused, with what the rules define.
    std::fs::write(
        &path,
        good.replace(
            "[console]\nenabled = true",
            "[console]\nenabled = true\ntopics = [\"export_bam\"]\n[events]\nopposed_topics = [[\"approval\", \"exportban\"]]",
        ),
    )
    .expect("write config");
    let exit = Chipwatch::start(&path, &["check-config"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 2);
    let message = exit.stderr.join("\n");
    assert!(
        message.contains("console.topics[0]: no topic `export_bam`"),
        "{message}"
    );
    assert!(
        message.contains("events.opposed_topics[0]: no topic `exportban`"),
        "{message}"
    );
    assert!(
        message.contains("export_ban"),
        "names the rules' topics: {message}"
    );

    // A feed file that is not there.
    std::fs::write(&path, good).expect("write config");
    std::fs::remove_file(&feed).expect("remove feed");
    let exit = Chipwatch::start(&path, &["check-config"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 2);
    let message = exit.stderr.join("\n");
    assert!(message.contains("feed `local`: no file"), "{message}");
}

#[tokio::test]
async fn a_broken_topics_file_is_reported_once_beside_the_other_problems() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topics = dir.path().join("topics.toml");
    let mut rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"))
            .expect("read rules");
    rules.push_str("\n[broken\n");
    std::fs::write(&topics, rules).expect("write rules");
    let path = write_config(dir.path(), "file://missing.xml");
    let config = std::fs::read_to_string(&path)
        .expect("read config")
        .replace(
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
            &topics.display().to_string(),
        );
    std::fs::write(&path, config).expect("write config");
    let exit = Chipwatch::start(&path, &["check-config"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 2);
    let message = exit.stderr.join("\n");
    assert_eq!(
        message.matches("invalid table header").count(),
        1,
        "{message}"
    );
    assert!(message.contains("feed `local`: no file"), "{message}");
}

/// A malformed clock shift is refused at start with the variable named, never ignored:
/// an ignored shift would let the suite's years-ahead run pass on today's date.
#[tokio::test]
async fn a_malformed_clock_shift_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), "file:///nonexistent.xml");
    let exit = Chipwatch::start_with_env(
        &config,
        &["check-config"],
        &[("CHIPWATCH_CLOCK_SHIFT", "ten years")],
    )
    .finish(LIMIT)
    .await;
    assert_eq!(exit.code, 2, "{:#?}", exit.stderr);
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("CHIPWATCH_CLOCK_SHIFT") && l.contains("ten years")),
        "{:#?}",
        exit.stderr
    );
}

/// `poll --once` for cron and scripts: when no feed could be read, a one-line summary on
/// stderr names the failures and the exit code is 1, not a silent 0.
#[tokio::test]
async fn poll_once_exits_1_with_a_summary_when_every_feed_fails() {
    // A port that was free a moment ago and has no listener now: connection refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &format!("http://127.0.0.1:{closed}/feed.xml"));
    let exit = Chipwatch::start(&config, &["poll", "--once"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 1, "{:#?}", exit.stderr);
    let summary: Vec<&String> = exit
        .stderr
        .iter()
        .filter(|l| l.starts_with("poll: "))
        .collect();
    assert_eq!(summary.len(), 1, "one summary line: {:#?}", exit.stderr);
    let summary = summary[0];
    assert!(
        summary.starts_with("poll: 0 ok, 0 not modified, 0 rate limited, 1 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("local: fetch: ") && summary.contains("refused"),
        "the first error is named: {summary}"
    );

    // One readable feed is enough for success, and the summary says so.
    let server = FeedServer::start().await;
    server.set("/feed.xml", Route::feed(rss(&[BAN, REVIEW])));
    let config = write_config(dir.path(), &server.url("/feed.xml"));
    let exit = Chipwatch::start(&config, &["poll", "--once"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.starts_with("poll: 1 ok, 0 not modified, 0 rate limited, 0 failed")),
        "{:#?}",
        exit.stderr
    );
}

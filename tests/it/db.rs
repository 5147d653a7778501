//! `chipwatch db` and the read-only commands against the real binary: `db stats`,
//! `feeds` and `poll --once --dry-run` never create a database.

use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::{Chipwatch, Exit};
use crate::support::rss;
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

fn stderr(exit: &Exit) -> String {
    exit.stderr.join("\n")
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

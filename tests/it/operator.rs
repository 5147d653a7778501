//! Operator commands through the command engine: `/addfeed` refuses non-operators and
//! any URL the SSRF guard refuses (decided, never connected to), stores a good one as a
//! runtime feed that the poller then includes; `/removefeed` removes only those.

use chipwatch::commands::{Engine, Invocation, parse};
use chipwatch::config::Config;
use chipwatch::domain::{ChatRef, Lang, Platform};
use chipwatch::store::Store;
use std::sync::Arc;

fn setup(dir: &std::path::Path) -> (Config, Engine) {
    let path = dir.join("chipwatch.toml");
    std::fs::write(
        &path,
        format!(
            "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{}\"\n[[feeds]]\nid = \"rhc\"\nname = \"Red Hot Cyber\"\nurl = \"https://www.redhotcyber.com/feed/\"\n",
            dir.join("data").display(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
        ),
    )
    .expect("config");
    let config = Config::load(&path, None).expect("config");
    let store = Store::open(&config.settings.data_dir).expect("store");
    let engine = Engine {
        store,
        rules: Arc::new(chipwatch::app::compile_rules(&config).expect("rules")),
        feeds: config.feeds.clone(),
        zone: config.settings.time_zone,
        allow_private_addresses: config.settings.allow_private_addresses,
    };
    (config, engine)
}

async fn run(engine: &Engine, text: &str, is_operator: bool) -> String {
    let invocation = Invocation {
        chat: ChatRef {
            platform: Platform::Telegram,
            id: 42,
            thread: None,
        },
        lang: Lang::En,
        may_manage: true,
        is_operator,
    };
    let command = parse(text, None).expect("parses");
    engine.execute(&invocation, command).await.doc.plain()
}

#[tokio::test]
async fn operators_add_and_remove_runtime_feeds_behind_the_ssrf_guard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, engine) = setup(dir.path());
    assert!(
        run(&engine, "/addfeed https://www.key4biz.it/feed/", false)
            .await
            .contains("operators only")
    );
    for refused in [
        "http://127.0.0.1:8080/feed",
        "http://localhost/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/rss",
        "http://[::1]/feed",
        "ftp://example.org/feed",
        "not-a-url",
    ] {
        let reply = run(&engine, &format!("/addfeed {refused}"), true).await;
        assert!(
            reply.starts_with("That URL cannot be added"),
            "{refused}: {reply}"
        );
    }
    assert!(
        engine.store.feed_records().expect("records").is_empty(),
        "nothing refused was stored"
    );
    let reply = run(&engine, "/addfeed https://www.key4biz.it/feed/", true).await;
    assert!(reply.starts_with("Feed added: key4biz-it-"), "{reply}");
    assert!(
        run(&engine, "/addfeed https://www.key4biz.it/feed/", true)
            .await
            .contains("already followed")
    );
    assert!(
        run(&engine, "/addfeed https://www.redhotcyber.com/feed/", true)
            .await
            .contains("already followed")
    );

    // The poller polls it beside the configured feed.
    let records = engine.store.feed_records().expect("records");
    let fetcher = chipwatch::feeds::Fetcher::new(chipwatch::feeds::FetcherSettings::from_config(
        &config.settings,
    ))
    .expect("fetcher");
    let poller = chipwatch::poller::Poller::new(
        engine.store.clone(),
        fetcher,
        engine.rules.clone(),
        &config,
    );
    let ids: Vec<String> = poller
        .all_feeds()
        .iter()
        .map(|f| f.id.to_string())
        .collect();
    assert_eq!(ids, ["rhc".to_string(), records[0].id.to_string()]);

    assert!(
        run(&engine, "/removefeed rhc", true)
            .await
            .contains("No runtime feed with id rhc")
    );
    let removed = run(&engine, &format!("/removefeed {}", records[0].id), true).await;
    assert!(removed.starts_with("Feed removed"), "{removed}");
    assert!(engine.store.feed_records().expect("records").is_empty());
}

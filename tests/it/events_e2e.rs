//! One story, three outlets: the real binary polls three local feeds that publish the same
//! news in their own words. The console subscriber gets one alert (and at most one
//! follow-up); the command engine's `recent` lists the story once, with three sources.

use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::commands::{Command, Engine, Invocation};
use chipwatch::config::Config;
use chipwatch::domain::{ChatRef, Lang};
use chipwatch::store::Store;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const QUIET: (&str, &str, &str) = (
    "quiet",
    "Le migliori offerte sulle cuffie wireless",
    "Sconti della settimana.",
);
const STORY: [(&str, &str, &str); 3] = [
    (
        "ansa-h200",
        "La Cina autorizza ByteDance, Alibaba e Tencent ad acquistare i chip NVIDIA H200",
        "Pechino ha concesso il via libera all'importazione di oltre 400.000 chip H200 di NVIDIA, con condizioni.",
    ),
    (
        "hdblog-h200",
        "Via libera di Pechino: ByteDance, Alibaba e Tencent potranno comprare i chip H200 di NVIDIA",
        "Le autorità cinesi approvano l'acquisto di 400.000 acceleratori H200, ma con paletti stringenti.",
    ),
    (
        "hwup-h200",
        "NVIDIA H200, la Cina dà l'ok agli acquisti di Alibaba, Tencent e ByteDance",
        "Autorizzazione condizionata per oltre 400 mila chip H200 destinati ai giganti tecnologici cinesi.",
    ),
];

#[tokio::test]
async fn three_outlets_one_story_make_one_alert_and_one_event_with_three_sources() {
    let server = FeedServer::start().await;
    let outlets = ["ansa", "hdblog", "hwupgrade"];
    for outlet in outlets {
        server.set(&format!("/{outlet}.xml"), Route::feed(rss(&[QUIET])));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = format!(
        "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{}\"\npoll_interval = \"1s\"\nmin_interval = \"1s\"\nallow_private_addresses = true\n\
         [console]\nenabled = true\n[events]\nfollow_up_interval = \"6h\"\n",
        dir.path().join("data").display(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
    );
    for outlet in outlets {
        config.push_str(&format!(
            "[[feeds]]\nid = \"{outlet}\"\nname = \"{outlet}\"\nurl = \"{}\"\n",
            server.url(&format!("/{outlet}.xml"))
        ));
    }
    let config_path = dir.path().join("chipwatch.toml");
    std::fs::write(&config_path, config).expect("config");

    let mut process = Chipwatch::start(&config_path, &["run"]);
    // The three first polls, in whatever order they finish.
    let mut primed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    while primed.len() < outlets.len() {
        let line = process
            .wait_stderr(LIMIT, |l| l.contains("first_poll: true"))
            .await;
        primed.extend(
            outlets
                .iter()
                .filter(|o| line.contains(&format!("feed={o} "))),
        );
    }
    // The outlets publish one after another, as they do.
    for (outlet, item) in outlets.iter().zip(STORY) {
        server.set(&format!("/{outlet}.xml"), Route::feed(rss(&[item, QUIET])));
        process
            .wait_stderr(LIMIT, |l| {
                l.contains(&format!("feed={outlet}")) && l.contains("new: 1")
            })
            .await;
    }
    // Each feed polled once more after the last publication: anything queued has been printed.
    for outlet in outlets {
        let seen = server.hits(&format!("/{outlet}.xml")).requests;
        server
            .wait_for_requests(&format!("/{outlet}.xml"), seen + 1, LIMIT)
            .await;
    }
    process
        .wait_stderr(LIMIT, |l| l.contains("polled") && l.contains("new: 0"))
        .await;
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0);
    let alerts: Vec<&String> = exit
        .stdout
        .iter()
        .filter(|l| l.starts_with("ALERT"))
        .collect();
    let follow_ups: Vec<&String> = exit
        .stdout
        .iter()
        .filter(|l| l.starts_with("ALSO"))
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "one alert for one story: {:#?}",
        exit.stdout
    );
    assert!(
        follow_ups.len() <= 1,
        "at most one follow-up: {follow_ups:#?}"
    );

    // `recent` lists the story once, with its three outlets.
    let config = Config::load(&config_path, None).expect("config");
    let store = Store::open(&config.settings.data_dir).expect("store");
    assert_eq!(store.event_count(), 1);
    let events = store.recent_events(None, 10).expect("events");
    assert_eq!(events[0].sources.len(), 3);
    let engine = Engine {
        store: store.clone(),
        rules: Arc::new(chipwatch::app::compile_rules(&config).expect("rules")),
        feeds: config.feeds.clone(),
        zone: config.settings.time_zone,
        allow_private_addresses: false,
    };
    let invocation = Invocation {
        chat: ChatRef::console(),
        lang: Lang::En,
        may_manage: true,
        is_operator: false,
    };
    let reply = engine
        .execute(
            &invocation,
            Command::Recent {
                topic: None,
                count: 5,
            },
        )
        .await
        .doc
        .plain();
    let lines: Vec<&str> = reply.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(lines.len(), 1, "{reply}");
    assert!(lines[0].contains("(+2)"), "three outlets: {reply}");
    let event = engine
        .execute(
            &invocation,
            Command::Event {
                id: events[0].id.to_string(),
            },
        )
        .await
        .doc
        .plain();
    assert!(event.contains("Sources (3)"), "{event}");
}

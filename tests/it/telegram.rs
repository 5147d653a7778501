//! The Telegram bot end to end: the real `chipwatch run` with the real teloxide client,
//! pointed at a fake Bot API on 127.0.0.1 (support/fake_telegram.rs), and a local feed.

use crate::support::fake_telegram::{BOT_USERNAME, Call, Failure, FakeTelegram};
use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::domain::{ChatRef, Platform};
use chipwatch::store::Store;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "123456:TEST-token-never-logged";
const USER: i64 = 111;
const GROUP: i64 = -222;

const QUIET_ITEM: (&str, &str, &str) = (
    "phone",
    "Recensione dello smartphone dell'anno",
    "Display, batteria e fotocamera alla prova.",
);
/// A ban story whose title, once parsed, holds `<b>`, `&` and `<script>` as text.
const HOSTILE_BAN: (&str, &str, &str) = (
    "ban",
    "Gli USA vietano l'export dei chip &amp;lt;b&amp;gt;H20&amp;lt;/b&amp;gt; &amp;amp; &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale verso la Cina.",
);

struct Harness {
    feed: FeedServer,
    telegram: FakeTelegram,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Harness {
    async fn new() -> Self {
        let feed = FeedServer::start().await;
        feed.set("/feed.xml", Route::feed(rss(&[QUIET_ITEM])));
        let telegram = FakeTelegram::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("chipwatch.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[settings]
data_dir = "{data}"
topics_file = "{topics}"
poll_interval = "1s"
min_interval = "1s"
allow_private_addresses = true

[console]
enabled = false

[telegram]
api_url = "{api}"

[[feeds]]
id = "local"
name = "Agenzia Locale"
url = "{feed}"
lang = "it"
"#,
                data = dir.path().join("data").display(),
                topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
                api = telegram.url(),
                feed = feed.url("/feed.xml"),
            ),
        )
        .expect("write config");
        Self {
            feed,
            telegram,
            dir,
            config,
        }
    }

    /// Starts the bot and waits until it registered its commands and polled the feed
    /// (on the first start, that poll primes it: the quiet item is recorded, not alerted).
    async fn start(&self) -> Chipwatch {
        let menus = self.telegram.calls("setMyCommands").len();
        let mut process =
            Chipwatch::start_with_env(&self.config, &["run"], &[("TELOXIDE_TOKEN", TOKEN)]);
        process
            .wait_stderr(LIMIT, |l| l.contains("polled") && l.contains("feed=local"))
            .await;
        self.telegram
            .wait_for(LIMIT, menus + 2, |c| c.method == "setmycommands")
            .await;
        process
    }

    /// Sends `text` in `chat` and waits for the bot's reply containing `expected`.
    async fn command(&self, chat: Value, user: i64, text: &str, expected: &str) -> Call {
        let chat_id = chat["id"].as_i64().expect("chat id");
        self.telegram.send_text(chat, user, text);
        let replies = self
            .telegram
            .wait_for(LIMIT, 1, |c| is_message_to(c, chat_id, expected))
            .await;
        replies[0].clone()
    }

    fn publish_ban(&self) {
        self.feed
            .set("/feed.xml", Route::feed(rss(&[HOSTILE_BAN, QUIET_ITEM])));
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("data")).expect("store opens")
    }
}

fn private_chat() -> Value {
    json!({"id": USER, "type": "private", "first_name": "Tester"})
}

fn group_chat() -> Value {
    json!({"id": GROUP, "type": "group", "title": "Analisti"})
}

fn is_message_to(call: &Call, chat: i64, text: &str) -> bool {
    call.method == "sendmessage"
        && call.body["chat_id"].as_i64() == Some(chat)
        && call.body["text"].as_str().is_some_and(|t| t.contains(text))
}

fn is_alert_to(call: &Call, chat: i64) -> bool {
    is_message_to(call, chat, "#export_ban")
}

fn telegram_chat(id: i64) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        id,
        thread: None,
    }
}

#[tokio::test]
async fn telegram_unreachable_at_start_is_retried_and_a_bad_token_is_not() {
    // A proxy's 502 at boot: retried after a second, then the bot answers.
    let harness = Harness::new().await;
    harness.telegram.fail_get_me(&[Failure {
        status: 502,
        description: "Bad Gateway".into(),
        parameters: None,
    }]);
    let process = harness.start().await;
    assert!(harness.telegram.calls("getMe").len() >= 2);
    harness
        .command(private_chat(), USER, "/help", "/subscribe")
        .await;
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "{:?}", exit.stderr);
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("cannot reach Telegram") && l.contains("retrying")),
        "{:?}",
        exit.stderr
    );

    // Telegram's own "Unauthorized": a token error at once, never retried.
    let harness = Harness::new().await;
    harness.telegram.fail_get_me(&[Failure {
        status: 401,
        description: "Unauthorized".into(),
        parameters: None,
    }]);
    let process =
        Chipwatch::start_with_env(&harness.config, &["run"], &[("TELOXIDE_TOKEN", TOKEN)]);
    let exit = process.finish(LIMIT).await;
    assert_ne!(exit.code, 0);
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("did not accept the bot token")),
        "{:?}",
        exit.stderr
    );
    assert_eq!(harness.telegram.calls("getMe").len(), 1);
    assert!(!exit.stderr.iter().any(|l| l.contains(TOKEN)));
}

#[tokio::test]
async fn a_subscriber_gets_exactly_one_escaped_alert() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    // The command menu is registered in English and in Italian.
    let menus = harness.telegram.calls("setMyCommands");
    assert!(
        menus.iter().any(|c| c.body["language_code"] == "it"),
        "{menus:#?}"
    );
    assert!(
        menus
            .iter()
            .all(|c| c.body["commands"].to_string().contains("subscribe"))
    );

    harness
        .command(
            private_chat(),
            USER,
            "/subscribe export_ban",
            "Iscrizione attiva per: export_ban",
        )
        .await;
    harness.publish_ban();
    let alerts = harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, USER))
        .await;
    let alert = &alerts[0].body;
    assert_eq!(alert["parse_mode"], "HTML");
    let text = alert["text"].as_str().expect("text");
    assert!(
        text.contains("&lt;b&gt;H20&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{text}"
    );
    assert!(
        !text.contains("<script>") && !text.contains("<b>H20"),
        "{text}"
    );
    assert!(
        text.contains("<a href=\"https://news.example.it/ban\">"),
        "{text}"
    );

    // Let the feed be polled once more: still exactly one alert to the chat.
    let seen = harness.feed.hits("/feed.xml").requests;
    harness
        .feed
        .wait_for_requests("/feed.xml", seen + 2, LIMIT)
        .await;
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0);
    let alerts: Vec<Call> = harness
        .telegram
        .messages_to(USER)
        .into_iter()
        .filter(|c| is_alert_to(c, USER))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // The token appears in no log line.
    assert!(
        exit.stderr
            .iter()
            .all(|l| !l.contains("TEST-token-never-logged")),
        "token leaked"
    );
}

#[tokio::test]
async fn in_groups_only_admins_change_the_subscription() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.telegram.set_member(GROUP, 444, "administrator");
    harness
        .command(
            group_chat(),
            333,
            "/subscribe export_ban",
            "Solo gli amministratori",
        )
        .await;
    // Reading commands stay open to everyone.
    harness
        .command(
            group_chat(),
            333,
            &format!("/topics@{BOT_USERNAME}"),
            "export_ban",
        )
        .await;
    harness
        .command(
            group_chat(),
            444,
            "/subscribe approval",
            "Iscrizione attiva per: approval",
        )
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let subscription = harness
        .store()
        .subscription(&telegram_chat(GROUP))
        .expect("read")
        .expect("stored");
    let topics: Vec<&str> = subscription.topics.iter().map(|t| t.as_str()).collect();
    assert_eq!(topics, ["approval"], "the non-admin's topic was refused");
}

#[tokio::test]
async fn rate_limit_answers_are_waited_out_then_retried() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness
        .command(
            private_chat(),
            USER,
            "/subscribe export_ban",
            "Iscrizione attiva",
        )
        .await;
    harness.telegram.fail_next_send(Failure {
        status: 429,
        description: "Too Many Requests: retry after 2".into(),
        parameters: Some(json!({"retry_after": 2})),
    });
    harness.publish_ban();
    let attempts = harness
        .telegram
        .wait_for(LIMIT, 2, |c| is_alert_to(c, USER))
        .await;
    let waited = attempts[1].at - attempts[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?}, before retry_after"
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let outbox = harness.store().outbox_stats();
    assert_eq!((outbox.pending, outbox.dead_letters), (0, 0));
}

#[tokio::test]
async fn a_blocked_bot_deactivates_the_chat_until_start() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness
        .command(
            private_chat(),
            USER,
            "/subscribe export_ban",
            "Iscrizione attiva",
        )
        .await;
    harness.telegram.fail_next_send(Failure {
        status: 403,
        description: "Forbidden: bot was blocked by the user".into(),
        parameters: None,
    });
    harness.publish_ban();
    harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, USER))
        .await;
    let mut process = process;
    process
        .wait_stderr(LIMIT, |l| l.contains("delivery dropped to dead letters"))
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    let subscription = store
        .subscription(&telegram_chat(USER))
        .expect("read")
        .expect("kept");
    assert!(!subscription.active, "deactivated, not deleted");
    let letters = store.dead_letters().expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].reason.contains("blocked"),
        "{}",
        letters[0].reason
    );
    drop(store);

    // /start brings it back.
    let process = harness.start().await;
    harness
        .command(private_chat(), USER, "/start", "Bentornato")
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert!(
        harness
            .store()
            .subscription(&telegram_chat(USER))
            .expect("read")
            .expect("kept")
            .active
    );
}

#[tokio::test]
async fn a_group_upgraded_to_a_supergroup_keeps_its_subscription() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.telegram.set_member(GROUP, 444, "creator");
    harness
        .command(
            group_chat(),
            444,
            "/subscribe export_ban",
            "Iscrizione attiva",
        )
        .await;
    harness.telegram.fail_next_send(Failure {
        status: 400,
        description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
        parameters: Some(json!({"migrate_to_chat_id": -100_999})),
    });
    harness.publish_ban();
    harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, -100_999))
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    assert!(
        store
            .subscription(&telegram_chat(GROUP))
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .subscription(&telegram_chat(-100_999))
            .expect("read")
            .is_some()
    );
    assert_eq!(store.outbox_stats().pending, 0);
}

#[tokio::test]
async fn channels_and_forum_topics_get_alerts_where_they_subscribed() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    const CHANNEL: i64 = -100_500;
    const FORUM: i64 = -100_600;
    harness.telegram.add_channel("@analisi_chip", CHANNEL);
    harness.telegram.set_member(CHANNEL, USER, "administrator");
    // The bot is not yet an admin of the channel: refused with the reason.
    harness
        .command(
            private_chat(),
            USER,
            "/subscribe @analisi_chip export_ban",
            "Devo essere amministratore",
        )
        .await;
    harness.telegram.set_member(
        CHANNEL,
        crate::support::fake_telegram::BOT_ID,
        "administrator",
    );
    harness
        .command(
            private_chat(),
            USER,
            "/subscribe @analisi_chip export_ban",
            "Iscrizione attiva",
        )
        .await;
    // An unknown channel is named in the reply.
    harness
        .command(
            private_chat(),
            USER,
            "/subscribe @nessuno export_ban",
            "Non trovo il canale @nessuno",
        )
        .await;
    // A forum topic: the subscription remembers the thread it was made in.
    harness.telegram.set_member(FORUM, USER, "administrator");
    let forum_topic = json!({"id": FORUM, "type": "supergroup", "title": "Forum", "is_forum": true, "thread": 77});
    let reply = harness
        .command(
            forum_topic,
            USER,
            "/subscribe export_ban",
            "Iscrizione attiva",
        )
        .await;
    assert_eq!(
        reply.body["message_thread_id"], 77,
        "the reply stays in the topic"
    );

    harness.publish_ban();
    harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, CHANNEL))
        .await;
    let forum_alerts = harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, FORUM))
        .await;
    assert_eq!(forum_alerts[0].body["message_thread_id"], 77);
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    let forum = ChatRef {
        platform: Platform::Telegram,
        id: FORUM,
        thread: Some(77),
    };
    assert!(store.subscription(&forum).expect("read").is_some());
    assert!(
        store
            .subscription(&telegram_chat(CHANNEL))
            .expect("read")
            .is_some()
    );
}

#[tokio::test]
async fn topic_buttons_toggle_the_subscription_and_quiet_hours_silence_alerts() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    let reply = harness
        .command(private_chat(), USER, "/subscribe", "Scegli i temi")
        .await;
    let keyboard = reply.body["reply_markup"]["inline_keyboard"].to_string();
    assert!(
        keyboard.contains("toggle:export_ban") && keyboard.contains("toggle:approval"),
        "{keyboard}"
    );
    // A press under the buttons message (its id only matters to the edit the bot makes).
    harness
        .telegram
        .press_button(private_chat(), USER, 1, "toggle:export_ban");
    let edits = harness
        .telegram
        .wait_for(LIMIT, 1, |c| c.method == "editmessagereplymarkup")
        .await;
    let markup = edits[0].body["reply_markup"]["inline_keyboard"].to_string();
    assert!(
        markup.contains("✅"),
        "the pressed topic shows as on: {markup}"
    );
    harness
        .telegram
        .wait_for(LIMIT, 1, |c| c.method == "answercallbackquery")
        .await;

    // Quiet hours around the present moment in Rome: the alert arrives without sound.
    let minute =
        chipwatch::delivery::local_minute(chipwatch::clock::now(), chrono_tz::Europe::Rome);
    let (start, end) = ((minute + 1440 - 60) % 1440, (minute + 60) % 1440);
    let quiet = format!(
        "/quiet {}-{}",
        chipwatch::commands::format_clock(start),
        chipwatch::commands::format_clock(end)
    );
    harness
        .command(private_chat(), USER, &quiet, "Ore di silenzio impostate")
        .await;
    harness.publish_ban();
    let alerts = harness
        .telegram
        .wait_for(LIMIT, 1, |c| is_alert_to(c, USER))
        .await;
    assert_eq!(
        alerts[0].body["disable_notification"], true,
        "{}",
        alerts[0].body
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let subscription = harness
        .store()
        .subscription(&telegram_chat(USER))
        .expect("read")
        .expect("stored");
    assert!(
        subscription
            .topics
            .iter()
            .any(|t| t.as_str() == "export_ban")
    );
}

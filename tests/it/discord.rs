//! The Discord bot end to end: the real `chipwatch run` with the real serenity client,
//! pointed at a fake Discord on 127.0.0.1 (support/fake_discord.rs), and a local feed.

use crate::support::fake_discord::{
    Call, Failure, FakeDiscord, Invoker, MANAGE_CHANNELS, MANAGE_GUILD, SEND_MESSAGES,
    is_message_to,
};
use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::domain::{ChatRef, Platform};
use chipwatch::store::Store;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "MTIzNDU2.discord-test-token-never-logged";
const CHANNEL: u64 = 900_000_000_000_000_001;
const ADMIN: u64 = 910_000_000_000_000_001;
const MEMBER: u64 = 910_000_000_000_000_002;
/// The interaction callback's "ephemeral" flag.
const EPHEMERAL: u64 = 1 << 6;

const QUIET_ITEM: (&str, &str, &str) = (
    "phone",
    "Recensione dello smartphone dell'anno",
    "Display, batteria e fotocamera alla prova.",
);
/// A ban story whose title, once parsed, reads
/// `… @everyone **H20** <@123> [x](javascript:alert(1)) …`.
const HOSTILE_BAN: (&str, &str, &str) = (
    "ban",
    "Gli USA vietano l'export dei chip @everyone **H20** &amp;lt;@123&amp;gt; [x](javascript:alert(1)) verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale verso la Cina.",
);

/// Six export-ban stories that are six events (checked with `chipwatch cluster`).
const SIX_STORIES: [(&str, &str, &str); 6] = [
    (
        "s1",
        "Gli USA vietano l'export dei chip Nvidia H20 verso la Cina",
        "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale verso la Cina.",
    ),
    (
        "s2",
        "Olanda, stop all'export delle macchine litografiche ASML verso Pechino",
        "Il governo dell'Aia blocca le licenze di esportazione per i sistemi DUV di ASML.",
    ),
    (
        "s4",
        "Bando all'export: AMD non potrà vendere gli MI308 in Iran",
        "Nuove sanzioni statunitensi vietano la vendita di acceleratori AMD a Teheran.",
    ),
    (
        "s5",
        "La Corea del Sud blocca l'export di memorie Samsung HBM verso la Cina",
        "Seul introduce un divieto di esportazione per le memorie ad alta banda.",
    ),
    (
        "s6",
        "Taiwan vieta a TSMC di esportare chip a 2 nanometri all'estero",
        "Taipei impone restrizioni all'export della tecnologia di processo più avanzata.",
    ),
    (
        "s7",
        "Embargo UE sull'export di chip Intel Gaudi verso la Bielorussia",
        "Bruxelles approva nuove restrizioni all'esportazione di processori per l'IA verso Minsk.",
    ),
];

struct Harness {
    feed: FeedServer,
    discord: FakeDiscord,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Harness {
    async fn new() -> Self {
        Self::with("", "", "").await
    }

    /// Extra TOML: `delivery` and `discord` inside those tables, `tail` after the feed
    /// (more tables, more feeds).
    async fn with(delivery: &str, discord_extra: &str, tail: &str) -> Self {
        let feed = FeedServer::start().await;
        feed.set("/feed.xml", Route::feed(rss(&[QUIET_ITEM])));
        let discord = FakeDiscord::start(TOKEN).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("chipwatch.toml");
        // No [console] table: in `auto` mode a Discord token must switch it off.
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

[delivery]
{delivery}

[discord]
api_url = "{api}"
operators = [{ADMIN}]
{discord_extra}

[[feeds]]
id = "local"
name = "Agenzia Locale"
url = "{feed}"
lang = "it"

{tail}
"#,
                data = dir.path().join("data").display(),
                topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml"),
                api = discord.url(),
                feed = feed.url("/feed.xml"),
                tail = tail.replace("{feeds}", &feed.url("")),
            ),
        )
        .expect("write config");
        Self {
            feed,
            discord,
            dir,
            config,
        }
    }

    /// Starts the bot and waits until it registered its commands over the gateway and
    /// polled the feed (on the first start that poll primes it: nothing is alerted).
    async fn start(&self) -> Chipwatch {
        let registered = self.registrations().len();
        let mut process =
            Chipwatch::start_with_env(&self.config, &["run"], &[("DISCORD_TOKEN", TOKEN)]);
        process
            .wait_stderr(LIMIT, |l| l.contains("polled") && l.contains("feed=local"))
            .await;
        self.discord
            .wait_for(LIMIT, registered + 1, is_registration)
            .await;
        process
    }

    fn registrations(&self) -> Vec<Call> {
        self.discord
            .calls()
            .into_iter()
            .filter(is_registration)
            .collect()
    }

    /// Runs a slash command and returns the callback that answered it.
    async fn command(&self, invoker: &Invoker, name: &str, options: Value) -> Call {
        let id = self.discord.command(invoker, name, options);
        self.discord.reply_to(LIMIT, &id).await
    }

    fn publish(&self, items: &[(&str, &str, &str)]) {
        let mut all = items.to_vec();
        all.push(QUIET_ITEM);
        self.feed.set("/feed.xml", Route::feed(rss(&all)));
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("data")).expect("store opens")
    }

    async fn subscribe_channel(&self) {
        let reply = self
            .command(&admin(), "subscribe", topics_option("export_ban"))
            .await;
        assert!(
            reply_text(&reply).contains(r"Iscrizione attiva per: export\_ban"),
            "{}",
            reply.body
        );
    }
}

fn is_registration(call: &Call) -> bool {
    call.method == "PUT" && call.path.ends_with("/commands") && call.status == 200
}

fn invoker(user: u64, permissions: Option<u64>) -> Invoker {
    Invoker {
        user,
        channel: CHANNEL,
        guild_permissions: permissions,
        locale: "it".into(),
    }
}

fn admin() -> Invoker {
    invoker(ADMIN, Some(SEND_MESSAGES | MANAGE_GUILD))
}

fn topics_option(topics: &str) -> Value {
    json!([{"name": "topics", "type": 3, "value": topics}])
}

fn reply_text(call: &Call) -> String {
    call.body["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn is_ephemeral(call: &Call) -> bool {
    call.body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0
}

fn discord_chat(id: u64) -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        id: id as i64,
        thread: None,
    }
}

/// Every text of a posted message: content, embed title, description and fields.
fn message_text(call: &Call) -> String {
    let mut text = call.body["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for embed in call.body["embeds"].as_array().into_iter().flatten() {
        for key in ["title", "description"] {
            text.push('\n');
            text.push_str(embed[key].as_str().unwrap_or_default());
        }
        for field in embed["fields"].as_array().into_iter().flatten() {
            text.push('\n');
            text.push_str(field["name"].as_str().unwrap_or_default());
            text.push('\n');
            text.push_str(field["value"].as_str().unwrap_or_default());
        }
    }
    text
}

#[tokio::test]
async fn a_server_admin_subscribes_and_the_channel_gets_one_inert_alert() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    // The commands are registered with Italian names and descriptions.
    let registered = harness.registrations().remove(0).body;
    let subscribe = registered
        .as_array()
        .expect("commands")
        .iter()
        .find(|c| c["name"] == "subscribe")
        .expect("subscribe registered")
        .clone();
    assert_eq!(
        subscribe["name_localizations"]["it"], "iscrivi",
        "{subscribe}"
    );
    assert!(subscribe["description_localizations"]["it"].is_string());
    assert_eq!(subscribe["options"][0]["name_localizations"]["it"], "temi");

    harness.subscribe_channel().await;
    harness.publish(&[HOSTILE_BAN]);
    let alerts = harness
        .discord
        .wait_for(LIMIT, 1, |c| is_message_to(c, CHANNEL) && c.status == 200)
        .await;
    let alert = &alerts[0].body;
    assert_eq!(alert["allowed_mentions"]["parse"], json!([]), "{alert}");
    let embed = &alert["embeds"][0];
    assert_eq!(embed["url"], "https://news.example.it/ban", "{embed}");
    let text = message_text(&alerts[0]);
    for ping in ["@everyone", "<@123>", "<@", "](javascript"] {
        assert!(!text.contains(ping), "{ping:?} survives: {text}");
    }
    let title = embed["title"].as_str().expect("title");
    assert!(
        title.contains(
            "@\u{200B}everyone \\*\\*H20\\*\\* <\u{200B}@\u{200B}123\\> \\[x\\]\\(javascript:alert\\(1\\)\\)"
        ),
        "{title}"
    );
    assert!(text.contains(r"\#export\_ban"), "{text}");

    // Let the feed be polled again: still exactly one message to the channel.
    let seen = harness.feed.hits("/feed.xml").requests;
    harness
        .feed
        .wait_for_requests("/feed.xml", seen + 2, LIMIT)
        .await;
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    assert_eq!(harness.discord.messages_to(CHANNEL).len(), 1);
    assert!(
        exit.stderr.iter().any(|l| l.contains("discord stopped")),
        "the gateway stopped cleanly: {:#?}",
        exit.stderr
    );
    // The token appears in no log line, and the console stayed off.
    assert!(
        exit.stderr
            .iter()
            .all(|l| !l.contains("discord-test-token-never-logged")),
        "token leaked"
    );
    assert!(
        exit.stdout.iter().all(|l| !l.starts_with("ALERT")),
        "{:#?}",
        exit.stdout
    );
}

#[tokio::test]
async fn only_members_who_manage_the_server_change_a_channels_subscription() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let refused = harness
        .command(&member, "subscribe", topics_option("export_ban"))
        .await;
    assert!(is_ephemeral(&refused), "{}", refused.body);
    assert!(
        reply_text(&refused).contains("Solo gli amministratori"),
        "{}",
        refused.body
    );
    assert_eq!(refused.body["data"]["allowed_mentions"]["parse"], json!([]));
    // Reading commands stay open to everyone, and are not ephemeral.
    let topics = harness.command(&member, "topics", json!([])).await;
    assert!(
        reply_text(&topics).contains("`export_ban`"),
        "{}",
        topics.body
    );
    assert!(!is_ephemeral(&topics));
    // A member refused the topic buttons too.
    let pressed = harness.discord.press(&member, "toggle:approval");
    let toast = harness.discord.reply_to(LIMIT, &pressed).await;
    assert!(is_ephemeral(&toast), "{}", toast.body);
    // Operator commands are for `discord.operators` only.
    let feeds = harness.command(&member, "feeds", json!([])).await;
    assert!(is_ephemeral(&feeds) && reply_text(&feeds).contains("operatori"));

    // Manage Channels is enough; the buttons of `/subscribe` toggle topics.
    let manager = invoker(ADMIN, Some(SEND_MESSAGES | MANAGE_CHANNELS));
    let buttons = harness.command(&manager, "subscribe", json!([])).await;
    let rows = buttons.body["data"]["components"].to_string();
    assert!(
        rows.contains("toggle:export_ban") && rows.contains("toggle:approval"),
        "{rows}"
    );
    let pressed = harness.discord.press(&manager, "toggle:approval");
    let update = harness.discord.reply_to(LIMIT, &pressed).await;
    assert_eq!(update.body["type"], 7, "the buttons message is updated");
    assert!(update.body["data"]["components"].to_string().contains('✅'));
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let subscription = harness
        .store()
        .subscription(&discord_chat(CHANNEL))
        .expect("read")
        .expect("stored");
    let topics: Vec<&str> = subscription.topics.iter().map(|t| t.as_str()).collect();
    assert_eq!(topics, ["approval"], "the member's topic was refused");
}

#[tokio::test]
async fn a_refused_member_stores_nothing_while_a_dm_may_subscribe() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let refused = harness
        .command(&member, "subscribe", topics_option("export_ban"))
        .await;
    assert!(is_ephemeral(&refused));
    let dm = Invoker {
        user: MEMBER,
        channel: 920_000_000_000_000_001,
        guild_permissions: None,
        locale: "en-US".into(),
    };
    let reply = harness
        .command(&dm, "subscribe", topics_option("approval"))
        .await;
    assert!(
        reply_text(&reply).contains("Subscribed to: approval"),
        "an English client gets English: {}",
        reply.body
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    assert!(
        store
            .subscription(&discord_chat(CHANNEL))
            .expect("read")
            .is_none(),
        "nothing stored for the refused channel"
    );
    assert!(
        store
            .subscription(&discord_chat(dm.channel))
            .expect("read")
            .is_some()
    );
}

#[tokio::test]
async fn a_rate_limit_answer_is_waited_out_then_the_alert_goes_once() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.subscribe_channel().await;
    harness.discord.fail_next_message(Failure {
        status: 429,
        body: json!({"message": "You are being rate limited.", "retry_after": 2.0, "global": false}),
        retry_after_header: Some("2".into()),
    });
    harness.publish(&[HOSTILE_BAN]);
    let attempts = harness
        .discord
        .wait_for(LIMIT, 2, |c| is_message_to(c, CHANNEL))
        .await;
    assert_eq!((attempts[0].status, attempts[1].status), (429, 200));
    let waited = attempts[1].at - attempts[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?}, before retry_after"
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert_eq!(harness.discord.messages_to(CHANNEL).len(), 1);
    let outbox = harness.store().outbox_stats();
    assert_eq!((outbox.pending, outbox.dead_letters), (0, 0));
}

#[tokio::test]
async fn missing_access_pauses_the_channel_with_a_dead_letter() {
    let harness = Harness::new().await;
    let mut process = harness.start().await;
    harness.subscribe_channel().await;
    harness.discord.fail_next_message(Failure {
        status: 403,
        body: json!({"message": "Missing Access", "code": 50001}),
        retry_after_header: None,
    });
    harness.publish(&[HOSTILE_BAN]);
    process
        .wait_stderr(LIMIT, |l| l.contains("delivery dropped to dead letters"))
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    {
        let store = harness.store();
        let subscription = store
            .subscription(&discord_chat(CHANNEL))
            .expect("read")
            .expect("kept");
        assert!(!subscription.active, "deactivated, not deleted");
        let letters = store.dead_letters().expect("dead letters");
        assert_eq!(letters.len(), 1);
        assert!(
            letters[0].reason.contains("Missing Access"),
            "{}",
            letters[0].reason
        );
    }
    let stats = Chipwatch::start(&harness.config, &["db", "stats"])
        .finish(LIMIT)
        .await;
    assert_eq!(stats.code, 0, "{:#?}", stats.stderr);
    assert!(
        stats
            .stdout
            .iter()
            .any(|l| l.contains("dead letter") && l.contains("Missing Access")),
        "{:#?}",
        stats.stdout
    );
}

#[tokio::test]
async fn an_invalid_form_body_is_retried_once_as_plain_text() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.subscribe_channel().await;
    harness.discord.fail_next_message(Failure {
        status: 400,
        body: json!({"message": "Invalid Form Body", "code": 50035, "errors": {}}),
        retry_after_header: None,
    });
    harness.publish(&[HOSTILE_BAN]);
    let attempts = harness
        .discord
        .wait_for(LIMIT, 2, |c| is_message_to(c, CHANNEL))
        .await;
    assert_eq!((attempts[0].status, attempts[1].status), (400, 200));
    assert!(
        attempts[0].body["embeds"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let retry = &attempts[1].body;
    assert!(
        retry["embeds"].as_array().is_none_or(|e| e.is_empty()),
        "{retry}"
    );
    let content = retry["content"].as_str().expect("plain content");
    assert!(content.contains("vietano l'export"), "{content}");
    assert!(
        !content.contains("@everyone") && !content.contains("<@123>"),
        "{content}"
    );
    assert_eq!(retry["allowed_mentions"]["parse"], json!([]));
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert_eq!(
        harness
            .discord
            .calls()
            .iter()
            .filter(|c| is_message_to(c, CHANNEL))
            .count(),
        2,
        "one retry only"
    );
    let outbox = harness.store().outbox_stats();
    assert_eq!((outbox.pending, outbox.dead_letters), (0, 0));
}

#[tokio::test]
async fn alerts_to_one_channel_keep_within_its_bucket() {
    // Every alert on its own (no burst), so six messages go to one channel.
    let harness = Harness::with("burst_min = 100", "", "").await;
    let process = harness.start().await;
    harness.subscribe_channel().await;
    harness.publish(&SIX_STORIES);
    let sent = harness
        .discord
        .wait_for(LIMIT, 6, |c| is_message_to(c, CHANNEL) && c.status == 200)
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert_eq!(
        harness.discord.limit_breaks(),
        0,
        "the fake had to answer 429: a limit was broken"
    );
    // Five fit in a 5 s window; the sixth waits for the window to move on.
    let span = sent[5].at - sent[0].at;
    assert!(span >= Duration::from_secs(5), "six messages in {span:?}");
    assert_eq!(harness.discord.messages_to(CHANNEL).len(), 6);
}

#[tokio::test]
async fn a_bad_token_stops_the_start_without_showing_it() {
    let harness = Harness::new().await;
    let wrong = "OTk5.wrong-token-never-logged";
    let exit = Chipwatch::start_with_env(&harness.config, &["run"], &[("DISCORD_TOKEN", wrong)])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 1, "{:#?}", exit.stderr);
    let all = exit.stderr.join("\n");
    assert!(all.contains("DISCORD_TOKEN"), "{all}");
    assert!(all.contains("401"), "{all}");
    assert!(!all.contains("wrong-token-never-logged"), "{all}");
    assert!(
        harness
            .discord
            .calls()
            .iter()
            .all(|c| !c.path.starts_with("/channels/")),
        "nothing was sent"
    );
}

/// Waits until `feed` was polled once, whether or not its log line was already read.
async fn wait_polled(process: &mut Chipwatch, feed: &str) {
    let wanted = |l: &str| l.contains("polled") && l.contains(&format!("feed={feed} "));
    if !process.stderr_lines.iter().any(|l| wanted(l)) {
        process.wait_stderr(LIMIT, wanted).await;
    }
}

#[tokio::test]
async fn a_follow_up_replies_to_the_channels_first_alert() {
    let second = "[[feeds]]\nid = \"second\"\nname = \"Seconda Testata\"\nurl = \"{feeds}/second.xml\"\nlang = \"it\"\n\n[events]\nfollow_up_interval = \"1s\"";
    let harness = Harness::with("", "", second).await;
    harness
        .feed
        .set("/second.xml", Route::feed(rss(&[QUIET_ITEM])));
    let mut process = harness.start().await;
    wait_polled(&mut process, "second").await;
    harness.subscribe_channel().await;
    harness.publish(&[SIX_STORIES[0]]);
    let first = harness
        .discord
        .wait_for(LIMIT, 1, |c| is_message_to(c, CHANNEL) && c.status == 200)
        .await;
    let first_id = first[0].answer["id"]
        .as_str()
        .expect("message id")
        .to_string();
    // Past the follow-up interval (two more polls, a second apart), a second outlet
    // reports the same story.
    let seen = harness.feed.hits("/feed.xml").requests;
    harness
        .feed
        .wait_for_requests("/feed.xml", seen + 2, LIMIT)
        .await;
    let same_story = (
        "ban-b",
        "Stop USA all'export dei chip H20 di NVIDIA verso la Cina",
        "Nuove restrizioni del Dipartimento del Commercio all'esportazione di chip per l'intelligenza artificiale.",
    );
    harness
        .feed
        .set("/second.xml", Route::feed(rss(&[same_story, QUIET_ITEM])));
    let sent = harness
        .discord
        .wait_for(LIMIT, 2, |c| is_message_to(c, CHANNEL) && c.status == 200)
        .await;
    let follow_up = &sent[1].body;
    assert_eq!(
        follow_up["message_reference"]["message_id"].as_str(),
        Some(first_id.as_str()),
        "{follow_up}"
    );
    assert_eq!(follow_up["message_reference"]["fail_if_not_exists"], false);
    assert_eq!(follow_up["allowed_mentions"]["parse"], json!([]));
    assert!(
        message_text(&sent[1]).contains("Seconda Testata"),
        "{follow_up}"
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
}

#[tokio::test]
async fn a_failing_feed_is_reported_to_the_admin_channel_only() {
    const ADMIN_CHANNEL: u64 = 930_000_000_000_000_001;
    let broken = "[[feeds]]\nid = \"broken\"\nname = \"Fonte Rotta\"\nurl = \"{feeds}/missing.xml\"\n\n[telegram]\nreport_failing_after = \"1s\"";
    let harness = Harness::with("", &format!("admin_channel = {ADMIN_CHANNEL}"), broken).await;
    let process = harness.start().await;
    harness.subscribe_channel().await;
    let reports = harness
        .discord
        .wait_for(LIMIT, 1, |c| {
            is_message_to(c, ADMIN_CHANNEL) && c.status == 200
        })
        .await;
    let text = message_text(&reports[0]);
    assert!(
        text.contains("Fonte Rotta") && text.contains("failing since"),
        "{text}"
    );
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert!(
        harness.discord.messages_to(CHANNEL).is_empty(),
        "subscribers hear nothing"
    );
    assert_eq!(
        harness.discord.messages_to(ADMIN_CHANNEL).len(),
        1,
        "reported once"
    );
}

#[tokio::test]
async fn a_refused_token_while_running_pauses_no_channel() {
    let harness = Harness::new().await;
    let mut process = harness.start().await;
    harness.subscribe_channel().await;
    harness.discord.fail_next_message(Failure {
        status: 401,
        body: json!({"message": "401: Unauthorized", "code": 0}),
        retry_after_header: None,
    });
    harness.publish(&[HOSTILE_BAN]);
    process
        .wait_stderr(LIMIT, |l| {
            l.contains("ERROR") && l.contains("Discord refused the bot token")
        })
        .await;
    // Retried with back-off, then delivered.
    let attempts = harness
        .discord
        .wait_for(LIMIT, 2, |c| is_message_to(c, CHANNEL))
        .await;
    assert_eq!((attempts[0].status, attempts[1].status), (401, 200));
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    let subscription = store
        .subscription(&discord_chat(CHANNEL))
        .expect("read")
        .expect("kept");
    assert!(
        subscription.active,
        "a bad token is no fault of the channel"
    );
    assert_eq!(store.outbox_stats().dead_letters, 0);
}

//! The Discord bot end to end: the real `chipwatch run` with the real serenity client,
//! pointed at a fake Discord on 127.0.0.1 (support/fake_discord.rs), and a local feed.
//! Here: commands, rights, registration and one alert; `discord_delivery.rs` has the
//! platform's answers and limits on the same harness.

use crate::support::fake_discord::{
    Call, FakeDiscord, Invoker, MANAGE_CHANNELS, MANAGE_GUILD, SEND_MESSAGES, is_message_to,
};
use crate::support::feed_server::{FeedServer, Route};
use crate::support::process::Chipwatch;
use crate::support::rss;
use chipwatch::domain::{ChatRef, Platform};
use chipwatch::store::Store;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const LIMIT: Duration = Duration::from_secs(30);
pub(crate) const TOKEN: &str = "MTIzNDU2.discord-test-token-never-logged";
pub(crate) const CHANNEL: u64 = 900_000_000_000_000_001;
pub(crate) const ADMIN: u64 = 910_000_000_000_000_001;
pub(crate) const MEMBER: u64 = 910_000_000_000_000_002;
/// The interaction callback's "ephemeral" flag.
pub(crate) const EPHEMERAL: u64 = 1 << 6;

pub(crate) const QUIET_ITEM: (&str, &str, &str) = (
    "phone",
    "Recensione dello smartphone dell'anno",
    "Display, batteria e fotocamera alla prova.",
);
/// A ban story whose title, once parsed, reads
/// `… @everyone **H20** <@123> [x](javascript:alert(1)) …`.
pub(crate) const HOSTILE_BAN: (&str, &str, &str) = (
    "ban",
    "Gli USA vietano l'export dei chip @everyone **H20** &amp;lt;@123&amp;gt; [x](javascript:alert(1)) verso la Cina",
    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per l'intelligenza artificiale verso la Cina.",
);

/// Six export-ban stories that are six events (checked with `chipwatch cluster`).
pub(crate) const SIX_STORIES: [(&str, &str, &str); 6] = [
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

pub(crate) struct Harness {
    pub(crate) feed: FeedServer,
    pub(crate) discord: FakeDiscord,
    dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        Self::with("", "", "").await
    }

    /// Extra TOML: `delivery` and `discord` inside those tables, `tail` after the feed
    /// (more tables, more feeds).
    pub(crate) async fn with(delivery: &str, discord_extra: &str, tail: &str) -> Self {
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
    pub(crate) async fn start(&self) -> Chipwatch {
        self.start_with_token(TOKEN).await
    }

    /// [`Harness::start`] with `DISCORD_TOKEN` set to `token` as given (the fake accepts
    /// [`TOKEN`]; chipwatch trims what the environment holds).
    pub(crate) async fn start_with_token(&self, token: &str) -> Chipwatch {
        let registered = self.registrations().len();
        let mut process =
            Chipwatch::start_with_env(&self.config, &["run"], &[("DISCORD_TOKEN", token)]);
        process
            .wait_stderr(LIMIT, |l| l.contains("polled") && l.contains("feed=local"))
            .await;
        self.discord
            .wait_for(LIMIT, registered + 1, is_registration)
            .await;
        process
    }

    pub(crate) fn registrations(&self) -> Vec<Call> {
        self.discord
            .calls()
            .into_iter()
            .filter(is_registration)
            .collect()
    }

    /// Runs a slash command and returns the callback that answered it.
    pub(crate) async fn command(&self, invoker: &Invoker, name: &str, options: Value) -> Call {
        let id = self.discord.command(invoker, name, options);
        self.discord.reply_to(LIMIT, &id).await
    }

    pub(crate) fn publish(&self, items: &[(&str, &str, &str)]) {
        let mut all = items.to_vec();
        all.push(QUIET_ITEM);
        self.feed.set("/feed.xml", Route::feed(rss(&all)));
    }

    pub(crate) fn store(&self) -> Store {
        Store::open(&self.dir.path().join("data")).expect("store opens")
    }

    pub(crate) async fn subscribe_channel(&self) {
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

pub(crate) fn is_registration(call: &Call) -> bool {
    call.method == "PUT" && call.path.ends_with("/commands") && call.status == 200
}

pub(crate) fn invoker(user: u64, permissions: Option<u64>) -> Invoker {
    Invoker {
        user,
        channel: CHANNEL,
        guild_permissions: permissions,
        locale: "it".into(),
    }
}

pub(crate) fn admin() -> Invoker {
    invoker(ADMIN, Some(SEND_MESSAGES | MANAGE_GUILD))
}

pub(crate) fn topics_option(topics: &str) -> Value {
    json!([{"name": "topics", "type": 3, "value": topics}])
}

pub(crate) fn reply_text(call: &Call) -> String {
    call.body["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn is_ephemeral(call: &Call) -> bool {
    call.body["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0
}

pub(crate) fn discord_chat(id: u64) -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        id: id as i64,
        thread: None,
    }
}

/// Every text of a posted message: content, embed title, description and fields.
pub(crate) fn message_text(call: &Call) -> String {
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
    // "discord stopped" is logged after an abandoned gateway too: what shows a clean
    // stop is the close frame (1000) the fake received, and no abandonment.
    assert_eq!(harness.discord.closes(), [1000], "the gateway was closed");
    assert!(
        exit.stderr.iter().any(|l| l.contains("discord stopped"))
            && !exit
                .stderr
                .iter()
                .any(|l| l.contains("did not close in time")),
        "the gateway stopped cleanly: {:#?}",
        exit.stderr
    );
    assert!(harness.discord.could_ping().is_empty());
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

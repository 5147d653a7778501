//! The Discord bot end to end: the real `chipwatch run` with the real serenity client,
//! pointed at a fake Discord on 127.0.0.1 (support/fake_discord.rs), and a local feed.
//! Here: commands, rights, registration and one alert; `discord_delivery.rs` has the
//! platform's answers and limits on the same harness.

use crate::support::fake_discord::{
    ADMINISTRATOR, Call, Failure, FakeDiscord, Invoker, MANAGE_CHANNELS, MANAGE_GUILD,
    SEND_MESSAGES, is_message_to,
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

/// The rights come from the interaction's `member.permissions`, with Discord's bits:
/// Administrator (1 << 3) alone is enough; neighbouring bits (kick 1 << 1, ban 1 << 2,
/// add reactions 1 << 6, manage messages 1 << 13, manage roles 1 << 28) are not; and a
/// server interaction that comes without `member` is refused, not taken for a DM.
#[tokio::test]
async fn rights_follow_discords_permission_bits_and_a_missing_member_is_refused() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    let administrator = invoker(ADMIN, Some(ADMINISTRATOR));
    let reply = harness
        .command(&administrator, "subscribe", topics_option("export_ban"))
        .await;
    assert!(
        reply_text(&reply).contains(r"Iscrizione attiva per: export\_ban"),
        "{}",
        reply.body
    );
    let other = 940_000_000_000_000_001;
    let neighbours = (1 << 1) | (1 << 2) | (1 << 6) | (1 << 13) | (1 << 28);
    let not_quite = Invoker {
        channel: other,
        ..invoker(MEMBER, Some(SEND_MESSAGES | neighbours))
    };
    let refused = harness
        .command(&not_quite, "subscribe", topics_option("approval"))
        .await;
    assert!(is_ephemeral(&refused), "{}", refused.body);
    assert!(reply_text(&refused).contains("Solo gli amministratori"));
    // A server's interaction (guild_id set) whose member is missing: the user alone.
    let without_member = Invoker {
        channel: other,
        ..invoker(MEMBER, Some(MANAGE_GUILD))
    };
    let id = harness.discord.command_with(
        &without_member,
        "subscribe",
        topics_option("approval"),
        |interaction| {
            let user = interaction["member"]["user"].clone();
            interaction
                .as_object_mut()
                .expect("object")
                .remove("member");
            interaction["user"] = user;
        },
    );
    let refused = harness.discord.reply_to(LIMIT, &id).await;
    assert!(is_ephemeral(&refused), "{}", refused.body);
    assert!(
        reply_text(&refused).contains("Solo gli amministratori"),
        "{}",
        refused.body
    );
    let pressed = harness.discord.press(&not_quite, "toggle:approval");
    assert!(is_ephemeral(
        &harness.discord.reply_to(LIMIT, &pressed).await
    ));
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let store = harness.store();
    assert!(
        store
            .subscription(&discord_chat(CHANNEL))
            .expect("read")
            .is_some_and(|s| s.topics.iter().any(|t| t.as_str() == "export_ban"))
    );
    assert!(
        store
            .subscription(&discord_chat(other))
            .expect("read")
            .is_none(),
        "nothing stored for the refused channel"
    );
}

/// A reply longer than 2000 characters (an operator's `/feeds` with many feeds) is the
/// callback and follow-ups, each within Discord's limit, split between lines, all of
/// them ephemeral and unable to ping (feed names hold mention syntax).
#[tokio::test]
async fn a_long_reply_is_split_between_lines_and_no_part_can_ping() {
    const FEEDS: usize = 40;
    let tail: String = (0..FEEDS)
        .map(|i| {
            format!(
                "[[feeds]]\nid = \"extra{i:02}\"\nname = \"Fonte @everyone <@123> numero {i:02} dal nome piuttosto lungo\"\nurl = \"{{feeds}}/extra{i:02}.xml\"\n\n"
            )
        })
        .collect();
    let harness = Harness::with("", "", &tail).await;
    let process = harness.start().await;
    let operator = invoker(ADMIN, Some(SEND_MESSAGES));
    let id = harness.discord.command(&operator, "feeds", json!([]));
    harness.discord.reply_to(LIMIT, &id).await;
    // Parts go in order: once the last feed's line has arrived, every part has.
    let last = format!("numero {:02}", FEEDS - 1);
    harness
        .discord
        .wait_for(LIMIT, 1, |c| {
            c.path.contains(&format!("interaction-token-{id}"))
                && c.body["content"]
                    .as_str()
                    .is_some_and(|t| t.contains(&last))
        })
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    let answers = harness.discord.answers_to(&id);
    assert!(answers.len() >= 2, "callback and follow-ups: {answers:#?}");
    let mut lines = Vec::new();
    for answer in &answers {
        assert!((200..300).contains(&answer.status), "{answer:#?}");
        let data = if answer.path.starts_with("/interactions/") {
            &answer.body["data"]
        } else {
            &answer.body
        };
        assert_ne!(data["flags"].as_u64().unwrap_or(0) & EPHEMERAL, 0, "{data}");
        let content = data["content"].as_str().expect("content");
        assert!(content.chars().count() <= 2000);
        for line in content.lines() {
            assert!(
                !line.contains("@everyone") && !line.contains("<@"),
                "{line}"
            );
            lines.push(line.to_string());
        }
    }
    // The header, then one whole line per feed (the configured one included).
    assert_eq!(lines.len(), 1 + FEEDS + 1, "{lines:#?}");
    for line in &lines[1..] {
        assert!(line.ends_with(" errors"), "a line cut or split: {line:?}");
    }
    assert!(harness.discord.could_ping().is_empty());
}

/// Commands Discord knows but chipwatch does not (a stale registration), buttons of
/// another kind, and interaction types chipwatch does not use are answered or ignored;
/// the bot goes on answering.
#[tokio::test]
async fn unknown_commands_buttons_and_interaction_types_never_stop_the_bot() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let unknown = harness.command(&member, "frobnicate", json!([])).await;
    assert!(is_ephemeral(&unknown), "{}", unknown.body);
    assert!(
        reply_text(&unknown).contains("Non conosco questo comando"),
        "{}",
        unknown.body
    );
    let pressed = harness.discord.press(&member, "other:thing");
    let acknowledged = harness.discord.reply_to(LIMIT, &pressed).await;
    assert_eq!(acknowledged.body["type"], 6, "{}", acknowledged.body);
    let autocomplete = harness.discord.interaction(
        &member,
        4,
        json!({"id": "600000000000000006", "name": "search", "type": 1,
               "options": [{"name": "words", "type": 3, "value": "chi", "focused": true}]}),
    );
    let topics = harness.command(&member, "topics", json!([])).await;
    assert!(reply_text(&topics).contains("`export_ban`"));
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    assert!(
        harness.discord.answers_to(&autocomplete).is_empty(),
        "an autocomplete is not answered with a message"
    );
    assert!(
        !exit.stderr.iter().any(|l| l.contains("panicked")),
        "{:#?}",
        exit.stderr
    );
}

/// The answers that follow interaction `id`'s callback (edits of "thinking…" and
/// follow-ups), once there are `count`.
async fn after_callback(harness: &Harness, id: &str, count: usize) -> Vec<Call> {
    let token = format!("interaction-token-{id}");
    harness
        .discord
        .wait_for(LIMIT, count, |c| {
            c.path.starts_with("/webhooks/") && c.path.contains(&token)
        })
        .await
}

/// With `defer_after = "0s"` every command and button takes the deferred way that a
/// slow one takes after 2 s: "thinking…" (5, or 6 for a button) within Discord's 3 s,
/// then the reply edited in (`PATCH …/messages/@original`), unable to ping, private
/// when it is a refusal.
#[tokio::test]
async fn a_deferred_answer_is_edited_in_and_stays_private_when_refused() {
    let harness = Harness::with("", "defer_after = \"0s\"", "").await;
    let process = harness.start().await;
    let id = harness
        .discord
        .command(&admin(), "subscribe", topics_option("export_ban"));
    let thinking = harness.discord.reply_to(LIMIT, &id).await;
    assert_eq!(thinking.body["type"], 5, "{}", thinking.body);
    assert!(!is_ephemeral(&thinking));
    let edit = after_callback(&harness, &id, 1).await.remove(0);
    assert_eq!(
        (edit.method.as_str(), edit.status),
        ("PATCH", 200),
        "{edit:#?}"
    );
    assert!(edit.path.ends_with("/messages/@original"), "{}", edit.path);
    assert!(
        edit.body["content"]
            .as_str()
            .is_some_and(|t| t.contains(r"Iscrizione attiva per: export\_ban")),
        "{}",
        edit.body
    );

    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let id = harness
        .discord
        .command(&member, "subscribe", topics_option("approval"));
    let thinking = harness.discord.reply_to(LIMIT, &id).await;
    assert!(
        is_ephemeral(&thinking),
        "a refusal is private: {}",
        thinking.body
    );
    let edit = after_callback(&harness, &id, 1).await.remove(0);
    assert!(
        edit.body["content"]
            .as_str()
            .is_some_and(|t| t.contains("Solo gli amministratori")),
        "{}",
        edit.body
    );

    // Buttons: the press is acknowledged, then the buttons message is edited; a refused
    // press gets a private follow-up.
    let manager = invoker(ADMIN, Some(SEND_MESSAGES | MANAGE_CHANNELS));
    let pressed = harness.discord.press(&manager, "toggle:approval");
    let acknowledged = harness.discord.reply_to(LIMIT, &pressed).await;
    assert_eq!(acknowledged.body["type"], 6, "{}", acknowledged.body);
    let edit = after_callback(&harness, &pressed, 1).await.remove(0);
    assert_eq!(edit.method, "PATCH", "{edit:#?}");
    assert!(
        edit.body["components"].to_string().contains('✅'),
        "{}",
        edit.body
    );
    let pressed = harness.discord.press(&member, "toggle:export_ban");
    harness.discord.reply_to(LIMIT, &pressed).await;
    let toast = after_callback(&harness, &pressed, 1).await.remove(0);
    assert_eq!((toast.method.as_str(), toast.status), ("POST", 200));
    assert_ne!(
        toast.body["flags"].as_u64().unwrap_or(0) & EPHEMERAL,
        0,
        "{}",
        toast.body
    );

    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert!(
        harness.discord.could_ping().is_empty(),
        "{:#?}",
        harness.discord.could_ping()
    );
    let subscription = harness
        .store()
        .subscription(&discord_chat(CHANNEL))
        .expect("read")
        .expect("stored");
    let topics: Vec<&str> = subscription.topics.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        topics,
        ["approval", "export_ban"],
        "the member's press was refused"
    );
}

/// A gateway session that Discord invalidates makes the client identify again, and a
/// new READY: the commands are not registered again (once per process), and the bot
/// answers on the new session, once.
#[tokio::test]
async fn a_new_gateway_session_registers_nothing_again_and_answers_once() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.discord.wait_identified(LIMIT, 1).await;
    harness.discord.invalidate_session();
    harness.discord.wait_identified(LIMIT, 2).await;
    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let id = harness.discord.command(&member, "topics", json!([]));
    let reply = harness.discord.reply_to(LIMIT, &id).await;
    assert!(reply_text(&reply).contains("`export_ban`"));
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let readies = exit
        .stderr
        .iter()
        .filter(|l| l.contains("connected to the Discord gateway"))
        .count();
    assert_eq!(readies, 2, "two sessions: {:#?}", exit.stderr);
    assert_eq!(harness.registrations().len(), 1, "registered once");
    assert_eq!(harness.discord.answers_to(&id).len(), 1, "answered once");
}

/// A reply that Discord refuses (400 Invalid Form Body) does not leave the user with
/// "The application did not respond": the localized apology goes instead, privately,
/// and Discord's error text is never shown.
#[tokio::test]
async fn a_reply_discord_refuses_is_replaced_by_a_localized_apology() {
    let harness = Harness::new().await;
    let process = harness.start().await;
    harness.discord.fail_next_callback(Failure {
        status: 400,
        body: json!({"message": "Invalid Form Body", "code": 50035, "errors": {}}),
        retry_after_header: None,
    });
    let member = invoker(MEMBER, Some(SEND_MESSAGES));
    let id = harness.discord.command(&member, "topics", json!([]));
    let prefix = format!("/interactions/{id}/");
    let answers = harness
        .discord
        .wait_for(LIMIT, 2, |c| c.path.starts_with(&prefix))
        .await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert_eq!((answers[0].status, answers[1].status), (400, 204));
    let apology = &answers[1];
    assert!(is_ephemeral(apology), "{}", apology.body);
    let text = reply_text(apology);
    assert!(text.contains("Qualcosa è andato storto"), "{text}");
    assert!(!text.contains("Invalid Form Body"), "{text}");
}

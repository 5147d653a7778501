//! Discord interactions end to end, on the harness of `discord.rs`: rights by
//! permission bits, long replies, unknown interactions, deferred answers, a new gateway
//! session, and replies Discord refuses.

use crate::discord::{
    ADMIN, CHANNEL, EPHEMERAL, Harness, LIMIT, MEMBER, admin, discord_chat, invoker, is_ephemeral,
    reply_text, topics_option,
};
use crate::support::fake_discord::{
    ADMINISTRATOR, Call, Failure, Invoker, MANAGE_CHANNELS, MANAGE_GUILD, SEND_MESSAGES,
};
use serde_json::json;

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

//! Discord delivery end to end, on the harness of `discord.rs`: platform answers (429,
//! Missing Access, Invalid Form Body, a refused token), the per-channel bucket,
//! follow-ups as replies, and feed-failure reports to the admin channel.

use crate::discord::{
    CHANNEL, HOSTILE_BAN, Harness, LIMIT, QUIET_ITEM, SIX_STORIES, TOKEN, discord_chat,
    message_text, reply_text,
};
use crate::support::fake_discord::{Call, Failure, Invoker, is_message_to};
use crate::support::feed_server::Route;
use crate::support::process::Chipwatch;
use crate::support::rss;
use serde_json::json;
use std::time::Duration;

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

/// A token set with a trailing newline (a secrets file) is used trimmed; it must be
/// redacted as used. The fake echoes the Authorization header back in its error, as a
/// misbehaving proxy might, and the error is logged and stored.
#[tokio::test]
async fn a_token_with_a_trailing_newline_is_redacted_where_it_is_echoed() {
    let harness = Harness::new().await;
    let mut process = harness.start_with_token(&format!("{TOKEN}\n")).await;
    harness.subscribe_channel().await;
    for status in [401, 502] {
        harness.discord.fail_next_message(Failure {
            status,
            body: json!({"message": format!("refused Authorization: Bot {TOKEN} (echoed)"), "code": 0}),
            retry_after_header: None,
        });
    }
    harness.publish(&[HOSTILE_BAN]);
    process
        .wait_stderr(LIMIT, |l| l.contains("Discord refused the bot token"))
        .await;
    harness
        .discord
        .wait_for(LIMIT, 3, |c| is_message_to(c, CHANNEL))
        .await;
    let exit = process.terminate(LIMIT).await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let secret = TOKEN.split('.').nth(1).expect("token's secret part");
    let leaks: Vec<&String> = exit.stderr.iter().filter(|l| l.contains(secret)).collect();
    assert!(leaks.is_empty(), "the token leaked: {leaks:#?}");
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("refused Authorization: Bot ***")),
        "the echoed error is logged, redacted: {:#?}",
        exit.stderr
    );
}

/// A 429 for Discord's global limit (`"global": true`) stops every channel, not only the
/// one whose message was refused: nothing is sent to any channel before it is over.
#[tokio::test]
async fn a_global_rate_limit_holds_every_channel() {
    // One chat at a time, so the second channel's turn comes right after the 429.
    let harness = Harness::with("max_in_flight = 1", "", "").await;
    let process = harness.start().await;
    harness.subscribe_channel().await;
    let dm = Invoker {
        user: 910_000_000_000_000_003,
        channel: 920_000_000_000_000_009,
        guild_permissions: None,
        locale: "it".into(),
    };
    let reply = harness
        .command(
            &dm,
            "subscribe",
            json!([{"name": "topics", "type": 3, "value": "export_ban"}]),
        )
        .await;
    assert!(
        reply_text(&reply).contains("Iscrizione attiva"),
        "{}",
        reply.body
    );
    harness.discord.fail_next_message(Failure {
        status: 429,
        body: json!({"message": "You are being rate limited.", "retry_after": 2.0, "global": true}),
        retry_after_header: Some("2".into()),
    });
    harness.publish(&[HOSTILE_BAN]);
    let to_either = |c: &Call| is_message_to(c, CHANNEL) || is_message_to(c, dm.channel);
    let sent = harness.discord.wait_for(LIMIT, 3, to_either).await;
    assert_eq!(process.terminate(LIMIT).await.code, 0);
    assert_eq!(sent[0].status, 429);
    for call in &sent[1..] {
        let after = call.at - sent[0].at;
        assert!(
            after >= Duration::from_secs(2),
            "{} sent {after:?} after a global 429 asking for 2 s",
            call.path
        );
    }
    assert_eq!(harness.discord.messages_to(CHANNEL).len(), 1);
    assert_eq!(harness.discord.messages_to(dm.channel).len(), 1);
}

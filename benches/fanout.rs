//! Fan-out benchmark: one event to N subscribed chats (default 10,000) through the real
//! dispatcher and the real teloxide notifier, against a fake Bot API on 127.0.0.1 that
//! enforces Telegram's limits (30 messages in any second overall, 1 per second per chat)
//! and answers 429 with retry_after when they are broken.
//!
//!     cargo bench --bench fanout              # 10,000 chats (about six minutes)
//!     cargo bench --bench fanout -- 1000      # a quicker run
//!
//! Prints the delivery rate as a share of the allowed 30/s and the number of 429s.

use axum::body::Bytes;
use axum::http::StatusCode;
use chipwatch::dispatcher::{self, DispatchParams};
use chipwatch::domain::{
    Alert, ChatRef, Classification, Delivery, DeliveryKind, FeedId, Item, ItemId, Lang, Platform,
    TopicId, TopicScore,
};
use chipwatch::store::{PollCommit, Store};
use chipwatch::telegram::{Telegram, TelegramLimits};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ALLOWED_PER_SECOND: usize = 30;

#[derive(Default)]
struct Enforcer {
    recent: VecDeque<Instant>,
    last_per_chat: HashMap<i64, Instant>,
    accepted: usize,
    rejected: usize,
}

impl Enforcer {
    /// Telegram's rule as the fake applies it: no more than 30 messages in any one-second
    /// window, no more than one per chat per second.
    fn admit(&mut self, chat: i64, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        let chat_ok = self
            .last_per_chat
            .get(&chat)
            .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(1));
        if self.recent.len() >= ALLOWED_PER_SECOND || !chat_ok {
            self.rejected += 1;
            return false;
        }
        self.recent.push_back(now);
        self.last_per_chat.insert(chat, now);
        self.accepted += 1;
        true
    }
}

async fn fake_bot_api(enforcer: Arc<Mutex<Enforcer>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let enforcer = enforcer.clone();
        async move {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            if !enforcer.lock().expect("enforcer").admit(chat, Instant::now()) {
                let error = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}});
                return (StatusCode::TOO_MANY_REQUESTS, error.to_string());
            }
            let message = json!({"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private", "first_name": "U"}, "text": "ok"});
            (StatusCode::OK, json!({"ok": true, "result": message}).to_string())
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

fn alert() -> Alert {
    let now = chipwatch::clock::now();
    Alert {
        item: Item {
            id: ItemId(1),
            feed: FeedId::parse("bench").expect("id"),
            outlet: "ANSA".into(),
            title: "La Cina autorizza l'acquisto di 400.000 chip NVIDIA H200".into(),
            summary: "Via libera con condizioni per ByteDance, Alibaba e Tencent.".into(),
            link: Some("https://www.ansa.it/h200".into()),
            published: Some(now),
            first_seen: now,
            lang: Lang::It,
        },
        classification: Classification {
            topics: vec![TopicScore {
                topic: TopicId::parse("approval").expect("id"),
                score: 4.5,
            }],
            entities: vec![],
            why: vec!["approval: \"via libera\" + context \"chip\" (+4.5)".into()],
            concepts: vec![],
            actor: None,
        },
    }
}

#[tokio::main]
async fn main() {
    let chats: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let enforcer = Arc::new(Mutex::new(Enforcer::default()));
    let api = fake_bot_api(enforcer.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let now = chipwatch::clock::now();
    let deliveries = (1..=chats)
        .map(|id| {
            Delivery::new(
                ChatRef {
                    platform: Platform::Telegram,
                    id,
                    thread: None,
                },
                alert(),
                None,
                DeliveryKind::Alert,
                now,
            )
        })
        .collect();
    store
        .commit_poll(PollCommit {
            deliveries,
            ..PollCommit::default()
        })
        .await
        .expect("queue");
    let notifier = Telegram::notifier_at(
        "1:bench",
        url::Url::parse(&api).expect("url"),
        store.clone(),
        chrono_tz::Europe::Rome,
        TelegramLimits::default(),
    );
    let params = DispatchParams {
        max_in_flight: 4,
        burst_min: 3,
    };

    eprintln!("fan-out: {chats} chats queued; delivering…");
    let started = Instant::now();
    // The service's own loop, stopped once the outbox is empty.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let wake = Arc::new(tokio::sync::Notify::new());
    let notifier: Arc<dyn chipwatch::notify::Notifier> = Arc::new(notifier);
    let dispatcher = tokio::spawn(dispatcher::run(
        store.clone(),
        notifier,
        params,
        wake,
        shutdown.clone(),
    ));
    // Bounded: a generous multiple of the time the allowed rate needs.
    let limit = Duration::from_secs(10 * chats as u64 / ALLOWED_PER_SECOND as u64 + 60);
    while store.outbox_stats().pending > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    shutdown.cancel();
    dispatcher.await.expect("dispatcher stops");
    let outbox = store.outbox_stats();
    let enforcer = enforcer.lock().expect("enforcer");
    let rate = outbox.delivered as f64 / elapsed;
    println!("chats: {chats}");
    println!(
        "delivered: {} in {elapsed:.1} s; dead letters: {}",
        outbox.delivered, outbox.dead_letters
    );
    println!(
        "delivery rate: {rate:.2} messages/s = {:.1} % of the allowed {ALLOWED_PER_SECOND}/s",
        100.0 * rate / ALLOWED_PER_SECOND as f64
    );
    println!(
        "429 answers: {} (accepted {})",
        enforcer.rejected, enforcer.accepted
    );
}

//! A fake Telegram Bot API on 127.0.0.1:0 that the real teloxide client is pointed at.
//! It answers the calls chipwatch makes, long-polls `getUpdates` from a queue the test
//! fills, records every call, and can be scripted to fail `sendMessage` (429 with
//! retry_after, 403 blocked, a supergroup migration) so each platform fact is tested.

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

pub const BOT_ID: i64 = 4242;
pub const BOT_USERNAME: &str = "chipwatch_test_bot";

#[derive(Debug, Clone)]
pub struct Call {
    /// Lowercase method name (teloxide sends PascalCase).
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

/// A scripted failure for the next `sendMessage` calls.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub description: String,
    pub parameters: Option<Value>,
}

#[derive(Default)]
struct State {
    updates: VecDeque<Value>,
    next_update_id: i64,
    calls: Vec<Call>,
    failures: VecDeque<Failure>,
    /// Scripted answers for the next `getMe` calls.
    get_me_failures: VecDeque<Failure>,
    /// (chat, user) → "creator" | "administrator" | "member" | "left".
    members: HashMap<(i64, i64), String>,
    /// Channel username (with @) → chat id.
    channels: HashMap<String, i64>,
    next_message_id: i64,
}

pub struct FakeTelegram {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            next_update_id: 1,
            next_message_id: 100,
            ..State::default()
        }));
        let changed = Arc::new(Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("addr");
        let (handler_state, handler_changed) = (state.clone(), changed.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, body: Bytes| {
            let (state, changed) = (handler_state.clone(), handler_changed.clone());
            async move { answer(&state, &changed, &uri, &body).await }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake telegram");
        });
        Self {
            addr,
            state,
            changed,
            _task: task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a text message from `user` in `chat` as the next update.
    pub fn send_text(&self, chat: Value, user: i64, text: &str) {
        let mut state = self.state.lock().expect("state");
        let update_id = state.next_update_id;
        state.next_update_id += 1;
        let message_id = state.next_message_id;
        state.next_message_id += 1;
        let command_length = text
            .split_whitespace()
            .next()
            .map_or(0, |w| w.encode_utf16().count());
        let mut message = json!({
            "message_id": message_id,
            "date": 1_764_400_000,
            "chat": chat,
            "from": {"id": user, "is_bot": false, "first_name": "Tester", "language_code": "it"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": command_length}],
        });
        if let Some(thread) = message["chat"].get("thread").cloned() {
            message["message_thread_id"] = thread;
            message["is_topic_message"] = json!(true);
            if let Some(chat) = message["chat"].as_object_mut() {
                chat.remove("thread");
            }
        }
        state
            .updates
            .push_back(json!({"update_id": update_id, "message": message}));
        drop(state);
        self.changed.notify_waiters();
    }

    /// Queues a press on an inline button with `data`, under the bot's message `message_id`.
    pub fn press_button(&self, chat: Value, user: i64, message_id: i64, data: &str) {
        let mut state = self.state.lock().expect("state");
        let update_id = state.next_update_id;
        state.next_update_id += 1;
        let message = json!({"message_id": message_id, "date": 1_764_400_000, "chat": chat, "text": "buttons"});
        state.updates.push_back(json!({
            "update_id": update_id,
            "callback_query": {
                "id": format!("cb{update_id}"),
                "from": {"id": user, "is_bot": false, "first_name": "Tester", "language_code": "it"},
                "message": message,
                "chat_instance": "test",
                "data": data,
            }
        }));
        drop(state);
        self.changed.notify_waiters();
    }

    pub fn set_member(&self, chat: i64, user: i64, status: &str) {
        self.state
            .lock()
            .expect("state")
            .members
            .insert((chat, user), status.to_string());
    }

    pub fn add_channel(&self, username: &str, id: i64) {
        self.state
            .lock()
            .expect("state")
            .channels
            .insert(username.to_string(), id);
    }

    /// The next `getMe` calls answer `failure`, one each.
    pub fn fail_get_me(&self, failures: &[Failure]) {
        self.state
            .lock()
            .expect("state")
            .get_me_failures
            .extend(failures.iter().cloned());
    }

    pub fn fail_next_send(&self, failure: Failure) {
        self.state
            .lock()
            .expect("state")
            .failures
            .push_back(failure);
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        let method = method.to_lowercase();
        self.state
            .lock()
            .expect("state")
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// `sendMessage` calls to `chat`.
    pub fn messages_to(&self, chat: i64) -> Vec<Call> {
        self.calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"].as_i64() == Some(chat))
            .collect()
    }

    /// Waits until `count` calls satisfy `wanted`; panics with the calls seen after `limit`.
    pub async fn wait_for(
        &self,
        limit: Duration,
        count: usize,
        wanted: impl Fn(&Call) -> bool,
    ) -> Vec<Call> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            let matching: Vec<Call> = self
                .state
                .lock()
                .expect("state")
                .calls
                .iter()
                .filter(|c| wanted(c))
                .cloned()
                .collect();
            if matching.len() >= count {
                return matching;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let all: Vec<(String, String)> = self
                    .state
                    .lock()
                    .expect("state")
                    .calls
                    .iter()
                    .filter(|c| c.method != "getupdates")
                    .map(|c| (c.method.clone(), c.body.to_string()))
                    .collect();
                panic!(
                    "waited {limit:?} for {count} matching calls, saw {}; calls: {all:#?}",
                    matching.len()
                );
            }
        }
    }
}

fn ok(result: Value) -> (StatusCode, String) {
    (
        StatusCode::OK,
        json!({"ok": true, "result": result}).to_string(),
    )
}

fn chat_json(id: i64) -> Value {
    if id < 0 {
        json!({"id": id, "type": "supergroup", "title": "Test group"})
    } else {
        json!({"id": id, "type": "private", "first_name": "Tester"})
    }
}

/// Telegram's error answer for a scripted failure.
fn failed(failure: &Failure) -> (StatusCode, String) {
    let mut error =
        json!({"ok": false, "error_code": failure.status, "description": failure.description});
    if let Some(parameters) = &failure.parameters {
        error["parameters"] = parameters.clone();
    }
    (
        StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST),
        error.to_string(),
    )
}

async fn answer(
    state: &Mutex<State>,
    changed: &Notify,
    uri: &Uri,
    body: &[u8],
) -> (StatusCode, String) {
    // /bot<TOKEN>/<Method>
    let method = uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if method == "getupdates" {
        return get_updates(state, changed, &body).await;
    }
    state.lock().expect("state").calls.push(Call {
        method: method.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    changed.notify_waiters();
    let mut state = state.lock().expect("state");
    match method.as_str() {
        "getme" if !state.get_me_failures.is_empty() => {
            let failure = state
                .get_me_failures
                .pop_front()
                .expect("a scripted failure");
            failed(&failure)
        }
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "chipwatch", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false
        })),
        "getwebhookinfo" => {
            ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "deletewebhook" | "setmycommands" | "answercallbackquery" => ok(json!(true)),
        "sendmessage" => {
            if let Some(failure) = state.failures.pop_front() {
                return failed(&failure);
            }
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            let message_id = state.next_message_id;
            state.next_message_id += 1;
            ok(
                json!({"message_id": message_id, "date": 1_764_400_000, "chat": chat_json(chat), "text": body["text"]}),
            )
        }
        "editmessagereplymarkup" | "editmessagetext" => {
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            ok(
                json!({"message_id": body["message_id"], "date": 1_764_400_000, "chat": chat_json(chat), "text": "edited"}),
            )
        }
        "getchatmember" => {
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            let user = body["user_id"].as_i64().unwrap_or_default();
            let status = state
                .members
                .get(&(chat, user))
                .cloned()
                .unwrap_or_else(|| "member".to_string());
            let mut member = json!({"user": {"id": user, "is_bot": user == BOT_ID, "first_name": "U"}, "status": status});
            if status == "administrator" {
                for right in [
                    "can_be_edited",
                    "is_anonymous",
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_messages",
                    "can_edit_messages",
                    "can_pin_messages",
                    "can_manage_topics",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                ] {
                    member[right] = json!(right != "is_anonymous" && right != "can_be_edited");
                }
            }
            if status == "creator" {
                member["is_anonymous"] = json!(false);
            }
            ok(member)
        }
        "getchat" => {
            let name = body["chat_id"].as_str().unwrap_or_default().to_string();
            match state.channels.get(&name) {
                Some(id) => ok(json!({
                    "id": id, "type": "channel", "title": "Channel", "username": name.trim_start_matches('@'),
                    "max_reaction_count": 0, "accent_color_id": 0,
                    "accepted_gift_types": {"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false}
                })),
                None => (StatusCode::BAD_REQUEST, json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}).to_string()),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            json!({"ok": false, "error_code": 404, "description": "Not Found: method not faked"})
                .to_string(),
        ),
    }
}

/// Long polling, kept short (at most one second) so that shutting down is quick.
async fn get_updates(state: &Mutex<State>, changed: &Notify, body: &Value) -> (StatusCode, String) {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let notified = changed.notified();
        {
            let mut state = state.lock().expect("state");
            state
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !state.updates.is_empty() {
                let updates: Vec<Value> = state.updates.iter().cloned().collect();
                return ok(Value::Array(updates));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

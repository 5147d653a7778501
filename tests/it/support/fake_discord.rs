//! A fake Discord on 127.0.0.1 that the real serenity client is pointed at: REST on one
//! port (the gateway URL, `/users/@me`, command registration, channel messages,
//! interaction callbacks and follow-ups, `GET /channels/{id}`) and a gateway on another
//! (HELLO → IDENTIFY → READY with the application id, heartbeat ACKs, and the
//! INTERACTION_CREATE dispatches a test injects). It records every request and answers
//! as strictly as Discord: message rate limits (5 per 5 s per channel, 50/s in all; a 429
//! when broken), message limits (content 2000, embed title 256, description 4096, 25
//! fields of 256/1024, 6000 in all, nothing empty; a 400 50035 or 50006), interaction
//! callbacks only once, with the interaction's token and within 3 s of its dispatch
//! (else 10062 or 40060), follow-ups and edits only after a callback (else 10015). It
//! can be scripted to fail the next messages or callbacks, and to invalidate the
//! gateway session (the client must identify again).

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;

pub const BOT_ID: &str = "100000000000000001";
pub const APPLICATION_ID: &str = "200000000000000002";
pub const GUILD_ID: &str = "300000000000000003";

/// Discord's permission bits that matter here.
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_CHANNELS: u64 = 1 << 4;
pub const MANAGE_GUILD: u64 = 1 << 5;

/// How long Discord waits for an interaction's first answer.
pub const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path after `/api/v10`.
    pub path: String,
    pub body: Value,
    pub status: u16,
    /// What the fake answered.
    pub answer: Value,
    pub at: Instant,
}

/// A scripted answer for the next `POST /channels/{id}/messages`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub body: Value,
    pub retry_after_header: Option<String>,
}

/// Who runs a command, and where.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub user: u64,
    pub channel: u64,
    /// In a server (with these permissions), or in a DM.
    pub guild_permissions: Option<u64>,
    pub locale: String,
}

/// What the gateway session has to send next.
#[derive(Debug, Clone)]
enum Pending {
    Interaction(Value),
    /// Opcode 9 with `d: false`: the session is gone, identify again.
    InvalidSession,
}

/// An interaction the fake dispatched.
#[derive(Debug, Clone)]
struct Issued {
    token: String,
    /// When the gateway sent it (its 3 s run from here), once sent.
    sent: Option<Instant>,
    answered: bool,
}

#[derive(Default)]
struct State {
    token: String,
    calls: Vec<Call>,
    failures: VecDeque<Failure>,
    callback_failures: VecDeque<Failure>,
    /// Dispatches waiting for the gateway session.
    pending: VecDeque<Pending>,
    interactions: HashMap<String, Issued>,
    /// IDENTIFY frames received, and the close codes the client sent.
    identifies: usize,
    closes: Vec<u16>,
    sequence: u64,
    next_id: u64,
    channel_sends: HashMap<String, VecDeque<Instant>>,
    global_sends: VecDeque<Instant>,
    /// 429s the fake answered because a limit was broken (not scripted ones).
    limit_breaks: usize,
}

pub struct FakeDiscord {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeDiscord {
    /// A fake that accepts only `token` (anything else gets 401).
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            next_id: 500_000_000_000_000_000,
            ..State::default()
        }));
        let changed = Arc::new(Notify::new());
        let rest = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind rest");
        let gateway = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gateway");
        let (addr, gateway_addr) = (
            rest.local_addr().expect("addr"),
            gateway.local_addr().expect("addr"),
        );
        let (handler_state, handler_changed) = (state.clone(), changed.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (state, changed) = (handler_state.clone(), handler_changed.clone());
                async move {
                    answer(
                        &state,
                        &changed,
                        gateway_addr,
                        &method,
                        &uri,
                        &headers,
                        &body,
                    )
                }
            },
        );
        let rest_task = tokio::spawn(async move {
            axum::serve(rest, app).await.expect("fake discord rest");
        });
        let (gateway_state, gateway_changed) = (state.clone(), changed.clone());
        let gateway_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                let (state, changed) = (gateway_state.clone(), gateway_changed.clone());
                tokio::spawn(async move { session(stream, state, changed).await });
            }
        });
        Self {
            addr,
            state,
            changed,
            _tasks: vec![rest_task, gateway_task],
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fail_next_message(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// Refuses the next interaction callback with this answer (it stays unanswered).
    pub fn fail_next_callback(&self, failure: Failure) {
        self.lock().callback_failures.push_back(failure);
    }

    /// Invalidates the gateway session (opcode 9, not resumable): the client must
    /// connect and identify again.
    pub fn invalidate_session(&self) {
        self.lock().pending.push_back(Pending::InvalidSession);
        self.changed.notify_waiters();
    }

    /// Waits until clients identified `count` times on the gateway.
    pub async fn wait_identified(&self, limit: Duration, count: usize) {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            let identifies = self.lock().identifies;
            if identifies >= count {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("waited {limit:?} for {count} identifies, saw {identifies}");
            }
        }
    }

    /// The close codes the client sent on the gateway.
    pub fn closes(&self) -> Vec<u16> {
        self.lock().closes.clone()
    }

    /// Accepted requests that carry text but do not set `allowed_mentions` to parse
    /// nothing: each of them could ping.
    pub fn could_ping(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| (200..300).contains(&c.status))
            .filter(|c| {
                let data = if c.path.starts_with("/interactions/") {
                    &c.body["data"]
                } else {
                    &c.body
                };
                let carries_text = data["content"].as_str().is_some_and(|t| !t.is_empty())
                    || data["embeds"].as_array().is_some_and(|e| !e.is_empty());
                let parse = &data["allowed_mentions"]["parse"];
                carries_text
                    && !(parse.as_array().is_some_and(|p| p.is_empty())
                        && data["allowed_mentions"]["replied_user"] != json!(true))
            })
            .collect()
    }

    /// How many times the fake had to answer 429 because a limit was broken.
    pub fn limit_breaks(&self) -> usize {
        self.lock().limit_breaks
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state")
    }

    fn new_id(&self) -> String {
        let mut state = self.lock();
        state.next_id += 1;
        state.next_id.to_string()
    }

    fn dispatch(&self, interaction: Value) {
        {
            let mut state = self.lock();
            if let (Some(id), Some(token)) =
                (interaction["id"].as_str(), interaction["token"].as_str())
            {
                let issued = Issued {
                    token: token.to_string(),
                    sent: None,
                    answered: false,
                };
                state.interactions.insert(id.to_string(), issued);
            }
            state.pending.push_back(Pending::Interaction(interaction));
        }
        self.changed.notify_waiters();
    }

    /// Injects a slash command; returns the interaction's id (its callback's path holds it).
    pub fn command(&self, invoker: &Invoker, name: &str, options: Value) -> String {
        self.command_with(invoker, name, options, |_| {})
    }

    /// [`FakeDiscord::command`] with the interaction's JSON changed by `edit` first.
    pub fn command_with(
        &self,
        invoker: &Invoker,
        name: &str,
        options: Value,
        edit: impl FnOnce(&mut Value),
    ) -> String {
        let id = self.new_id();
        let mut interaction = base_interaction(&id, 2, invoker);
        interaction["data"] = json!({
            "id": "600000000000000006", "name": name, "type": 1, "options": options,
        });
        edit(&mut interaction);
        self.dispatch(interaction);
        id
    }

    /// Injects an interaction of another type (4: autocomplete, 5: modal submit) with
    /// `data`; returns its id.
    pub fn interaction(&self, invoker: &Invoker, kind: u8, data: Value) -> String {
        let id = self.new_id();
        let mut interaction = base_interaction(&id, kind, invoker);
        interaction["data"] = data;
        self.dispatch(interaction);
        id
    }

    /// Injects a press on a button with `custom_id` under a message of the bot.
    pub fn press(&self, invoker: &Invoker, custom_id: &str) -> String {
        let id = self.new_id();
        let mut interaction = base_interaction(&id, 3, invoker);
        interaction["data"] = json!({"custom_id": custom_id, "component_type": 2});
        interaction["message"] = message_json(
            "700000000000000007",
            &invoker.channel.to_string(),
            &json!({}),
        );
        self.dispatch(interaction);
        id
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Messages the fake accepted in `channel`.
    pub fn messages_to(&self, channel: u64) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| is_message_to(c, channel) && c.status == 200)
            .collect()
    }

    /// The callback that answered interaction `id`, once there is one; panics if the
    /// fake refused it (too late, twice, or not a valid message).
    pub async fn reply_to(&self, limit: Duration, id: &str) -> Call {
        let prefix = format!("/interactions/{id}/");
        let call = self
            .wait_for(limit, 1, |c| c.path.starts_with(&prefix))
            .await
            .remove(0);
        assert_eq!(
            call.status, 204,
            "the callback was refused: {} {}",
            call.answer, call.body
        );
        call
    }

    /// Every callback, follow-up and edit for interaction `id`, in order.
    pub fn answers_to(&self, id: &str) -> Vec<Call> {
        let token = format!("interaction-token-{id}");
        self.calls()
            .into_iter()
            .filter(|c| {
                c.path.starts_with(&format!("/interactions/{id}/")) || c.path.contains(&token)
            })
            .collect()
    }

    /// Waits until `count` calls satisfy `wanted`; panics with every call after `limit`.
    pub async fn wait_for(
        &self,
        limit: Duration,
        count: usize,
        wanted: impl Fn(&Call) -> bool,
    ) -> Vec<Call> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            let matching: Vec<Call> = self.calls().into_iter().filter(|c| wanted(c)).collect();
            if matching.len() >= count {
                return matching;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let all: Vec<String> = self
                    .calls()
                    .iter()
                    .map(|c| format!("{} {} {} {}", c.method, c.path, c.status, c.body))
                    .collect();
                panic!(
                    "waited {limit:?} for {count} matching calls, saw {}; calls: {all:#?}",
                    matching.len()
                );
            }
        }
    }
}

pub fn is_message_to(call: &Call, channel: u64) -> bool {
    call.method == "POST" && call.path == format!("/channels/{channel}/messages")
}

fn user_json(id: &str, bot: bool) -> Value {
    json!({
        "id": id, "username": if bot { "chipwatch" } else { "tester" }, "discriminator": "0",
        "global_name": null, "avatar": null, "bot": bot, "flags": 0, "public_flags": 0,
    })
}

fn base_interaction(id: &str, kind: u8, invoker: &Invoker) -> Value {
    let user = user_json(&invoker.user.to_string(), false);
    let mut interaction = json!({
        "id": id, "application_id": APPLICATION_ID, "type": kind,
        "channel_id": invoker.channel.to_string(),
        "token": format!("interaction-token-{id}"), "version": 1,
        "locale": invoker.locale, "entitlements": [], "attachment_size_limit": 8_388_608,
        "authorizing_integration_owners": {}, "app_permissions": "2048",
    });
    match invoker.guild_permissions {
        Some(permissions) => {
            interaction["guild_id"] = json!(GUILD_ID);
            interaction["guild_locale"] = json!("it");
            interaction["member"] = json!({
                "user": user, "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
                "deaf": false, "mute": false, "flags": 0, "pending": false,
                "permissions": permissions.to_string(),
            });
        }
        None => interaction["user"] = user,
    }
    interaction
}

fn message_json(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel, "author": user_json(BOT_ID, true),
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "timestamp": "2026-11-29T09:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "pinned": false, "type": 0, "flags": 0, "components": [],
    })
}

fn respond((status, body, headers): &Answer) -> Response<Body> {
    let status = *status;
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, value.as_str());
    }
    response
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// An answer: status, JSON body, extra headers.
type Answer = (u16, Value, Vec<(&'static str, String)>);

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |t| t.chars().count())
}

/// What Discord would refuse in a message body (a channel message, an interaction's
/// message, a follow-up or an edit), as its 400 answer. `edit`: an edit may change only
/// some parts, so it may carry nothing.
fn message_problem(body: &Value, edit: bool) -> Option<Answer> {
    let invalid = |path: &str, why: &str| {
        Some((
            400,
            json!({"message": "Invalid Form Body", "code": 50035,
                   "errors": {path: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": why}]}}}),
            Vec::new(),
        ))
    };
    if chars(&body["content"]) > 2000 {
        return invalid("content", "Must be 2000 or fewer in length.");
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return invalid("embeds", "Must be 10 or fewer in length.");
    }
    let mut total = 0;
    for (index, embed) in embeds.iter().enumerate() {
        let at = |key: &str| format!("embeds.{index}.{key}");
        for (key, max) in [("title", 256), ("description", 4096)] {
            if chars(&embed[key]) > max {
                return invalid(&at(key), &format!("Must be {max} or fewer in length."));
            }
            total += chars(&embed[key]);
        }
        if chars(&embed["footer"]["text"]) > 2048 || chars(&embed["author"]["name"]) > 256 {
            return invalid(&at("footer"), "Too long.");
        }
        total += chars(&embed["footer"]["text"]) + chars(&embed["author"]["name"]);
        if let Some(url) = embed["url"].as_str()
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return invalid(&at("url"), "Scheme must be one of ('http', 'https').");
        }
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return invalid(&at("fields"), "Must be 25 or fewer in length.");
        }
        for field in &fields {
            let (name, value) = (chars(&field["name"]), chars(&field["value"]));
            if !(1..=256).contains(&name) || !(1..=1024).contains(&value) {
                return invalid(&at("fields"), "A field's name is 1-256, its value 1-1024.");
            }
            total += name + value;
        }
        if [&embed["title"], &embed["description"]]
            .iter()
            .all(|v| chars(v) == 0)
            && fields.is_empty()
        {
            return invalid(&at(""), "An embed needs a title, a description or a field.");
        }
    }
    if total > 6000 {
        return invalid("embeds", "Embed size exceeds maximum size of 6000");
    }
    let components = body["components"].as_array().is_some_and(|c| !c.is_empty());
    if !edit && chars(&body["content"]) == 0 && embeds.is_empty() && !components {
        return Some((
            400,
            json!({"message": "Cannot send an empty message", "code": 50006}),
            Vec::new(),
        ));
    }
    None
}

/// The answer to `POST /interactions/{id}/{token}/callback`, as Discord gives it.
fn callback(state: &mut State, id: &str, token: &str, body: &Value) -> Answer {
    let unknown = (
        404,
        json!({"message": "Unknown interaction", "code": 10062}),
        Vec::new(),
    );
    let Some(issued) = state.interactions.get(id).cloned() else {
        return unknown;
    };
    let late = issued
        .sent
        .is_none_or(|sent| sent.elapsed() > INTERACTION_DEADLINE);
    if issued.token != token || late {
        return unknown;
    }
    if issued.answered {
        return (
            400,
            json!({"message": "Interaction has already been acknowledged.", "code": 40060}),
            Vec::new(),
        );
    }
    if let Some(failure) = state.callback_failures.pop_front() {
        return (failure.status, failure.body, Vec::new());
    }
    // 4: a message, 5: deferred message, 6: deferred update, 7: update the message.
    let kind = body["type"].as_u64().unwrap_or(0);
    let problem = match kind {
        4 => message_problem(&body["data"], false),
        7 => message_problem(&body["data"], true),
        5 | 6 => None,
        _ => Some((
            400,
            json!({"message": "Invalid Form Body", "code": 50035}),
            Vec::new(),
        )),
    };
    if let Some(problem) = problem {
        return problem;
    }
    if let Some(issued) = state.interactions.get_mut(id) {
        issued.answered = true;
    }
    (204, Value::Null, Vec::new())
}

/// Follow-ups and edits of an interaction's answer: only with an answered interaction's
/// token, on the application that answered it.
fn webhook(state: &mut State, application: &str, token: &str, body: &Value, edit: bool) -> Answer {
    let answered = state
        .interactions
        .values()
        .any(|i| i.token == token && i.answered);
    if application != APPLICATION_ID || !answered {
        return (
            404,
            json!({"message": "Unknown Webhook", "code": 10015}),
            Vec::new(),
        );
    }
    if let Some(problem) = message_problem(body, edit) {
        return problem;
    }
    state.next_id += 1;
    let id = state.next_id.to_string();
    ok(message_json(&id, "1", body))
}

fn ok(body: Value) -> Answer {
    (200, body, Vec::new())
}

/// Keeps Discord's message limits: 5 per 5 s in one channel, 50 in any second overall.
/// Returns the 429 answer when the request breaks one.
fn over_limit(state: &mut State, channel: &str) -> Option<Answer> {
    let now = Instant::now();
    let sends = state.channel_sends.entry(channel.to_string()).or_default();
    while sends
        .front()
        .is_some_and(|t| now - *t >= Duration::from_secs(5))
    {
        sends.pop_front();
    }
    let channel_full = sends.len() >= 5;
    while state
        .global_sends
        .front()
        .is_some_and(|t| now - *t >= Duration::from_secs(1))
    {
        state.global_sends.pop_front();
    }
    let global_full = state.global_sends.len() >= 50;
    if channel_full || global_full {
        state.limit_breaks += 1;
        let body = json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": global_full});
        return Some((429, body, vec![("retry-after", "1".into())]));
    }
    state
        .channel_sends
        .entry(channel.to_string())
        .or_default()
        .push_back(now);
    state.global_sends.push_back(now);
    None
}

fn answer(
    state: &Mutex<State>,
    changed: &Notify,
    gateway: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_string();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut state = state.lock().expect("state");
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Bot {}", state.token).as_str());
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answer: Answer = if !authorized && !path.starts_with("/interactions/") {
        (
            401,
            json!({"message": "401: Unauthorized", "code": 0}),
            Vec::new(),
        )
    } else {
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["gateway"]) => ok(json!({"url": format!("ws://{gateway}")})),
            ("GET", ["gateway", "bot"]) => ok(json!({
                "url": format!("ws://{gateway}"), "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            })),
            ("GET", ["users", "@me"]) => ok(user_json(BOT_ID, true)),
            ("PUT", ["applications", _, "commands"]) => {
                let registered: Vec<Value> = body
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(index, mut command)| {
                        command["id"] =
                            json!((800_000_000_000_000_000u64 + index as u64).to_string());
                        command["application_id"] = json!(APPLICATION_ID);
                        command["version"] = json!("1");
                        command["type"] = json!(1);
                        command["default_member_permissions"] = json!(null);
                        command
                    })
                    .collect();
                ok(Value::Array(registered))
            }
            ("POST", ["channels", channel, "messages"]) => {
                let channel = channel.to_string();
                if let Some(failure) = state.failures.pop_front() {
                    let headers = failure
                        .retry_after_header
                        .iter()
                        .map(|h| ("retry-after", h.clone()))
                        .collect();
                    (failure.status, failure.body, headers)
                } else if let Some(problem) = message_problem(&body, false) {
                    problem
                } else if let Some(refusal) = over_limit(&mut state, &channel) {
                    refusal
                } else {
                    state.next_id += 1;
                    let id = state.next_id.to_string();
                    ok(message_json(&id, &channel, &body))
                }
            }
            // No `guild_id` key at all: serenity refuses a null one.
            ("GET", ["channels", channel]) => {
                ok(json!({"id": channel, "type": 1, "recipients": [user_json("111", false)]}))
            }
            ("POST", ["interactions", id, token, "callback"]) => {
                callback(&mut state, id, token, &body)
            }
            ("POST", ["webhooks", application, token]) => {
                webhook(&mut state, application, token, &body, false)
            }
            ("PATCH", ["webhooks", application, token, "messages", "@original"]) => {
                webhook(&mut state, application, token, &body, true)
            }
            _ => (
                404,
                json!({"message": "404: Not Found", "code": 0}),
                Vec::new(),
            ),
        }
    };
    let response = respond(&answer);
    state.calls.push(Call {
        method: method.to_string(),
        path: path.clone(),
        body,
        status: answer.0,
        answer: answer.1,
        at: Instant::now(),
    });
    drop(state);
    changed.notify_waiters();
    response
}

/// One gateway connection: HELLO, then READY after IDENTIFY, heartbeat ACKs, and the
/// injected dispatches in order.
async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>, changed: Arc<Notify>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = socket.split();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41_250}, "s": null, "t": null});
    if sink.send(Frame::Text(hello.to_string())).await.is_err() {
        return;
    }
    let mut ready = false;
    loop {
        let notified = changed.notified();
        if ready {
            let next = {
                let mut state = state.lock().expect("state");
                match state.pending.pop_front() {
                    Some(Pending::Interaction(interaction)) => {
                        state.sequence += 1;
                        let id = interaction["id"].as_str().unwrap_or_default().to_string();
                        if let Some(issued) = state.interactions.get_mut(&id) {
                            issued.sent = Some(Instant::now());
                        }
                        Some(
                            json!({"op": 0, "t": "INTERACTION_CREATE", "s": state.sequence, "d": interaction}),
                        )
                    }
                    Some(Pending::InvalidSession) => {
                        ready = false;
                        Some(json!({"op": 9, "d": false, "s": null, "t": null}))
                    }
                    None => None,
                }
            };
            if let Some(frame) = next {
                if sink.send(Frame::Text(frame.to_string())).await.is_err() {
                    return;
                }
                continue;
            }
        }
        tokio::select! {
            frame = source.next() => {
                let Some(Ok(frame)) = frame else { return };
                let payload: Value = match &frame {
                    Frame::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    Frame::Close(close) => {
                        let code = close.as_ref().map_or(1005, |c| u16::from(c.code));
                        state.lock().expect("state").closes.push(code);
                        changed.notify_waiters();
                        // Answer the close, as Discord does, so the client ends cleanly.
                        let _ = sink.close().await;
                        return;
                    }
                    _ => continue,
                };
                match payload["op"].as_u64() {
                    Some(1) => {
                        let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                        if sink.send(Frame::Text(ack.to_string())).await.is_err() {
                            return;
                        }
                    }
                    Some(2) => {
                        let sequence = {
                            let mut state = state.lock().expect("state");
                            state.identifies += 1;
                            state.sequence += 1;
                            state.sequence
                        };
                        changed.notify_waiters();
                        let frame = json!({"op": 0, "t": "READY", "s": sequence, "d": {
                            "v": 10, "user": user_json(BOT_ID, true), "guilds": [],
                            "session_id": "fake-session", "resume_gateway_url": "ws://127.0.0.1:1",
                            "shard": [0, 1], "application": {"id": APPLICATION_ID, "flags": 0},
                        }});
                        if sink.send(Frame::Text(frame.to_string())).await.is_err() {
                            return;
                        }
                        ready = true;
                    }
                    _ => {}
                }
            }
            () = notified => {}
        }
    }
}

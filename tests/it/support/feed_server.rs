//! A feed server on 127.0.0.1:0 whose answers each test sets: bodies, ETag and
//! Last-Modified with real 304s, status codes, extra headers and delays. It counts the
//! requests and body bytes per path so tests can wait for a poll without sleeping.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub headers: Vec<(String, String)>,
    pub delay: Option<Duration>,
}

impl Route {
    pub fn feed(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            content_type: "application/rss+xml; charset=utf-8".into(),
            etag: None,
            last_modified: None,
            headers: Vec::new(),
            delay: None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    pub requests: usize,
    pub not_modified: usize,
    pub body_bytes: usize,
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Route>>,
    hits: Mutex<HashMap<String, Hits>>,
    changed: Notify,
}

pub struct FeedServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    _task: tokio::task::JoinHandle<()>,
}

impl FeedServer {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let handler_state = state.clone();
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = handler_state.clone();
            async move { answer(&state, request).await }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("feed server");
        });
        Self {
            addr,
            state,
            _task: task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.state
            .routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> Hits {
        self.state
            .hits
            .lock()
            .expect("hits")
            .get(path)
            .copied()
            .unwrap_or_default()
    }

    /// Waits until `path` has been requested at least `count` times; fails after `limit`.
    pub async fn wait_for_requests(&self, path: &str, count: usize, limit: Duration) -> Hits {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.changed.notified();
            let hits = self.hits(path);
            if hits.requests >= count {
                return hits;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{path}: waited {limit:?} for {count} requests, saw {}",
                    self.hits(path).requests
                );
            }
        }
    }
}

async fn answer(state: &State, request: Request<Body>) -> Response<Body> {
    let path = request.uri().path().to_string();
    let route = state.routes.lock().expect("routes").get(&path).cloned();
    let Some(route) = route else {
        return respond(
            state,
            &path,
            StatusCode::NOT_FOUND,
            HeaderMap::new(),
            Vec::new(),
            false,
        );
    };
    if let Some(delay) = route.delay {
        tokio::time::sleep(delay).await;
    }
    let validators_match = matches(&request, header::IF_NONE_MATCH, route.etag.as_deref())
        || matches(
            &request,
            header::IF_MODIFIED_SINCE,
            route.last_modified.as_deref(),
        );
    let mut headers = HeaderMap::new();
    for (name, value) in &route.headers {
        headers.insert(
            header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    if let Some(etag) = &route.etag {
        headers.insert(header::ETAG, HeaderValue::from_str(etag).expect("etag"));
    }
    if let Some(last_modified) = &route.last_modified {
        headers.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_str(last_modified).expect("last-modified"),
        );
    }
    if validators_match {
        return respond(
            state,
            &path,
            StatusCode::NOT_MODIFIED,
            headers,
            Vec::new(),
            true,
        );
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&route.content_type).expect("content type"),
    );
    let status = StatusCode::from_u16(route.status).expect("status");
    respond(state, &path, status, headers, route.body, false)
}

fn matches(request: &Request<Body>, name: header::HeaderName, current: Option<&str>) -> bool {
    match (
        request.headers().get(name).and_then(|v| v.to_str().ok()),
        current,
    ) {
        (Some(sent), Some(current)) => sent == current,
        _ => false,
    }
}

fn respond(
    state: &State,
    path: &str,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    not_modified: bool,
) -> Response<Body> {
    {
        let mut hits = state.hits.lock().expect("hits");
        let entry = hits.entry(path.to_string()).or_default();
        entry.requests += 1;
        entry.not_modified += usize::from(not_modified);
        entry.body_bytes += body.len();
    }
    state.changed.notify_waiters();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

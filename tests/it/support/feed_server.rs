//! A feed server on 127.0.0.1:0 whose answers each test sets: bodies, ETag and
//! Last-Modified with real 304s, status codes, extra headers and delays. It counts the
//! requests and body bytes per path so tests can wait for a poll without sleeping.
//! Streamed answers ([`Stream`]) are produced chunk by chunk as the client reads them, so
//! a 50 MB or never-ending body costs the server no memory and its byte counter says how
//! much the client actually took before it hung up.

use axum::body::{Body, Bytes};
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
    /// A redirect (`status` 301, 302, 307 or 308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        let mut route = Self::feed(Vec::new());
        route.status = status;
        route.headers.push(("location".into(), location.into()));
        route
    }

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

/// A 200 answer whose body is generated while the client reads it: `total` bytes of
/// filler in `chunk`-byte pieces, each after `chunk_delay` if set.
#[derive(Debug, Clone)]
pub struct Stream {
    pub total: u64,
    pub chunk: usize,
    pub chunk_delay: Option<Duration>,
    /// Announce the length up front (a client may refuse at once) or send it chunked.
    pub content_length: bool,
    pub content_type: String,
}

impl Stream {
    pub fn of_size(total: u64, content_length: bool) -> Self {
        Self {
            total,
            chunk: 64 * 1024,
            chunk_delay: None,
            content_length,
            content_type: "application/rss+xml; charset=utf-8".into(),
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
    streams: Mutex<HashMap<String, Stream>>,
    hits: Mutex<HashMap<String, Hits>>,
    /// Streamed bodies still being produced, per path (dropped when the client hangs up
    /// or the body ends).
    open_streams: Mutex<HashMap<String, usize>>,
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

    /// Serves `path` as a streamed body (replaces a [`Route`] set for it).
    pub fn set_stream(&self, path: &str, stream: Stream) {
        self.state.routes.lock().expect("routes").remove(path);
        self.state
            .streams
            .lock()
            .expect("streams")
            .insert(path.to_string(), stream);
    }

    /// Waits until no streamed body of `path` is still being produced, i.e. the server has
    /// seen the client hang up; fails after `limit`.
    pub async fn wait_streams_closed(&self, path: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.changed.notified();
            let open = self
                .state
                .open_streams
                .lock()
                .expect("open streams")
                .get(path)
                .copied()
                .unwrap_or(0);
            if open == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("{path}: {open} streamed bodies still open after {limit:?}");
            }
        }
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

async fn answer(state: &Arc<State>, request: Request<Body>) -> Response<Body> {
    let path = request.uri().path().to_string();
    let stream = state.streams.lock().expect("streams").get(&path).cloned();
    if let Some(stream) = stream {
        return streamed(state, &path, stream);
    }
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

/// Counts the stream as open while it lives; closing it (end of body or the client
/// hanging up) wakes waiters.
struct OpenStream {
    state: Arc<State>,
    path: String,
}

impl OpenStream {
    fn new(state: &Arc<State>, path: &str) -> Self {
        *state
            .open_streams
            .lock()
            .expect("open streams")
            .entry(path.to_string())
            .or_default() += 1;
        Self {
            state: state.clone(),
            path: path.to_string(),
        }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        // A poisoned lock here means a test already panicked; nothing to count then.
        if let Ok(mut open) = self.state.open_streams.lock()
            && let Some(count) = open.get_mut(&self.path)
        {
            *count = count.saturating_sub(1);
        }
        self.state.changed.notify_waiters();
    }
}

/// A body generated as hyper asks for it: hyper only polls for the next chunk when the
/// socket can take more, so `body_bytes` counts what was handed to the connection, not
/// what a test asked for.
fn streamed(state: &Arc<State>, path: &str, stream: Stream) -> Response<Body> {
    {
        let mut hits = state.hits.lock().expect("hits");
        hits.entry(path.to_string()).or_default().requests += 1;
    }
    state.changed.notify_waiters();
    let guard = OpenStream::new(state, path);
    let chunk = Bytes::from(vec![b' '; stream.chunk.max(1)]);
    let (total, delay) = (stream.total, stream.chunk_delay);
    let body = futures_util::stream::unfold((0u64, guard), move |(sent, guard)| {
        let chunk = chunk.clone();
        async move {
            if sent >= total {
                return None;
            }
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let length = chunk
                .len()
                .min(usize::try_from(total - sent).unwrap_or(usize::MAX));
            {
                let mut hits = guard.state.hits.lock().expect("hits");
                hits.entry(guard.path.clone()).or_default().body_bytes += length;
            }
            let piece = chunk.slice(..length);
            Some((
                Ok::<Bytes, std::convert::Infallible>(piece),
                (sent + length as u64, guard),
            ))
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&stream.content_type).expect("content type"),
    );
    if stream.content_length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(stream.total));
    }
    response
}

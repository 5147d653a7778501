//! Feed ingestion benchmark: 1,000 feeds × 50 items served by a local HTTP server on
//! 127.0.0.1, polled through the real `Poller::poll_many` into a temporary sled store.
//! One first cycle (every body read, parsed, classified, committed) and one idle cycle
//! (every feed answers 304). Prints wall time, items/s, bytes the server sent and the
//! process's peak RSS. Not a test: it asserts only that each cycle did what it claims.
//!
//! `cargo bench --bench poll` (release). `cargo bench --bench poll -- FEEDS ITEMS` changes
//! the size. All feeds share one host, so the per-host limit is raised to the global one.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use chipwatch::classify::Rules;
use chipwatch::config::Config;
use chipwatch::domain::{ChatRef, Subscription};
use chipwatch::feeds::{Fetcher, FetcherSettings};
use chipwatch::poller::{PollOutcome, PollReport, Poller};
use chipwatch::store::Store;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 64;
const CYCLE_LIMIT: Duration = Duration::from_secs(300);

/// What the server sent, counted as it answers.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    not_modified: AtomicU64,
    body_bytes: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.not_modified.load(Ordering::Relaxed),
            self.body_bytes.load(Ordering::Relaxed),
        )
    }
}

struct Feeds {
    bodies: Vec<Bytes>,
    counters: Counters,
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let feed_count = args.first().copied().unwrap_or(1000);
    let item_count = args.get(1).copied().unwrap_or(50);
    let feeds = Arc::new(Feeds {
        bodies: (0..feed_count)
            .map(|n| Bytes::from(feed_body(n, item_count)))
            .collect(),
        counters: Counters::default(),
    });
    let served: usize = feeds.bodies.iter().map(Bytes::len).sum();
    println!(
        "{feed_count} feeds × {item_count} items, {:.1} MB of feed bodies, concurrency {CONCURRENCY} (one host)",
        mb(served as u64)
    );
    // The server gets its own runtime thread, so the poller's runtime is the service's.
    let addr = start_server(feeds.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(addr, feeds, feed_count, item_count));
}

async fn run(addr: std::net::SocketAddr, feeds: Arc<Feeds>, feed_count: usize, item_count: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let poller = build_poller(dir.path(), addr, feed_count).await;
    println!(
        "baseline peak RSS (bodies held by the server, rules, store): {:.1} MB",
        mb(peak_rss())
    );

    for (cycle, expect_bodies) in [("first", true), ("idle", false)] {
        let before = feeds.counters.snapshot();
        let started = Instant::now();
        // A cycle that hangs (as concurrent sled flushes once made the idle one do) must
        // fail the run, not leave it waiting for ever.
        let reports =
            tokio::time::timeout(CYCLE_LIMIT, poller.poll_many(poller.feeds.clone(), false))
                .await
                .unwrap_or_else(|_| {
                    panic!("the {cycle} cycle did not finish within {CYCLE_LIMIT:?}")
                });
        let wall = started.elapsed();
        let after = feeds.counters.snapshot();
        let items = check(&reports, expect_bodies, item_count);
        println!(
            "{cycle:>5} cycle: {:>7.2} s wall, {:>9.0} items/s, {:>5} requests, {:>5} × 304, {:>8.2} MB bodies sent, peak RSS {:.1} MB",
            wall.as_secs_f64(),
            items as f64 / wall.as_secs_f64().max(f64::EPSILON),
            after.0 - before.0,
            after.1 - before.1,
            mb(after.2 - before.2),
            mb(peak_rss()),
        );
        if cycle == "idle" {
            println!("idle cycle body bytes: {} (target: 0)", after.2 - before.2);
        }
    }
    println!("seen items in the store: {}", poller.store.seen_count());
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average (1/5/15 min) at the end: {}", load.trim());
    }
}

/// Each cycle must have done what it claims, or its figures mean nothing.
fn check(reports: &[PollReport], expect_bodies: bool, item_count: usize) -> usize {
    let mut items = 0;
    for report in reports {
        match (&report.outcome, expect_bodies) {
            (PollOutcome::Polled { entries, new, .. }, true) => {
                assert_eq!(
                    (*entries, *new),
                    (item_count, item_count),
                    "{}",
                    report.feed
                );
                items += entries;
            }
            (PollOutcome::NotModified, false) => {}
            (other, _) => panic!("{}: unexpected outcome {other:?}", report.feed),
        }
    }
    items
}

async fn build_poller(dir: &std::path::Path, addr: std::net::SocketAddr, feeds: usize) -> Poller {
    let topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let mut config = format!(
        "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{topics}\"\nallow_private_addresses = true\n\
         concurrency = {CONCURRENCY}\nper_host_concurrency = {CONCURRENCY}\n",
        dir.join("data").display()
    );
    for n in 0..feeds {
        let _ = write!(
            config,
            "\n[[feeds]]\nid = \"outlet-{n}\"\nname = \"Outlet {n}\"\nurl = \"http://{addr}/feed/{n}.xml\"\n"
        );
    }
    let path = dir.join("chipwatch.toml");
    std::fs::write(&path, config).expect("write config");
    let config = Config::load(&path, None).expect("bench config loads");
    let store = Store::open(&config.settings.data_dir).expect("store");
    let rules = Arc::new(Rules::from_toml(&config.topics_toml).expect("rules"));
    // A subscriber, so each poll's routing reads subscriptions as in production.
    let mut console = Subscription::new(ChatRef::console());
    console.topics = rules.topics().iter().map(|t| t.id.clone()).collect();
    store.put_subscription(&console).await.expect("subscribe");
    let fetcher = Fetcher::new(FetcherSettings::from_config(&config.settings)).expect("fetcher");
    Poller::new(store, fetcher, rules, &config)
}

fn start_server(feeds: Arc<Feeds>) -> std::net::SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            sender
                .send(listener.local_addr().expect("local addr"))
                .expect("send address");
            let app = axum::Router::new().fallback(move |request: Request<Body>| {
                let feeds = feeds.clone();
                async move { answer(&feeds, &request) }
            });
            axum::serve(listener, app).await.expect("serve");
        });
    });
    receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("server started")
}

fn answer(feeds: &Feeds, request: &Request<Body>) -> Response<Body> {
    feeds.counters.requests.fetch_add(1, Ordering::Relaxed);
    let index = request
        .uri()
        .path()
        .strip_prefix("/feed/")
        .and_then(|rest| rest.strip_suffix(".xml"))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < feeds.bodies.len());
    let mut response = Response::new(Body::empty());
    let Some(index) = index else {
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let etag = format!("\"feed-{index}-v1\"");
    let etag_value = HeaderValue::from_str(&etag).expect("etag is ASCII");
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|sent| sent == etag_value);
    response.headers_mut().insert(header::ETAG, etag_value);
    if matches {
        feeds.counters.not_modified.fetch_add(1, Ordering::Relaxed);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    let body = feeds.bodies[index].clone();
    feeds
        .counters
        .body_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/rss+xml; charset=utf-8"),
    );
    *response.body_mut() = Body::from(body);
    response
}

/// A realistic Italian tech feed: mostly unrelated news, one export-policy story in ten.
fn feed_body(feed: usize, items: usize) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Outlet {feed}</title>\
         <link>https://outlet{feed}.example.it/</link><description>Notizie di tecnologia</description><language>it-IT</language>\n"
    );
    for item in 0..items {
        let (title, lead) = if item % 10 == 0 {
            (
                format!("Gli Stati Uniti vietano l'export dei chip NVIDIA H{item} verso la Cina ({feed})"),
                "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione di chip per \
                 l'intelligenza artificiale: serve una licenza per vendere acceleratori a clienti cinesi, \
                 con effetti su tutta la filiera dei semiconduttori."
                    .to_string(),
            )
        } else {
            (
                format!("Recensione dello smartphone numero {item}: display, batteria e fotocamera ({feed})"),
                "Abbiamo provato per due settimane il nuovo smartphone: ecco come va la fotocamera, \
                 quanto dura la batteria e se vale il prezzo rispetto ai concorrenti di fascia alta \
                 usciti negli ultimi mesi."
                    .to_string(),
            )
        };
        let _ = writeln!(
            out,
            "<item><title>{title}</title><link>https://outlet{feed}.example.it/articolo-{item}</link>\
             <guid isPermaLink=\"false\">outlet-{feed}-{item}</guid>\
             <pubDate>Sun, 29 Nov 2026 {:02}:{:02}:00 +0100</pubDate><description>{lead}</description></item>",
            item / 60 % 24,
            item % 60
        );
    }
    out.push_str("</channel></rss>\n");
    out
}

/// The process's peak resident set (VmHWM), in bytes; 0 where /proc is missing.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

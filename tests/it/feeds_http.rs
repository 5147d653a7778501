//! Feed ingestion over real HTTP: the library's `Fetcher`, `Poller` and `Store` against the
//! local feed server, one case per thing a real site does to a feed reader — each format,
//! 304s, 429, slowness, a huge body, a redirect loop, broken XML, lying charsets, a guid
//! migration, tracking parameters. Assertions read the server's counters, the poll
//! outcome, the stored feed health and the outbox.

use crate::support::feed_server::{FeedServer, Route, Stream};
use chipwatch::classify::Rules;
use chipwatch::config::{Config, FeedConfig};
use chipwatch::domain::{ChatRef, Delivery, FeedState, Item, Subscription};
use chipwatch::feeds::{Fetcher, FetcherSettings};
use chipwatch::poller::{PollOutcome, PollReport, Poller};
use chipwatch::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

const BAN_TITLE: &str = "Gli Stati Uniti vietano l'export dei chip NVIDIA H20 verso la Cina";
const APPROVAL_TITLE: &str =
    "La Cina autorizza ByteDance, Alibaba e Tencent ad acquistare i chip NVIDIA H200";
const ASML_TITLE: &str = "L'Olanda limita l'export delle macchine litografiche ASML verso la Cina";
/// What every charset fixture must read as, whatever its bytes and declarations.
const ACCENTED_TITLE: &str =
    "Perché gli USA vietano l’export dei chip NVIDIA verso la Cina: «è già tardi»";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/feeds/http/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
}

/// A poller on a temporary store, reading a configuration written for the test, with the
/// console subscribed to every topic so that an alert shows up as a queued delivery.
struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    poller: Poller,
}

impl Harness {
    /// `settings` are extra `[settings]` lines; `feeds` are (id, url) pairs.
    async fn start(settings: &str, feeds: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_config(dir.path(), settings, feeds);
        let config = Config::load(&path, None).expect("test config loads");
        let store = Store::open(&config.settings.data_dir).expect("store opens");
        let rules = Arc::new(Rules::from_toml(&config.topics_toml).expect("topic rules"));
        let mut console = Subscription::new(ChatRef::console());
        console.topics = rules.topics().iter().map(|t| t.id.clone()).collect();
        store.put_subscription(&console).await.expect("subscribe");
        let fetcher =
            Fetcher::new(FetcherSettings::from_config(&config.settings)).expect("fetcher");
        let poller = Poller::new(store.clone(), fetcher, rules, &config);
        Self {
            _dir: dir,
            store,
            poller,
        }
    }

    fn feed(&self, id: &str) -> &FeedConfig {
        self.poller
            .feeds
            .iter()
            .find(|f| f.id.as_str() == id)
            .unwrap_or_else(|| panic!("no feed {id}"))
    }

    async fn poll(&self, id: &str) -> PollReport {
        self.poller
            .poll_feed(self.feed(id), chipwatch::clock::now(), false)
            .await
    }

    async fn poll_all(&self) -> Vec<PollReport> {
        let mut reports = self
            .poller
            .poll_many(self.poller.feeds.clone(), false)
            .await;
        reports.sort_by(|a, b| a.feed.cmp(&b.feed));
        reports
    }

    fn state(&self, id: &str) -> FeedState {
        self.store
            .feed_state(&self.feed(id).id)
            .expect("read feed state")
            .unwrap_or_else(|| panic!("no state recorded for {id}"))
    }

    fn items_of(&self, id: &str) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .store
            .items()
            .expect("read items")
            .into_iter()
            .filter(|item| item.feed.as_str() == id)
            .collect();
        items.sort_by(|a, b| a.title.cmp(&b.title));
        items
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.store.pending_deliveries().expect("read outbox")
    }
}

fn write_config(dir: &Path, settings: &str, feeds: &[(&str, String)]) -> std::path::PathBuf {
    let topics = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let mut text = format!(
        "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{topics}\"\nallow_private_addresses = true\n\
         min_interval = \"1s\"\npoll_interval = \"15m\"\n{settings}\n",
        dir.join("data").display()
    );
    for (id, url) in feeds {
        text.push_str(&format!(
            "\n[[feeds]]\nid = \"{id}\"\nname = \"Outlet {id}\"\nurl = \"{url}\"\nlang = \"it\"\n"
        ));
    }
    let path = dir.join("chipwatch.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn polled(report: &PollReport) -> (usize, usize, usize, bool, bool) {
    match &report.outcome {
        PollOutcome::Polled {
            entries,
            new,
            relevant,
            held_by_flood_breaker,
            first_poll,
        } => (
            *entries,
            *new,
            *relevant,
            *held_by_flood_breaker,
            *first_poll,
        ),
        other => panic!("{}: expected a polled body, got {other:?}", report.feed),
    }
}

fn failure(report: &PollReport) -> &str {
    match &report.outcome {
        PollOutcome::Failed { error } => error,
        other => panic!("{}: expected a failure, got {other:?}", report.feed),
    }
}

fn route(body: Vec<u8>, content_type: &str) -> Route {
    let mut route = Route::feed(body);
    route.content_type = content_type.into();
    route
}

#[tokio::test]
async fn each_format_is_read_over_http() {
    let server = FeedServer::start().await;
    let formats = [
        (
            "rss2",
            "rss2.xml",
            "application/rss+xml; charset=utf-8",
            "rss2.example.it",
        ),
        (
            "atom",
            "atom.xml",
            "application/atom+xml",
            "atom.example.it",
        ),
        (
            "json",
            "feed.json",
            "application/feed+json",
            "json.example.it",
        ),
        ("rss1", "rss1.rdf", "application/rdf+xml", "rdf.example.it"),
    ];
    for (_, file, content_type, _) in &formats {
        server.set(&format!("/{file}"), route(fixture(file), content_type));
    }
    let feeds: Vec<(&str, String)> = formats
        .iter()
        .map(|(id, file, _, _)| (*id, server.url(&format!("/{file}"))))
        .collect();
    let harness = Harness::start("", &feeds).await;

    let reports = harness.poll_all().await;
    for (id, file, _, host) in &formats {
        let report = reports
            .iter()
            .find(|r| r.feed.as_str() == *id)
            .expect("report");
        // Four entries: three export-policy stories and a phone review; a first poll
        // records them all and alerts nothing.
        assert_eq!(polled(report), (4, 4, 3, false, true), "{id}");
        let items = harness.items_of(id);
        let got: Vec<(&str, Option<&str>)> = items
            .iter()
            .map(|i| (i.title.as_str(), i.link.as_deref()))
            .collect();
        let link = |slug: &str| format!("https://{host}/{slug}");
        assert_eq!(
            got,
            vec![
                (BAN_TITLE, Some(link("ban-h20").as_str())),
                (ASML_TITLE, Some(link("asml-duv").as_str())),
                (APPROVAL_TITLE, Some(link("approval-h200").as_str())),
            ],
            "{id}"
        );
        assert!(items.iter().all(|i| i.published.is_some()), "{id}: dates");
        let state = harness.state(id);
        assert_eq!(state.last_status, Some(200), "{id}");
        assert_eq!(state.last_bytes, fixture(file).len() as u64, "{id}");
        assert_eq!((state.last_items, state.primed), (4, true), "{id}");
    }
    assert!(
        harness.deliveries().is_empty(),
        "a first poll alerts nothing"
    );
}

#[tokio::test]
async fn etag_and_last_modified_answer_304_and_no_body_is_sent() {
    let server = FeedServer::start().await;
    let body = fixture("rss2.xml");
    let mut by_etag = Route::feed(body.clone());
    by_etag.etag = Some("\"v1\"".into());
    server.set("/etag.xml", by_etag);
    let mut by_date = Route::feed(body.clone());
    by_date.last_modified = Some("Sun, 29 Nov 2026 08:00:00 GMT".into());
    server.set("/date.xml", by_date);
    let harness = Harness::start(
        "",
        &[
            ("by-etag", server.url("/etag.xml")),
            ("by-date", server.url("/date.xml")),
        ],
    )
    .await;

    for (id, path) in [("by-etag", "/etag.xml"), ("by-date", "/date.xml")] {
        polled(&harness.poll(id).await);
        let first = server.hits(path);
        assert_eq!((first.requests, first.body_bytes), (1, body.len()), "{id}");

        let report = harness.poll(id).await;
        assert_eq!(report.outcome, PollOutcome::NotModified, "{id}");
        let second = server.hits(path);
        assert_eq!(second.requests, 2, "{id}");
        assert_eq!(second.not_modified, 1, "{id}: the validator was sent");
        assert_eq!(
            second.body_bytes, first.body_bytes,
            "{id}: no body on a 304"
        );
        let state = harness.state(id);
        assert_eq!(
            (state.last_status, state.last_bytes),
            (Some(304), 0),
            "{id}"
        );
        assert_eq!((state.polls, state.not_modified), (2, 1), "{id}");
        assert_eq!(state.not_modified_ratio(), 0.5, "{id}");
        assert_eq!(state.consecutive_errors, 0, "{id}");
    }

    // When the feed changes, the validators stop matching and the new item is read.
    let mut changed = Route::feed(crate::support::rss(&[(
        "nuovo",
        "Nuove restrizioni all'export di chip verso la Cina",
        "Il governo annuncia nuovi controlli sulle esportazioni di semiconduttori.",
    )]));
    changed.etag = Some("\"v2\"".into());
    server.set("/etag.xml", changed);
    let (entries, new, ..) = polled(&harness.poll("by-etag").await);
    assert_eq!((entries, new), (1, 1));
    assert_eq!(harness.state("by-etag").etag.as_deref(), Some("\"v2\""));
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_and_never_shortens_the_interval() {
    let server = FeedServer::start().await;
    let limited = |retry_after: Option<&str>| {
        let mut route = Route::feed(Vec::new());
        route.status = 429;
        if let Some(seconds) = retry_after {
            route.headers.push(("retry-after".into(), seconds.into()));
        }
        route
    };
    server.set("/short.xml", limited(Some("120")));
    server.set("/long.xml", limited(Some("7200")));
    server.set("/none.xml", limited(None));
    let harness = Harness::start(
        "",
        &[
            ("short", server.url("/short.xml")),
            ("long", server.url("/long.xml")),
            ("none", server.url("/none.xml")),
        ],
    )
    .await;
    let interval = 15 * 60;
    // (feed, Retry-After the outcome reports, the least wait before the next poll)
    let cases = [
        ("short", Some(120), interval),
        ("long", Some(7200), 7200),
        ("none", None, 2 * interval),
    ];
    for (id, retry_after, least_wait) in cases {
        let before = chipwatch::clock::now();
        let report = harness.poll(id).await;
        assert_eq!(
            report.outcome,
            PollOutcome::RateLimited {
                retry_after: retry_after.map(Duration::from_secs)
            },
            "{id}"
        );
        let state = harness.state(id);
        let next = state.next_poll.expect("next poll scheduled");
        assert!(
            next >= before + chrono::Duration::seconds(least_wait),
            "{id}: next poll {next} is sooner than {least_wait}s after {before}"
        );
        assert_eq!(state.last_status, Some(429), "{id}");
        // Being asked to slow down is not the feed failing.
        assert_eq!(
            (state.consecutive_errors, state.last_error),
            (0, None),
            "{id}"
        );
    }
    for path in ["/short.xml", "/long.xml", "/none.xml"] {
        assert_eq!(
            server.hits(path).requests,
            1,
            "{path}: no retry inside a poll"
        );
    }
}

#[tokio::test]
async fn a_slow_server_times_out_and_the_other_feeds_are_polled() {
    let server = FeedServer::start().await;
    // Headers that never come within the timeout…
    let mut slow = Route::feed(fixture("rss2.xml"));
    slow.delay = Some(Duration::from_secs(60));
    server.set("/slow.xml", slow);
    // …and headers at once, then a body that trickles 16 bytes every 200 ms.
    let mut trickle = Stream::of_size(1024 * 1024, false);
    trickle.chunk = 16;
    trickle.chunk_delay = Some(Duration::from_millis(200));
    server.set_stream("/trickle.xml", trickle);
    server.set("/fast.xml", Route::feed(fixture("rss2.xml")));
    let harness = Harness::start(
        "request_timeout = \"1s\"\nper_host_concurrency = 3",
        &[
            ("fast", server.url("/fast.xml")),
            ("slow", server.url("/slow.xml")),
            ("trickle", server.url("/trickle.xml")),
        ],
    )
    .await;

    let started = std::time::Instant::now();
    let reports = harness.poll_all().await;
    let elapsed = started.elapsed();
    assert_eq!(polled(&reports[0]).0, 4, "the fast feed is read");
    for report in &reports[1..] {
        assert_eq!(
            failure(report),
            "fetch: timed out after 1s",
            "{}",
            report.feed
        );
        let state = harness.state(report.feed.as_str());
        assert_eq!(state.consecutive_errors, 1);
        assert_eq!(
            state.last_error.as_deref(),
            Some("fetch: timed out after 1s")
        );
        assert!(state.failing_since.is_some() && state.last_success.is_none());
        assert_eq!(state.last_status, None, "a timeout has no HTTP status");
    }
    // The slow server would answer after 60 s: the cycle ended on our timeout, not on it.
    assert!(
        elapsed < Duration::from_secs(15),
        "the cycle took {elapsed:?}"
    );
    assert!(harness.state("fast").last_error.is_none());
}

#[tokio::test]
async fn a_50_mb_body_is_cut_at_the_cap_and_never_downloaded_whole() {
    const FIFTY_MB: u64 = 50 * 1024 * 1024;
    const CAP: u64 = 1024 * 1024;
    // Loopback socket buffers on both sides plus hyper's buffers hold a few MB at most;
    // anything near 50 MB would mean the client read the whole body.
    const IN_FLIGHT: usize = 16 * 1024 * 1024;
    let server = FeedServer::start().await;
    server.set_stream("/chunked.xml", Stream::of_size(FIFTY_MB, false));
    server.set_stream("/announced.xml", Stream::of_size(FIFTY_MB, true));
    let harness = Harness::start(
        &format!("max_body_bytes = {CAP}"),
        &[
            ("announced", server.url("/announced.xml")),
            ("chunked", server.url("/chunked.xml")),
        ],
    )
    .await;

    let reports = harness.poll_all().await;
    for report in &reports {
        let expected = format!("fetch: the body is larger than the {CAP}-byte cap");
        assert_eq!(failure(report), expected, "{}", report.feed);
        let state = harness.state(report.feed.as_str());
        assert_eq!(state.last_error.as_deref(), Some(expected.as_str()));
        assert_eq!(state.consecutive_errors, 1);
        assert!(!state.primed, "nothing from a refused body is recorded");
    }
    assert_eq!(harness.store.seen_count(), 0);
    // Once the server has seen the client hang up, count what it handed over.
    for path in ["/announced.xml", "/chunked.xml"] {
        server.wait_streams_closed(path, LIMIT).await;
    }
    let chunked = server.hits("/chunked.xml").body_bytes;
    let announced = server.hits("/announced.xml").body_bytes;
    assert!(
        chunked as u64 > CAP,
        "the chunked body was read up to the cap: {chunked}"
    );
    assert!(
        chunked < CAP as usize + IN_FLIGHT,
        "chunked: {chunked} bytes sent"
    );
    assert!(announced < IN_FLIGHT, "announced: {announced} bytes sent");
}

#[tokio::test]
async fn a_redirect_loop_is_stopped_and_recorded_on_the_feed() {
    let server = FeedServer::start().await;
    server.set("/loop-a.xml", Route::redirect(302, "/loop-b.xml"));
    server.set("/loop-b.xml", Route::redirect(302, "/loop-a.xml"));
    server.set("/moved.xml", Route::redirect(301, "/rss2.xml"));
    server.set("/rss2.xml", Route::feed(fixture("rss2.xml")));
    let harness = Harness::start(
        "max_redirects = 5",
        &[
            ("loop", server.url("/loop-a.xml")),
            ("moved", server.url("/moved.xml")),
        ],
    )
    .await;

    let report = harness.poll("loop").await;
    assert_eq!(failure(&report), "fetch: more than 5 redirects");
    let state = harness.state("loop");
    assert_eq!(
        state.last_error.as_deref(),
        Some("fetch: more than 5 redirects")
    );
    assert_eq!(state.consecutive_errors, 1);
    let requests = server.hits("/loop-a.xml").requests + server.hits("/loop-b.xml").requests;
    assert_eq!(
        requests, 6,
        "the first request and five redirects, then stop"
    );

    // A redirect that ends somewhere is followed.
    assert_eq!(polled(&harness.poll("moved").await).0, 4);
}

#[tokio::test]
async fn malformed_xml_is_repaired_when_it_can_be_and_refused_cleanly_when_not() {
    let server = FeedServer::start().await;
    server.set(
        "/repairable.xml",
        Route::feed(fixture("malformed_repairable.xml")),
    );
    let mut broken = Route::feed(fixture("malformed_broken.xml"));
    broken.etag = Some("\"broken\"".into());
    server.set("/broken.xml", broken);
    let harness = Harness::start(
        "",
        &[
            ("repairable", server.url("/repairable.xml")),
            ("broken", server.url("/broken.xml")),
        ],
    )
    .await;

    let (entries, ..) = polled(&harness.poll("repairable").await);
    assert_eq!(entries, 3);
    let repairs = harness.state("repairable").repairs;
    assert!(!repairs.is_empty(), "the repairs are on the feed's health");
    let titles: Vec<String> = harness
        .items_of("repairable")
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t == "Chip & restrizioni: gli USA vietano l'export di NVIDIA H20 in Cina"),
        "{titles:?}"
    );

    for poll in 1..=2 {
        let report = harness.poll("broken").await;
        assert!(failure(&report).starts_with("parse: "), "{report:?}");
        let state = harness.state("broken");
        assert_eq!(state.consecutive_errors, poll);
        assert!(state.last_error.is_some_and(|e| e.starts_with("parse: ")));
        // The validators of a body we could not read are not kept, or the next poll would
        // get a 304 for it and never read the document again.
        assert_eq!(state.etag, None);
    }
    let hits = server.hits("/broken.xml");
    assert_eq!((hits.requests, hits.not_modified), (2, 0));

    // Fixed at the source: the feed recovers and its errors are cleared.
    server.set("/broken.xml", Route::feed(fixture("rss2.xml")));
    polled(&harness.poll("broken").await);
    let state = harness.state("broken");
    assert_eq!((state.consecutive_errors, state.last_error), (0, None));
}

#[tokio::test]
async fn windows_1252_and_lying_charsets_keep_the_italian_accents() {
    let server = FeedServer::start().await;
    // (feed, fixture, Content-Type): the bytes and each declaration are described in
    // tests/data/feeds/http/README.md.
    let cases = [
        // windows-1252 bytes, honest prolog, an HTTP header that says UTF-8.
        (
            "cp1252",
            "win1252.xml",
            "application/rss+xml; charset=utf-8",
        ),
        // windows-1252 bytes, a prolog that says UTF-8, no charset in HTTP.
        (
            "cp1252-as-utf8",
            "win1252_declared_utf8.xml",
            "application/rss+xml",
        ),
        // UTF-8 bytes, prolog and HTTP both saying ISO-8859-1.
        (
            "utf8-as-latin1",
            "utf8_declared_latin1.xml",
            "text/xml; charset=ISO-8859-1",
        ),
    ];
    for (id, file, content_type) in &cases {
        server.set(&format!("/{id}.xml"), route(fixture(file), content_type));
    }
    let feeds: Vec<(&str, String)> = cases
        .iter()
        .map(|(id, _, _)| (*id, server.url(&format!("/{id}.xml"))))
        .collect();
    let harness = Harness::start("", &feeds).await;

    let reports = harness.poll_all().await;
    for (id, _, _) in &cases {
        let report = reports
            .iter()
            .find(|r| r.feed.as_str() == *id)
            .expect("report");
        assert_eq!(polled(report).2, 1, "{id}: the item is read and relevant");
        let items = harness.items_of(id);
        assert_eq!(items.len(), 1, "{id}");
        assert_eq!(items[0].title, ACCENTED_TITLE, "{id}");
        assert!(
            items[0].summary.starts_with("Qualità e velocità: "),
            "{id}: {}",
            items[0].summary
        );
        // Each of these bodies lies about its charset somewhere: the correction is noted.
        assert!(!harness.state(id).repairs.is_empty(), "{id}");
    }
}

/// Latin-1 (windows-1252) bytes behind every UTF-8 declaration at once: a UTF-8 byte-order
/// mark, `encoding="UTF-8"` and `charset=utf-8`. The accents must survive (not become
/// U+FFFD), and the fallback must be on the feed's health.
#[tokio::test]
async fn latin1_bytes_behind_a_utf8_bom_and_declarations_keep_the_accents() {
    let server = FeedServer::start().await;
    server.set(
        "/bom.xml",
        route(
            fixture("win1252_bom_utf8.xml"),
            "application/rss+xml; charset=utf-8",
        ),
    );
    let harness = Harness::start("", &[("bom", server.url("/bom.xml"))]).await;
    let report = harness.poll("bom").await;
    assert_eq!(
        polled(&report).2,
        1,
        "the item is read and relevant: {report:?}"
    );
    let items = harness.items_of("bom");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].title, ACCENTED_TITLE);
    assert!(
        items[0].summary.starts_with("Qualità e velocità: "),
        "{}",
        items[0].summary
    );
    let repairs = harness.state("bom").repairs;
    assert!(
        repairs.iter().any(|r| r.contains("read as windows-1252")),
        "the fallback is on the feed's health: {repairs:?}"
    );
}

/// A hostile or broken feed's multi-megabyte title, summary and link are cut at parse
/// time, so neither the item nor each subscriber's outbox entry carries them whole.
#[tokio::test]
async fn a_huge_title_arrives_capped_in_the_store_and_the_outbox() {
    let server = FeedServer::start().await;
    server.set(
        "/huge.xml",
        Route::feed(crate::support::rss(&[("prime", ASML_TITLE, "x")])),
    );
    let harness = Harness::start("", &[("huge", server.url("/huge.xml"))]).await;
    polled(&harness.poll("huge").await);

    // About 2.4 MB of title, 1.2 MB of summary and a 1 MB link, under the 5 MiB body cap.
    let title = format!("{BAN_TITLE} {}", "perché ".repeat(300_000));
    let lead = "Il Dipartimento del Commercio impone restrizioni. ".repeat(24_000);
    let link = format!("https://news.example.it/{}", "a".repeat(1_000_000));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Huge</title><link>https://news.example.it/</link><description>t</description>\
         <item><title>{ASML_TITLE}</title><link>https://news.example.it/prime</link><guid>prime</guid></item>\
         <item><title>{title}</title><link>{link}</link><guid>huge</guid>\
         <description>{lead}</description></item></channel></rss>\n"
    );
    assert!(body.len() < 5 * 1024 * 1024);
    server.set("/huge.xml", Route::feed(body));
    let report = harness.poll("huge").await;
    assert_eq!(polled(&report).1, 1, "{report:?}");

    let items = harness.items_of("huge");
    let item = items
        .iter()
        .find(|i| i.title.starts_with(BAN_TITLE))
        .expect("the huge item is stored");
    let chars = item.title.chars().count();
    assert!(chars <= 1_000 && item.title.ends_with('…'), "{chars} chars");
    assert!(item.summary.chars().count() <= 1_000 && item.summary.ends_with('…'));
    assert!(
        item.link.as_ref().is_none_or(|l| l.len() <= 2_048),
        "link of {:?} bytes",
        item.link.as_ref().map(String::len)
    );
    let deliveries = harness.deliveries();
    assert!(!deliveries.is_empty(), "the console is subscribed");
    for delivery in &deliveries {
        assert_eq!(delivery.alert.item.title, item.title);
    }
    let repairs = harness.state("huge").repairs;
    assert!(
        repairs.iter().any(|r| r.contains("cut")),
        "the cut is on the feed's health: {repairs:?}"
    );
}

/// (guid, title, lead) for a dozen distinct export-policy stories.
fn stories(guid_prefix: &str) -> Vec<(String, String, String)> {
    let subjects = [
        ("NVIDIA", "H20"),
        ("AMD", "MI308"),
        ("Intel", "Gaudi 3"),
        ("ASML", "DUV"),
        ("Applied Materials", "deposizione"),
        ("Lam Research", "incisione"),
        ("Tokyo Electron", "litografia"),
        ("Samsung", "HBM3E"),
        ("SK Hynix", "HBM4"),
        ("Micron", "HBM"),
        ("TSMC", "3 nanometri"),
        ("Qualcomm", "Snapdragon"),
    ];
    subjects
        .iter()
        .enumerate()
        .map(|(n, (company, product))| {
            (
                format!("{guid_prefix}-{n}"),
                format!(
                    "Gli Stati Uniti vietano l'export dei chip {company} {product} verso la Cina"
                ),
                format!(
                    "Il Dipartimento del Commercio impone nuove restrizioni all'esportazione: \
                     serve una licenza per vendere {product} di {company} a clienti cinesi."
                ),
            )
        })
        .collect()
}

/// RSS whose items keep the same link (the article) whatever their guid.
fn rss_of(items: &[(String, String, String)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Migrating outlet</title>\
         <link>https://migra.example.it/</link><description>test</description>\n",
    );
    for (n, (guid, title, lead)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://migra.example.it/articolo-{n}</link>\
             <guid isPermaLink=\"false\">{guid}</guid><description>{lead}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

#[tokio::test]
async fn a_guid_change_across_the_whole_feed_trips_the_flood_breaker() {
    let server = FeedServer::start().await;
    server.set("/migra.xml", Route::feed(rss_of(&stories("wp-post"))));
    let harness = Harness::start("", &[("migra", server.url("/migra.xml"))]).await;
    // 1. Prime: twelve relevant stories, recorded without alerting (first poll).
    assert_eq!(
        polled(&harness.poll("migra").await),
        (12, 12, 12, false, true)
    );

    // 2. The CMS migrates: the same twelve articles, every guid new.
    server.set("/migra.xml", Route::feed(rss_of(&stories("new-cms"))));
    let report = harness.poll("migra").await;
    assert_eq!(polled(&report), (12, 12, 12, true, false));
    assert!(report.alerts.is_empty());
    assert!(harness.deliveries().is_empty(), "no alert for a migration");
    let state = harness.state("migra");
    assert_eq!(state.held_items, 12);
    assert!(state.last_flood.is_some());

    // 3. The next genuinely new story alerts again.
    let mut items = stories("new-cms");
    items.push((
        "new-cms-12".into(),
        "La Cina vieta l'export di gallio e germanio verso gli Stati Uniti".into(),
        "Pechino impone il divieto di esportazione dei metalli per semiconduttori: \
         restrizioni sulle licenze per i produttori di chip americani."
            .into(),
    ));
    server.set("/migra.xml", Route::feed(rss_of(&items)));
    let report = harness.poll("migra").await;
    assert_eq!(polled(&report), (13, 1, 1, false, false));
    let deliveries = harness.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert!(deliveries[0].alert.item.title.contains("gallio e germanio"));
    assert_eq!(harness.state("migra").held_items, 12);
}

/// RSS of (guid, title, lead, publication date) items; `None` leaves out the `pubDate`.
fn rss_dated(
    items: &[(
        String,
        String,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
    )],
) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Busy outlet</title>\
         <link>https://busy.example.it/</link><description>test</description>\n",
    );
    for (guid, title, lead, date) in items {
        let date = date.map_or(String::new(), |d| {
            format!("<pubDate>{}</pubDate>", d.to_rfc2822())
        });
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://busy.example.it/{guid}</link>\
             <guid isPermaLink=\"false\">{guid}</guid>{date}<description>{lead}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// A busy outlet that publishes eight stories in one interval is news, not a migration:
/// entries dated after the newest one already known pass the flood breaker; only those
/// that look re-listed (no date, or an older one) are held, and counted.
#[tokio::test]
async fn the_flood_breaker_passes_fresh_dated_entries_and_holds_relisted_ones() {
    let now = chipwatch::clock::now();
    let at = |minutes_ago: i64| Some(now - chrono::Duration::minutes(minutes_ago));
    let dated = |guid: &str, stories: &[(String, String, String)], date| {
        stories
            .iter()
            .enumerate()
            .map(|(n, (_, title, lead))| (format!("{guid}-{n}"), title.clone(), lead.clone(), date))
            .collect::<Vec<_>>()
    };
    let all = stories("s");
    let server = FeedServer::start().await;
    // 1. Prime with four stories published two hours ago.
    let prime = dated("prime", &all[..4], at(120));
    server.set("/busy.xml", Route::feed(rss_dated(&prime)));
    let harness = Harness::start("", &[("busy", server.url("/busy.xml"))]).await;
    assert_eq!(polled(&harness.poll("busy").await), (4, 4, 4, false, true));

    // 2. Eight new stories at once, all published after the newest known one: news.
    let busy = dated("busy", &all[4..12], at(10));
    let mut body = busy.clone();
    body.extend_from_slice(&prime[..2]);
    server.set("/busy.xml", Route::feed(rss_dated(&body)));
    let report = harness.poll("busy").await;
    assert_eq!(polled(&report), (10, 8, 8, false, false), "{report:?}");
    assert!(!report.alerts.is_empty(), "the busy hour alerts");
    assert_eq!(harness.state("busy").held_items, 0);

    // 3. Eight entries re-listed under new guids, undated or older than what is known,
    //    beside one story that is genuinely new: only the re-listed ones are held.
    let mut relisted = dated("relist-old", &all[..4], at(300));
    relisted.extend(dated("relist-undated", &all[4..8], None));
    let gallium = (
        "gallium".to_string(),
        "La Cina vieta l'export di gallio e germanio verso gli Stati Uniti".to_string(),
        "Pechino impone il divieto di esportazione dei metalli per semiconduttori: \
         restrizioni sulle licenze per i produttori di chip americani."
            .to_string(),
        at(1),
    );
    let mut body = relisted.clone();
    body.push(gallium);
    body.push(busy[0].clone());
    server.set("/busy.xml", Route::feed(rss_dated(&body)));
    let report = harness.poll("busy").await;
    assert_eq!(polled(&report), (10, 9, 9, true, false), "{report:?}");
    // Nine new, eight held: the gallium story, dated after the newest known, passed (it
    // may join one of the busy hour's events rather than start its own, so whether it
    // alerts or follows up is grouping's business).
    let state = harness.state("busy");
    assert_eq!(state.held_items, 8);
    assert!(state.last_flood.is_some());
}

#[tokio::test]
async fn tracking_parameters_do_not_make_a_second_item() {
    let server = FeedServer::start().await;
    server.set("/a.xml", Route::feed(fixture("tracking_prime_a.xml")));
    server.set("/b.xml", Route::feed(fixture("tracking_prime_b.xml")));
    let harness = Harness::start(
        "",
        &[
            ("outlet-a", server.url("/a.xml")),
            ("outlet-b", server.url("/b.xml")),
        ],
    )
    .await;
    for report in harness.poll_all().await {
        assert!(polled(&report).4, "{}: primed", report.feed);
    }
    // Both outlets now list the same article, without guid: one link carries utm_*,
    // fbclid, `www.` and a trailing slash, the other is clean. Polled at once.
    server.set("/a.xml", Route::feed(fixture("tracking_utm.xml")));
    server.set("/b.xml", Route::feed(fixture("tracking_clean.xml")));
    let reports = harness.poll_all().await;
    let new: usize = reports.iter().map(|r| polled(r).1).sum();
    assert_eq!(new, 1, "one item across both feeds: {reports:#?}");
    let deliveries = harness.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries[0].alert.item.title, BAN_TITLE);
    let stored: Vec<Item> = harness
        .store
        .items()
        .expect("items")
        .into_iter()
        .filter(|i| i.title == BAN_TITLE)
        .collect();
    assert_eq!(stored.len(), 1);

    // And polled again, neither feed finds it new.
    for report in harness.poll_all().await {
        assert_eq!(polled(&report).1, 0, "{}", report.feed);
    }
}

#[tokio::test]
async fn the_feeds_command_shows_each_feeds_health() {
    use crate::support::process::Chipwatch;
    let server = FeedServer::start().await;
    let body = fixture("rss2.xml");
    let mut good = Route::feed(body.clone());
    good.etag = Some("\"v1\"".into());
    server.set("/good.xml", good);
    // `/missing.xml` has no route: the server answers 404.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        "",
        &[
            ("good", server.url("/good.xml")),
            ("missing", server.url("/missing.xml")),
        ],
    );
    let row = |exit: &crate::support::process::Exit, id: &str| -> Vec<String> {
        exit.stdout
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .unwrap_or_else(|| panic!("no row for {id}: {:#?}", exit.stdout))
    };

    for poll in 1..=2 {
        let exit = Chipwatch::start(&config, &["poll", "--once"])
            .finish(LIMIT)
            .await;
        assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
        let exit = Chipwatch::start(&config, &["feeds"]).finish(LIMIT).await;
        assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
        let header: Vec<&str> = exit.stdout[0].split_whitespace().collect();
        assert_eq!(
            header.join(" "),
            "feed status bytes items errs 304% held last attempt last success next poll last error"
        );
        // feed, status, bytes, items, errors, 304 share, held by the flood breaker; then
        // three date-times (date, time and UTC offset: three words each) for last attempt,
        // last success, next poll.
        let good = row(&exit, "good");
        let missing = row(&exit, "missing");
        if poll == 1 {
            let length = body.len().to_string();
            assert_eq!(
                good[..7],
                ["good", "200", length.as_str(), "4", "0", "0%", "0"]
            );
        } else {
            assert_eq!(good[..7], ["good", "304", "0", "4", "0", "50%", "0"]);
        }
        assert_eq!(good.len(), 16, "no error text: {good:?}");
        assert!(
            good[9].starts_with('+') || good[9].starts_with('-'),
            "{good:?}"
        );
        let errors = poll.to_string();
        assert_eq!(
            missing[..7],
            ["missing", "404", "0", "0", errors.as_str(), "0%", "0"]
        );
        assert_eq!(missing[10], "never", "never succeeded: {missing:?}");
        assert_eq!(missing[14..].join(" "), "fetch: HTTP status 404");
    }
    assert_eq!(server.hits("/good.xml").not_modified, 1);
}

#[tokio::test]
async fn opml_import_and_export_through_the_cli() {
    use crate::support::process::Chipwatch;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        "",
        &[("hwupgrade", "https://www.hwupgrade.it/rss/news.xml".into())],
    );
    let opml_file = format!(
        "{}/tests/data/feeds/http/subscriptions.opml",
        env!("CARGO_MANIFEST_DIR")
    );
    let original = std::fs::read_to_string(&config).expect("config");

    // 1. Without --write, the new feeds are printed as TOML and the config is untouched.
    let exit = Chipwatch::start(&config, &["feeds", "import-opml", &opml_file])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let printed = exit.stdout.join("\n");
    assert_eq!(printed.matches("[[feeds]]").count(), 3, "{printed}");
    assert!(printed.contains("id = \"perche-chip\""), "{printed}");
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("3 new feeds") && l.contains("4 skipped")),
        "{:#?}",
        exit.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).expect("config"), original);

    // 2. With --write they are appended and the configuration still loads.
    let exit = Chipwatch::start(&config, &["feeds", "import-opml", &opml_file, "--write"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let loaded = Config::load(&config, None).expect("config loads after the import");
    let ids: Vec<&str> = loaded.feeds.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "hwupgrade",
            "red-hot-cyber",
            "perche-chip",
            "policy-weekly-en"
        ]
    );
    assert_eq!(loaded.feeds[3].lang, chipwatch::domain::Lang::En);

    // 3. The export lists all four with their ids; importing it again adds nothing.
    let exported = dir.path().join("export.opml");
    let output = exported.to_str().expect("utf-8 path");
    let exit = Chipwatch::start(&config, &["feeds", "export-opml", "--output", output])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0, "{:#?}", exit.stderr);
    let opml = chipwatch::feeds::opml::parse(&std::fs::read(&exported).expect("export"))
        .expect("the export is OPML");
    let exported_ids: Vec<Option<&str>> = opml.feeds.iter().map(|f| f.id.as_deref()).collect();
    assert_eq!(
        exported_ids,
        ids.iter().map(|id| Some(*id)).collect::<Vec<_>>()
    );
    let exit = Chipwatch::start(&config, &["feeds", "import-opml", output, "--write"])
        .finish(LIMIT)
        .await;
    assert_eq!(exit.code, 0);
    assert!(
        exit.stderr.iter().any(|l| l.contains("0 new feeds")),
        "{:#?}",
        exit.stderr
    );
    assert_eq!(Config::load(&config, None).expect("loads").feeds.len(), 4);

    // 4. A file that is no OPML is a clear failure.
    let exit = Chipwatch::start(
        &config,
        &["feeds", "import-opml", &config.display().to_string()],
    )
    .finish(LIMIT)
    .await;
    assert_eq!(exit.code, 1);
    assert!(
        exit.stderr
            .iter()
            .any(|l| l.contains("not an OPML file") || l.contains("malformed OPML")),
        "{:#?}",
        exit.stderr
    );
}

//! The polling loop: polls each feed when it is due, turns new entries into items,
//! classifies them, and commits seen items, relevant items and their deliveries in one
//! store transaction. One bad feed never stops the loop: its error is recorded on the
//! feed's health and the others go on.

mod route;

use crate::classify::{self, ItemText, Rules};
use crate::config::{EventsConfig, FeedConfig, FeedSource, Settings};
use crate::domain::{Alert, Classification, FeedState, Item, ItemId};
use crate::feeds::parse::{self, FeedBody, ParsedEntry};
use crate::feeds::schedule::{self, ScheduleInput};
use crate::feeds::{CacheHints, FetchError, FetchOutcome, Fetcher};
use crate::store::{PollCommit, Store, StoreError};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// The flood breaker trips when at least this share of a primed feed's entries is new…
const FLOOD_SHARE: f64 = 0.8;
/// …and there are at least this many new entries.
const FLOOD_MIN_NEW: usize = 8;

/// Everything the poller needs, built once by `app`.
pub struct Poller {
    pub store: Store,
    pub fetcher: Fetcher,
    pub rules: Arc<Rules>,
    pub feeds: Vec<FeedConfig>,
    pub settings: Settings,
    pub events: EventsConfig,
    pub delivery: crate::config::DeliveryConfig,
    /// Where feed failures are reported (Telegram's admin chat, Discord's admin channel),
    /// and after how long a failure is reported.
    admin_report: (Vec<crate::domain::ChatRef>, Duration),
    /// Dispatchers to wake when deliveries are queued.
    pub wake: Vec<Arc<Notify>>,
    host_limits: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Held from routing items into events until the commit, so that two feeds polled
    /// at once cannot start two events for one story; every other commit takes it too
    /// (see `try_poll_feed`).
    commit_lock: tokio::sync::Mutex<()>,
}

/// What one poll of one feed did.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    NotModified,
    RateLimited {
        retry_after: Option<Duration>,
    },
    Polled {
        entries: usize,
        new: usize,
        relevant: usize,
        held_by_flood_breaker: bool,
        first_poll: bool,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone)]
pub struct PollReport {
    pub feed: crate::domain::FeedId,
    pub outcome: PollOutcome,
    /// Alerts found new and relevant in this poll (queued unless dry run).
    pub alerts: Vec<Alert>,
    /// Relevant items that the first-poll rule recorded without alerting.
    pub held_first_poll: usize,
}

/// The configured admin chats: Telegram's `admin_chat`, Discord's `admin_channel`.
fn admin_chats(config: &crate::config::Config) -> Vec<crate::domain::ChatRef> {
    use crate::domain::{ChatRef, Platform};
    let telegram = config.telegram.admin_chat.map(|id| ChatRef {
        platform: Platform::Telegram,
        id,
        thread: None,
    });
    // Discord ids are snowflakes below 2^63, so they fit a ChatRef's i64.
    let discord = config
        .discord
        .admin_channel
        .and_then(|id| i64::try_from(id).ok())
        .map(|id| ChatRef {
            platform: Platform::Discord,
            id,
            thread: None,
        });
    telegram.into_iter().chain(discord).collect()
}

impl Poller {
    pub fn new(
        store: Store,
        fetcher: Fetcher,
        rules: Arc<Rules>,
        config: &crate::config::Config,
    ) -> Self {
        Self {
            store,
            fetcher,
            rules,
            feeds: config.feeds.clone(),
            settings: config.settings.clone(),
            events: config.events.clone(),
            delivery: config.delivery.clone(),
            admin_report: (admin_chats(config), config.telegram.report_failing_after),
            wake: Vec::new(),
            host_limits: Default::default(),
            commit_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Polls every feed whose time has come, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        tracing::info!(feeds = self.feeds.len(), "poller started");
        while !shutdown.is_cancelled() {
            let now = crate::clock::now();
            let (due, next) = self.due_feeds(now);
            if !due.is_empty() {
                let reports = self.poll_many(due, false).await;
                for report in &reports {
                    log_report(report);
                }
                continue;
            }
            let wait = next
                .and_then(|at| (at - now).to_std().ok())
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
        tracing::info!("poller stopped");
    }

    /// The feeds due at `now`, and the earliest time another becomes due.
    /// The configured feeds and those operators added at run time (`/addfeed`).
    pub fn all_feeds(&self) -> Vec<FeedConfig> {
        let mut feeds = self.feeds.clone();
        let records = match self.store.feed_records() {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(%error, "cannot read the runtime feeds; polling the configured ones");
                Vec::new()
            }
        };
        for record in records {
            if feeds.iter().any(|f| f.id == record.id) {
                continue;
            }
            match url::Url::parse(&record.url) {
                Ok(url) => feeds.push(FeedConfig {
                    id: record.id,
                    name: record.name,
                    source: FeedSource::Http(url),
                    lang: record.lang,
                    interval: self.settings.poll_interval,
                    charset: None,
                    backfill: 0,
                }),
                Err(error) => {
                    tracing::error!(feed = %record.id, %error, "a runtime feed's URL is unreadable; skipped")
                }
            }
        }
        feeds
    }

    fn due_feeds(&self, now: DateTime<Utc>) -> (Vec<FeedConfig>, Option<DateTime<Utc>>) {
        let mut due = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        for feed in &self.all_feeds() {
            let next_poll = match self.store.feed_state(&feed.id) {
                Ok(state) => state.and_then(|s| s.next_poll),
                Err(error) => {
                    tracing::error!(feed = %feed.id, %error, "cannot read feed state; polling it now");
                    None
                }
            };
            match next_poll {
                Some(at) if at > now => next = Some(next.map_or(at, |n| n.min(at))),
                _ => due.push(feed.clone()),
            }
        }
        (due, next)
    }

    /// Polls `feeds` concurrently within the global and per-host limits.
    pub async fn poll_many(&self, feeds: Vec<FeedConfig>, dry_run: bool) -> Vec<PollReport> {
        futures_util::stream::iter(feeds)
            .map(|feed| async move {
                let _permit = self.host_permit(&feed.source).acquire_owned().await;
                self.poll_feed(&feed, crate::clock::now(), dry_run).await
            })
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await
    }

    fn host_permit(&self, source: &FeedSource) -> Arc<Semaphore> {
        let host = match source {
            FeedSource::Http(url) => url.host_str().unwrap_or_default().to_string(),
            FeedSource::File(_) => String::from("file"),
        };
        // The lock is held only to look up the map; a poisoned lock means a panic elsewhere
        // already, so taking the inner value is the best we can do.
        let mut limits = self.host_limits.lock().unwrap_or_else(|p| p.into_inner());
        limits
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host_concurrency)))
            .clone()
    }

    /// Polls one feed and records the outcome; never fails (errors become the outcome).
    pub async fn poll_feed(
        &self,
        feed: &FeedConfig,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> PollReport {
        match self.try_poll_feed(feed, now, dry_run).await {
            Ok(report) => report,
            Err(error) => {
                tracing::error!(feed = %feed.id, %error, "store error while polling");
                PollReport {
                    feed: feed.id.clone(),
                    outcome: PollOutcome::Failed {
                        error: error.to_string(),
                    },
                    alerts: Vec::new(),
                    held_first_poll: 0,
                }
            }
        }
    }

    async fn try_poll_feed(
        &self,
        feed: &FeedConfig,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PollReport, StoreError> {
        // 1. What we knew about the feed.
        let mut state = self.store.feed_state(&feed.id)?.unwrap_or_default();
        state.last_attempt = Some(now);
        state.polls += 1;
        // 2. Fetch, conditionally.
        let fetched = self
            .fetcher
            .fetch(
                &feed.source,
                state.etag.as_deref(),
                state.last_modified.as_deref(),
            )
            .await;
        let mut report = PollReport {
            feed: feed.id.clone(),
            outcome: PollOutcome::NotModified,
            alerts: Vec::new(),
            held_first_poll: 0,
        };
        let mut commit = PollCommit::default();
        let mut schedule = self.schedule_input(feed);
        let mut commit_guard: Option<tokio::sync::MutexGuard<'_, ()>> = None;
        match fetched {
            Ok(FetchOutcome::NotModified { cache }) => {
                state.not_modified += 1;
                state.last_status = Some(304);
                state.last_bytes = 0;
                mark_success(&mut state, now);
                schedule.cache = cache;
            }
            Ok(FetchOutcome::RateLimited {
                status,
                retry_after,
            }) => {
                state.last_status = Some(status);
                // Without a Retry-After, wait twice the feed's interval: coming back at
                // `min_interval` (as this did) polls a server that just said "too many
                // requests" more often than usual.
                schedule.retry_after = Some(retry_after.unwrap_or(feed.interval.saturating_mul(2)));
                report.outcome = PollOutcome::RateLimited { retry_after };
            }
            Ok(FetchOutcome::Body {
                status,
                bytes,
                content_type,
                etag,
                last_modified,
                final_url,
                cache,
            }) => {
                state.last_status = Some(status);
                state.last_bytes = bytes.len() as u64;
                schedule.cache = cache;
                let base_url = final_url.or_else(|| match &feed.source {
                    FeedSource::Http(url) => Some(url.clone()),
                    FeedSource::File(_) => None,
                });
                let body = FeedBody {
                    bytes: &bytes,
                    content_type: content_type.as_deref(),
                    charset_override: feed.charset.as_deref(),
                    base_url: base_url.as_ref(),
                };
                match parse::parse_feed(&body) {
                    Ok(parsed) => {
                        // Entries are routed into events and committed under one lock.
                        let guard = self.commit_lock.lock().await;
                        state.etag = etag;
                        state.last_modified = last_modified;
                        // Said once when the corrections change, not on every poll; they
                        // stay on the feed's health (`chipwatch feeds --json`).
                        if !parsed.repairs.is_empty() && parsed.repairs != state.repairs {
                            tracing::warn!(feed = %feed.id, encoding = parsed.encoding,
                                repairs = ?parsed.repairs, "feed read with corrections");
                        }
                        if parsed.cuts != parse::Cuts::default() {
                            tracing::debug!(feed = %feed.id, cuts = ?parsed.cuts,
                                "overlong titles or summaries cut, overlong links dropped");
                        }
                        state.repairs = parsed.repairs.clone();
                        schedule.ttl = parsed
                            .ttl_minutes
                            .map(|m| Duration::from_secs(u64::from(m) * 60));
                        mark_success(&mut state, now);
                        self.process_entries(
                            feed,
                            &parsed.entries,
                            now,
                            &mut state,
                            &mut commit,
                            &mut report,
                        )?;
                        commit_guard = Some(guard);
                    }
                    Err(error) => {
                        record_error(&mut state, now, format!("parse: {error}"), &mut report)
                    }
                }
            }
            Err(error) => {
                // The health shows the last answer: a 404 is a status, a timeout is none.
                state.last_status = match error {
                    FetchError::Status(status) => Some(status),
                    _ => None,
                };
                state.last_bytes = 0;
                record_error(&mut state, now, format!("fetch: {error}"), &mut report)
            }
        }
        // 3. Schedule the next poll and commit everything at once.
        self.report_failure(feed, &mut state, now, &mut commit);
        schedule.consecutive_errors = state.consecutive_errors;
        state.next_poll = Some(schedule::next_poll(&schedule, now, fastrand::f64()));
        if dry_run {
            return Ok(report);
        }
        commit.feed = Some((feed.id.clone(), state));
        commit.seen_at = Some(now);
        // Every commit goes through the lock, not only those that route items, so the
        // poller's commits and their flushes run one at a time. It was first added because
        // concurrent `flush_async` calls on sled 0.34 can hang (spacejam/sled#1308); the
        // store now flushes on a blocking thread instead, and the lock stays to keep a
        // cycle of many feeds from piling up concurrent fsyncs.
        let commit_guard = match commit_guard {
            Some(guard) => guard,
            None => self.commit_lock.lock().await,
        };
        let queued = self.store.commit_poll(commit).await?;
        drop(commit_guard);
        if !queued.is_empty() {
            for wake in &self.wake {
                wake.notify_one();
            }
        }
        Ok(report)
    }

    /// Once per failing stretch, tells the admin chat that a feed has failed for longer
    /// than configured; subscribers never hear of it.
    fn report_failure(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: DateTime<Utc>,
        commit: &mut PollCommit,
    ) {
        let (admin_chats, after) = &self.admin_report;
        if admin_chats.is_empty() {
            return;
        }
        let Some(since) = state.failing_since else {
            return;
        };
        let after = chrono::Duration::from_std(*after).unwrap_or(chrono::Duration::hours(6));
        if state.failure_reported || now - since < after {
            return;
        }
        state.failure_reported = true;
        let item = Item {
            id: ItemId(crate::domain::stable_hash(&[
                "feed-failing",
                feed.id.as_str(),
                &since.to_rfc3339(),
            ])),
            feed: feed.id.clone(),
            outlet: feed.name.clone(),
            title: feed.source.to_string(),
            summary: state.last_error.clone().unwrap_or_default(),
            link: None,
            published: Some(now),
            first_seen: now,
            lang: feed.lang,
        };
        let alert = Alert {
            item,
            classification: Classification::default(),
        };
        for chat in admin_chats {
            commit.deliveries.push(crate::domain::Delivery::new(
                chat.clone(),
                alert.clone(),
                None,
                crate::domain::DeliveryKind::FeedFailing { since },
                now,
            ));
        }
        tracing::warn!(feed = %feed.id, %since, "feed failing; reported to the admin chats");
    }

    fn schedule_input(&self, feed: &FeedConfig) -> ScheduleInput {
        ScheduleInput {
            interval: feed.interval,
            min: self.settings.min_interval,
            max: self.settings.max_interval,
            ttl: None,
            cache: CacheHints::default(),
            consecutive_errors: 0,
            retry_after: None,
        }
    }

    /// Decides which entries are new, applies the first-poll rule and the flood breaker,
    /// classifies the new ones and queues their deliveries.
    fn process_entries(
        &self,
        feed: &FeedConfig,
        entries: &[ParsedEntry],
        now: DateTime<Utc>,
        state: &mut FeedState,
        commit: &mut PollCommit,
        report: &mut PollReport,
    ) -> Result<(), StoreError> {
        let mut fresh: Vec<(ItemId, &ParsedEntry)> = Vec::new();
        let mut in_this_body = HashSet::new();
        // The newest date known before this poll: remembered, or read off the entries of
        // this body that were seen before (a database from before it was remembered).
        let mut newest_known = state.newest_published;
        for entry in entries {
            let id = parse::item_identity(entry);
            if !in_this_body.insert(id) {
                continue;
            }
            if self.store.is_seen(id)? {
                newest_known = newest_known.max(entry.published.filter(|at| *at <= now));
            } else {
                fresh.push((id, entry));
            }
        }
        state.last_items = entries.len() as u32;
        state.newest_published = entries
            .iter()
            .filter_map(|entry| entry.published.map(|at| at.min(now)))
            .max()
            .max(newest_known);
        let first_poll = !state.primed;
        let flood = !first_poll
            && fresh.len() >= FLOOD_MIN_NEW
            && fresh.len() as f64 >= FLOOD_SHARE * entries.len() as f64;
        // In a flood, entries dated after the newest one known are news (a busy outlet);
        // those undated or dated before it look re-listed (a guid change, a CMS
        // migration) and are recorded without alerting.
        let held: HashSet<ItemId> = if flood {
            fresh
                .iter()
                .filter(|(_, entry)| match (entry.published, newest_known) {
                    (Some(at), Some(known)) => at <= known,
                    _ => true,
                })
                .map(|(id, _)| *id)
                .collect()
        } else {
            HashSet::new()
        };
        if !held.is_empty() {
            state.held_items += held.len() as u64;
            state.last_flood = Some(now);
            tracing::warn!(feed = %feed.id, held = held.len(), new = fresh.len(), entries = entries.len(),
                "flood breaker: most entries look new at once (guid change or CMS migration?); those not dated after the newest known entry recorded without alerting");
        }
        state.primed = true;
        let mut routing = route::Routing::load(
            &self.store,
            &self.events,
            &self.delivery,
            self.settings.time_zone,
            now,
        )?;
        // On a first poll only the `backfill` newest entries may alert.
        let alertable: HashSet<ItemId> = if first_poll {
            let mut by_age: Vec<&(ItemId, &ParsedEntry)> = fresh.iter().collect();
            by_age.sort_by_key(|(_, e)| std::cmp::Reverse(e.published));
            by_age
                .iter()
                .take(feed.backfill)
                .map(|(id, _)| *id)
                .collect()
        } else {
            fresh
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !held.contains(id))
                .collect()
        };
        let mut relevant = 0;
        for (id, entry) in &fresh {
            commit.seen.push(*id);
            let item = build_item(feed, *id, entry, now);
            let classification = self.classify(&item);
            let is_relevant = classification.is_relevant();
            if is_relevant {
                relevant += 1;
                commit.items.push(item.clone());
            }
            if !alertable.contains(id) {
                report.held_first_poll += usize::from(first_poll && is_relevant);
                continue;
            }
            // Every item joins an event; its topics decide who hears of it (see `route`).
            let alert = Alert {
                item,
                classification,
            };
            let (_event, is_new) = routing.route(&alert, commit)?;
            if is_new && is_relevant {
                report.alerts.push(alert);
            }
        }
        routing.finish(commit);
        report.outcome = PollOutcome::Polled {
            entries: entries.len(),
            new: fresh.len(),
            relevant,
            held_by_flood_breaker: !held.is_empty(),
            first_poll,
        };
        Ok(())
    }

    fn classify(&self, item: &Item) -> Classification {
        classify::classify(
            &self.rules,
            &ItemText {
                title: &item.title,
                text: &item.summary,
                lang: Some(item.lang),
            },
        )
    }
}

fn build_item(feed: &FeedConfig, id: ItemId, entry: &ParsedEntry, now: DateTime<Utc>) -> Item {
    Item {
        id,
        feed: feed.id.clone(),
        outlet: feed.name.clone(),
        title: entry.title.clone(),
        summary: entry.summary.clone(),
        link: entry.link.clone(),
        published: entry.published,
        first_seen: now,
        lang: feed.lang,
    }
}

fn mark_success(state: &mut FeedState, now: DateTime<Utc>) {
    state.last_success = Some(now);
    state.consecutive_errors = 0;
    state.failing_since = None;
    state.failure_reported = false;
    state.last_error = None;
}

fn record_error(state: &mut FeedState, now: DateTime<Utc>, error: String, report: &mut PollReport) {
    state.consecutive_errors += 1;
    state.failing_since.get_or_insert(now);
    state.last_error = Some(error.clone());
    report.outcome = PollOutcome::Failed { error };
}

fn log_report(report: &PollReport) {
    match &report.outcome {
        PollOutcome::Failed { error } => tracing::warn!(feed = %report.feed, %error, "poll failed"),
        outcome => {
            tracing::info!(feed = %report.feed, ?outcome, alerts = report.alerts.len(), "polled")
        }
    }
}

//! The one wiring point: opens the store, compiles the rules, builds the fetcher and the
//! notifiers, spawns the poller and one dispatcher per platform, and shuts them down in
//! order on SIGINT or SIGTERM.

use crate::classify::{Rules, TopicModel};
use crate::config::{Config, ConsoleMode};
use crate::console::ConsoleNotifier;
use crate::dispatcher::{self, DispatchParams};
use crate::domain::{ChatRef, Subscription};
use crate::feeds::{Fetcher, FetcherSettings};
use crate::notify::Notifier;
use crate::poller::{PollReport, Poller};
use crate::store::Store;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long running loops get to finish their current step after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Console alerts as JSON lines instead of text.
    pub json: bool,
}

/// The parts every command that polls needs.
pub struct Parts {
    pub store: Store,
    pub poller: Poller,
    pub notifiers: Vec<Arc<dyn Notifier>>,
    /// The Telegram bot's update loop, when a token is set.
    pub telegram: Option<crate::telegram::Telegram>,
    /// The Discord bot's gateway, when a token is set.
    pub discord: Option<crate::discord::Discord>,
}

/// A bot token from the environment, if set and not empty.
fn token(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn compile_rules(config: &Config) -> anyhow::Result<Rules> {
    let rules = compile_rules_only(config)?;
    check_topic_references(config, &rules)?;
    let (Some(json), Some(file)) = (&config.model_json, &config.settings.model_file) else {
        return Ok(rules);
    };
    let in_model = || format!("in the topic model {}", file.display());
    let model = TopicModel::from_json(json).with_context(in_model)?;
    if let Some(warning) = model_warning(&rules, &model) {
        tracing::warn!(model = %file.display(), "{warning}");
    }
    rules.with_model(model).with_context(in_model)
}

/// Every topic the configuration names (`console.topics`, `delivery.digest_bypass`,
/// `events.opposed_topics`) is one the rules define: a misspelt id would silently match
/// nothing.
fn check_topic_references(config: &Config, rules: &Rules) -> anyhow::Result<()> {
    let known: Vec<&str> = rules.topics().iter().map(|t| t.id.as_str()).collect();
    let opposed = config
        .events
        .params
        .opposed_topics
        .iter()
        .enumerate()
        .flat_map(|(index, (a, b))| {
            [a, b].map(|topic| (format!("events.opposed_topics[{index}]"), topic))
        });
    let named = (config.console.topics.iter().enumerate())
        .map(|(index, topic)| (format!("console.topics[{index}]"), topic))
        .chain(
            (config.delivery.digest_bypass.iter().enumerate())
                .map(|(index, topic)| (format!("delivery.digest_bypass[{index}]"), topic)),
        )
        .chain(opposed);
    let unknown: Vec<String> = named
        .filter(|(_, topic)| !known.contains(&topic.as_str()))
        .map(|(key, topic)| format!("{key}: no topic `{topic}` in the rules"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{}: {} (the rules {} define: {})",
        config.path.display(),
        unknown.join("; "),
        config.settings.topics_file.display(),
        known.join(", ")
    )
}

/// The topic rules without the configured model (what `train` reads features with).
pub fn compile_rules_only(config: &Config) -> anyhow::Result<Rules> {
    Rules::from_toml(&config.topics_toml).with_context(|| {
        format!(
            "in the topic rules {}",
            config.settings.topics_file.display()
        )
    })
}

/// Why a model may no longer fit its rules: they changed since it was trained, so the
/// rules' points it weighs mean something else. It still works; retraining is better.
pub fn model_warning(rules: &Rules, model: &TopicModel) -> Option<String> {
    (model.rules_fingerprint != rules.fingerprint()).then(|| {
        format!(
            "the topic rules changed since the model was trained (rules {}, model trained with {}): \
             retrain it with `chipwatch train` on your labelled items",
            rules.fingerprint(),
            model.rules_fingerprint
        )
    })
}

/// Opens the store and builds the poller and notifiers; sets up the console subscription.
pub async fn build(config: &Config, options: RunOptions) -> anyhow::Result<Parts> {
    let rules = Arc::new(compile_rules(config)?);
    let store = Store::open(&config.settings.data_dir)?;
    let fetcher = Fetcher::new(FetcherSettings::from_config(&config.settings))?;
    let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
    let console_on = match config.console.mode {
        ConsoleMode::On => true,
        ConsoleMode::Off => false,
        ConsoleMode::Auto => !chat_token_present(),
    };
    sync_console_subscription(&store, config, &rules, console_on).await?;
    if console_on {
        notifiers.push(Arc::new(ConsoleNotifier { json: options.json }));
    }
    let engine = Arc::new(crate::commands::Engine {
        store: store.clone(),
        rules: rules.clone(),
        feeds: config.feeds.clone(),
        zone: config.settings.time_zone,
        allow_private_addresses: config.settings.allow_private_addresses,
    });
    let mut telegram = None;
    if let Some(token) = token("TELOXIDE_TOKEN") {
        let engine = engine.clone();
        let bot =
            crate::telegram::Telegram::connect(&token, &config.telegram, engine, store.clone())
                .await?;
        notifiers.push(Arc::new(bot.notifier(
            config.settings.time_zone,
            config.telegram.link_preview,
            crate::telegram::TelegramLimits::default(),
        )));
        telegram = Some(bot);
    }
    let mut discord = None;
    if let Some(token) = token("DISCORD_TOKEN") {
        let bot = crate::discord::Discord::connect(&token, &config.discord, engine, store.clone())
            .await?;
        notifiers.push(Arc::new(bot.notifier(
            config.settings.time_zone,
            crate::discord::DiscordLimits::default(),
        )));
        discord = Some(bot);
    }
    let poller = Poller::new(store.clone(), fetcher, rules, config);
    Ok(Parts {
        store,
        poller,
        notifiers,
        telegram,
        discord,
    })
}

/// Whether a chat platform (Telegram or Discord) will take the alerts: then the console,
/// in `auto` mode, stays quiet.
fn chat_token_present() -> bool {
    token("TELOXIDE_TOKEN").is_some() || token("DISCORD_TOKEN").is_some()
}

/// The console is a subscriber like any chat, so its alerts go through the outbox too and
/// survive a restart. It follows the configured topics, or every topic.
async fn sync_console_subscription(
    store: &Store,
    config: &Config,
    rules: &Rules,
    on: bool,
) -> anyhow::Result<()> {
    let mut subscription = store
        .subscription(&ChatRef::console())?
        .unwrap_or_else(|| Subscription::new(ChatRef::console()));
    subscription.topics = if config.console.topics.is_empty() {
        rules.topics().iter().map(|t| t.id.clone()).collect()
    } else {
        config.console.topics.iter().cloned().collect()
    };
    subscription.active = on;
    store.put_subscription(&subscription).await?;
    Ok(())
}

/// `chipwatch run`: polls and delivers until SIGINT or SIGTERM.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<()> {
    let Parts {
        store,
        mut poller,
        notifiers,
        telegram,
        discord,
    } = build(&config, options).await?;
    if notifiers.is_empty() {
        tracing::warn!(
            "no notifier is enabled: alerts are queued but not delivered (set a token or console.enabled)"
        );
    }
    let shutdown = CancellationToken::new();
    let mut tasks = Tasks::default();
    for notifier in notifiers {
        let wake = Arc::new(Notify::new());
        poller.wake.push(wake.clone());
        let params = DispatchParams::from(&config.delivery);
        let name = format!("{} dispatcher", notifier.platform().as_str());
        tasks.spawn(
            name,
            dispatcher::run(store.clone(), notifier, params, wake, shutdown.clone()),
        );
    }
    tasks.spawn(
        "maintenance".into(),
        maintain(
            store.clone(),
            config.settings.retention,
            config.events.params.window,
            shutdown.clone(),
        ),
    );
    tasks.spawn("poller".into(), Arc::new(poller).run(shutdown.clone()));
    if let Some(bot) = telegram {
        tasks.spawn("Telegram updates".into(), bot.run(shutdown.clone()));
    }
    if let Some(bot) = discord {
        tasks.spawn("Discord gateway".into(), bot.run(shutdown.clone()));
    }
    tracing::info!(data_dir = %store.path().display(), "chipwatch running; Ctrl-C or SIGTERM stops it");

    // Until a signal, or until a loop ends first: a loop that panicked or returned leaves
    // the service half alive (answering commands, polling nothing), so everything stops
    // and the process exits non-zero with the reason, for the supervisor to see.
    let failed = tasks.until_one_ends(wait_for_signal()).await?;
    match &failed {
        Some(reason) => tracing::error!(%reason, "a loop stopped; shutting down"),
        None => tracing::info!("shutting down"),
    }
    shutdown.cancel();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.set.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some loops did not stop within {SHUTDOWN_GRACE:?}; aborting them");
        tasks.set.abort_all();
    }
    store.flush().await?;
    if let Some(reason) = failed {
        anyhow::bail!("{reason}; stopped the other loops, the database is flushed");
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The service's long-lived loops, each with a name for the operator.
#[derive(Default)]
struct Tasks {
    set: tokio::task::JoinSet<()>,
    names: std::collections::HashMap<tokio::task::Id, String>,
}

impl Tasks {
    fn spawn(
        &mut self,
        name: String,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits for `signal`; returns `None` when it came first, or the reason when a loop
    /// ended before it (no loop ends on its own while the service runs).
    async fn until_one_ends(
        &mut self,
        signal: impl std::future::Future<Output = anyhow::Result<()>>,
    ) -> anyhow::Result<Option<String>> {
        tokio::select! {
            result = signal => result.map(|()| None),
            Some(ended) = self.set.join_next_with_id() => Ok(Some(self.reason(ended))),
        }
    }

    fn reason(&self, ended: Result<(tokio::task::Id, ()), tokio::task::JoinError>) -> String {
        let id = match &ended {
            Ok((id, ())) => *id,
            Err(error) => error.id(),
        };
        let name = self.names.get(&id).map_or("a loop", String::as_str);
        match ended {
            Ok(_) => format!("the {name} loop ended unexpectedly"),
            Err(error) if error.is_panic() => {
                let payload = error.into_panic();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                format!("the {name} loop panicked: {message}")
            }
            Err(_) => format!("the {name} loop was cancelled"),
        }
    }
}

/// How often old records are pruned.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes, at start and then hourly, what is older than `retention`: seen items (a feed
/// re-listing them after that would alert them again, which is why retention is long),
/// stored items, delivered records and events; and events of no topic older than the
/// grouping window (a day to spare), which only grouping reads. The outbox and dead
/// letters are never pruned here: they are work and evidence, not history.
async fn maintain(
    store: Store,
    retention: Duration,
    window: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let now = crate::clock::now();
        let cutoff =
            now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
        let window_cutoff = now
            - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(7))
            - chrono::Duration::days(1);
        let pruned = store.prune_seen(cutoff).and_then(|seen| {
            Ok((
                seen,
                store.prune_delivered(cutoff)?,
                store.prune_events(cutoff)? + store.prune_events_without_topics(window_cutoff)?,
            ))
        });
        match pruned {
            Ok((0, 0, 0)) => {}
            Ok((seen, delivered, events)) => {
                if let Err(error) = store.flush().await {
                    tracing::error!(%error, "flush after pruning failed");
                }
                tracing::info!(
                    seen,
                    delivered,
                    events,
                    "pruned records older than the retention"
                );
            }
            Err(error) => tracing::error!(%error, "pruning failed; will try again"),
        }
        tokio::select! {
            () = tokio::time::sleep(MAINTENANCE_EVERY) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

/// `chipwatch poll --once`: one poll of every feed, then delivers what it queued; with
/// `dry_run`, see [`dry_run`].
pub async fn poll_once(
    config: Config,
    options: RunOptions,
    dry_run: bool,
) -> anyhow::Result<Vec<PollReport>> {
    if dry_run {
        return self::dry_run(&config).await;
    }
    let Parts {
        store,
        poller,
        notifiers,
        telegram: _,
        discord: _,
    } = build(&config, options).await?;
    let reports = poller.poll_many(config.feeds.clone(), false).await;
    for notifier in &notifiers {
        drain(
            &store,
            notifier.as_ref(),
            DispatchParams::from(&config.delivery),
        )
        .await?;
    }
    store.flush().await?;
    Ok(reports)
}

/// `poll --once --dry-run`: polls every feed once and reports what would be alerted,
/// recording nothing and connecting to no chat platform. It reads the database when there
/// is one (so what was seen is not reported again); with none (a fresh machine, a mistyped
/// `--data-dir`) it polls against an empty scratch database in the system's temporary
/// directory, removed before returning, so nothing is created where the data would live.
async fn dry_run(config: &Config) -> anyhow::Result<Vec<PollReport>> {
    let rules = Arc::new(compile_rules(config)?);
    let fetcher = Fetcher::new(FetcherSettings::from_config(&config.settings))?;
    let data_dir = &config.settings.data_dir;
    let mut scratch = None;
    let store = if Store::exists(data_dir) {
        Store::open_existing(data_dir)?
    } else {
        tracing::info!(data_dir = %data_dir.display(), "no database: dry run against an empty scratch database");
        let dir = ScratchDir::create()?;
        let store = Store::open(dir.path())?;
        scratch = Some(dir);
        store
    };
    let poller = Poller::new(store, fetcher, rules, config);
    let reports = poller.poll_many(config.feeds.clone(), true).await;
    // The store (and sled's threads) close before the scratch directory is removed.
    drop(poller);
    drop(scratch);
    Ok(reports)
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn create() -> anyhow::Result<Self> {
        let name = format!(
            "chipwatch-dry-run-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)
            .with_context(|| format!("creating the scratch database {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), %error, "cannot remove the scratch database");
        }
    }
}

/// Delivers everything due now for one notifier; stops when a round makes no progress
/// (nothing due, or only retries left for later).
async fn drain(
    store: &Store,
    notifier: &dyn Notifier,
    params: DispatchParams,
) -> anyhow::Result<()> {
    loop {
        let round = dispatcher::deliver_round(store, notifier, crate::clock::now(), params).await?;
        if round.idle || round.delivered + round.dropped == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tasks;

    #[tokio::test]
    async fn a_loop_that_panics_stops_the_service_with_its_name_and_message() {
        let mut tasks = Tasks::default();
        tasks.spawn("poller".into(), async { panic!("window out of range") });
        tasks.spawn("maintenance".into(), std::future::pending());
        let reason = tasks
            .until_one_ends(std::future::pending())
            .await
            .expect("no signal error");
        assert_eq!(
            reason.as_deref(),
            Some("the poller loop panicked: window out of range")
        );
    }

    #[tokio::test]
    async fn a_loop_that_returns_early_is_reported_too() {
        let mut tasks = Tasks::default();
        tasks.spawn("Telegram updates".into(), async {});
        let reason = tasks
            .until_one_ends(std::future::pending())
            .await
            .expect("no signal error");
        assert_eq!(
            reason.as_deref(),
            Some("the Telegram updates loop ended unexpectedly")
        );
    }

    #[tokio::test]
    async fn a_signal_while_every_loop_runs_is_a_clean_stop() {
        let mut tasks = Tasks::default();
        tasks.spawn("poller".into(), std::future::pending());
        let reason = tasks
            .until_one_ends(async { Ok(()) })
            .await
            .expect("no signal error");
        assert_eq!(reason, None);
    }
}

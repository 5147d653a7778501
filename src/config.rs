//! Configuration: raw TOML read with serde, then validated once into [`Config`].
//! Every problem is collected and reported with its file and key; secrets (bot tokens)
//! never come from here, only from the environment.

use crate::domain::{FeedId, Lang, TopicId};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// One thing wrong with the configuration, located by file and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// All the problems found; never empty.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} problem{} in the configuration:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

// ---- raw, as written in TOML ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    settings: RawSettings,
    #[serde(default)]
    console: RawConsole,
    #[serde(default)]
    telegram: RawTelegram,
    #[serde(default)]
    discord: RawDiscord,
    #[serde(default)]
    events: RawEvents,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    feeds: Vec<RawFeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDelivery {
    quiet_hours: String,
    digest_bypass: Vec<String>,
    max_in_flight: usize,
    burst_min: usize,
}

impl Default for RawDelivery {
    fn default() -> Self {
        Self {
            quiet_hours: "silence".into(),
            digest_bypass: Vec::new(),
            max_in_flight: 4,
            burst_min: 3,
        }
    }
}

/// How far apart two reports of one story may be: an hour at least, a year at most (a
/// window chrono cannot represent used to panic the poller).
const EVENT_WINDOW_RANGE: (Duration, Duration) =
    (Duration::from_secs(3600), Duration::from_secs(366 * 86_400));

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEvents {
    #[serde(with = "humantime_serde")]
    window: Duration,
    /// Unset: the grouping model's calibrated threshold.
    min_score: Option<f32>,
    /// Unset: the grouping model built into the binary (config/grouping.json at build time).
    model_file: Option<PathBuf>,
    opposed_topics: Vec<[String; 2]>,
    #[serde(with = "humantime_serde")]
    follow_up_interval: Duration,
}

impl Default for RawEvents {
    fn default() -> Self {
        let params = crate::events::EventParams::default();
        Self {
            window: params.window,
            min_score: None,
            model_file: None,
            opposed_topics: params
                .opposed_topics
                .iter()
                .map(|(a, b)| [a.to_string(), b.to_string()])
                .collect(),
            follow_up_interval: Duration::from_secs(6 * 3600),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSettings {
    data_dir: PathBuf,
    topics_file: PathBuf,
    model_file: Option<PathBuf>,
    user_agent: String,
    #[serde(with = "humantime_serde")]
    poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    min_interval: Duration,
    #[serde(with = "humantime_serde")]
    max_interval: Duration,
    #[serde(with = "humantime_serde")]
    connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    request_timeout: Duration,
    max_body_bytes: u64,
    max_redirects: usize,
    concurrency: usize,
    per_host_concurrency: usize,
    backfill: usize,
    #[serde(with = "humantime_serde")]
    retention: Duration,
    allow_private_addresses: bool,
    time_zone: String,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            topics_file: PathBuf::from("topics.toml"),
            model_file: None,
            user_agent: concat!(
                "chipwatch/",
                env!("CARGO_PKG_VERSION"),
                " (feed reader; +https://github.com/chipwatch/chipwatch)"
            )
            .to_string(),
            poll_interval: Duration::from_secs(15 * 60),
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(6 * 3600),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            concurrency: 8,
            per_host_concurrency: 2,
            backfill: 0,
            retention: Duration::from_secs(90 * 86400),
            allow_private_addresses: false,
            time_zone: "Europe/Rome".to_string(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    /// `"auto"` (default): print alerts on stdout only when no chat platform is configured.
    enabled: Option<toml::Value>,
    #[serde(default)]
    topics: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTelegram {
    api_url: Option<String>,
    #[serde(default)]
    admins: Vec<i64>,
    #[serde(default)]
    link_preview: bool,
    #[serde(default = "default_true")]
    admins_only: bool,
    #[serde(default)]
    admin_chat: Option<i64>,
    #[serde(default = "default_report_after", with = "humantime_serde")]
    report_failing_after: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDiscord {
    api_url: Option<String>,
    operators: Vec<i64>,
    admins_only: bool,
    admin_channel: Option<i64>,
    #[serde(with = "humantime_serde")]
    defer_after: Duration,
}

impl Default for RawDiscord {
    fn default() -> Self {
        Self {
            api_url: None,
            operators: Vec::new(),
            admins_only: true,
            admin_channel: None,
            defer_after: DISCORD_DEFER_AFTER,
        }
    }
}

/// Discord drops an interaction that gets no answer within 3 s of its dispatch; the
/// time on the way (gateway, callback) comes out of those 3 s.
const DISCORD_DEFER_AFTER: Duration = Duration::from_secs(2);
const DISCORD_ANSWER_DEADLINE: Duration = Duration::from_secs(3);

fn default_report_after() -> Duration {
    Duration::from_secs(6 * 3600)
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    id: String,
    name: String,
    url: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default, with = "humantime_serde")]
    interval: Option<Duration>,
    #[serde(default)]
    charset: Option<String>,
    #[serde(default)]
    backfill: Option<usize>,
}

// ---- validated ----

/// Where a feed is read from: the web, or a local file for offline runs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Http(Url),
    File(PathBuf),
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedSource::Http(url) => f.write_str(url.as_str()),
            FeedSource::File(path) => write!(f, "file://{}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub id: FeedId,
    pub name: String,
    pub source: FeedSource,
    pub lang: Lang,
    pub interval: Duration,
    pub charset: Option<String>,
    pub backfill: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleMode {
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub mode: ConsoleMode,
    /// Empty: every relevant item.
    pub topics: Vec<TopicId>,
}

/// What quiet hours do to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietMode {
    /// Delivered at once, without a notification sound.
    Silence,
    /// Held until the quiet hours end.
    Defer,
}

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub quiet_mode: QuietMode,
    /// Topics whose alerts reach digest subscribers at once.
    pub digest_bypass: Vec<TopicId>,
    /// How many chats a platform's dispatcher sends to at once (one message each).
    pub max_in_flight: usize,
    /// This many alerts waiting for one chat are sent as one message.
    pub burst_min: usize,
}

#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub params: crate::events::EventParams,
    /// At most one "also reported by" follow-up per chat and event in this interval.
    pub follow_up_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api_url: Option<Url>,
    /// Operators: Telegram user ids allowed `/feeds`, `/addfeed`, `/removefeed`.
    pub admins: Vec<i64>,
    pub link_preview: bool,
    /// In groups, only chat admins may change the subscription.
    pub admins_only: bool,
    /// Where feed failures are reported (never to subscribers).
    pub admin_chat: Option<i64>,
    /// A feed failing this long is reported once to `admin_chat`.
    pub report_failing_after: Duration,
}

#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// Where REST requests go instead of Discord (a rate-limiting proxy, or a fake in
    /// tests); serenity's own rate limiter is then off and ours is the only one.
    pub api_url: Option<Url>,
    /// Operators: Discord user ids allowed `/feeds`, `/addfeed`, `/removefeed`.
    pub operators: Vec<u64>,
    /// In a server, only members who may manage the server or its channels change a
    /// channel's subscription.
    pub admins_only: bool,
    /// The channel where feed failures are reported (never to subscribers).
    pub admin_channel: Option<u64>,
    /// A command still running after this long is answered "thinking…" (deferred) and
    /// its reply edited in when done; `0s` defers every command. Below Discord's 3 s.
    pub defer_after: Duration,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub topics_file: PathBuf,
    /// The learned topic model (`chipwatch train`), if one is configured.
    pub model_file: Option<PathBuf>,
    pub user_agent: String,
    pub poll_interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    pub retention: Duration,
    pub allow_private_addresses: bool,
    pub time_zone: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Settings,
    pub console: ConsoleConfig,
    pub telegram: TelegramConfig,
    pub discord: DiscordConfig,
    pub events: EventsConfig,
    pub delivery: DeliveryConfig,
    pub feeds: Vec<FeedConfig>,
    /// The topic rules' text, read from `settings.topics_file`; compiled by `classify`.
    pub topics_toml: String,
    /// The learned model's JSON, read from `settings.model_file`; checked by `classify`.
    pub model_json: Option<String>,
}

impl Config {
    /// Reads and validates the file. `data_dir_override` is `CHIPWATCH_DATA_DIR`.
    pub fn load(path: &Path, data_dir_override: Option<PathBuf>) -> Result<Config, ConfigError> {
        let problem = |key: &str, message: String| ConfigProblem {
            file: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![problem("", format!("cannot read the file: {e}"))]))?;
        let raw: RawConfig = toml::from_str(&text)
            .map_err(|e| ConfigError(vec![problem("", one_line(&e.to_string()))]))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        validate(path, &base, raw, data_dir_override)
    }
}

/// toml's messages span several lines with a caret diagram; keep them but on one line each.
fn one_line(message: &str) -> String {
    message.trim().replace('\n', " | ")
}

fn validate(
    path: &Path,
    base: &Path,
    raw: RawConfig,
    data_dir_override: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut problem = |key: String, message: String| {
        problems.push(ConfigProblem {
            file: path.to_path_buf(),
            key,
            message,
        });
    };
    let s = raw.settings;
    if s.min_interval > s.max_interval {
        problem(
            "settings.min_interval".into(),
            "is greater than settings.max_interval".into(),
        );
    }
    for (key, value) in [
        ("concurrency", s.concurrency),
        ("per_host_concurrency", s.per_host_concurrency),
    ] {
        if value == 0 {
            problem(format!("settings.{key}"), "must be at least 1".into());
        }
    }
    if s.max_body_bytes < 1024 {
        problem(
            "settings.max_body_bytes".into(),
            "must be at least 1024".into(),
        );
    }
    let time_zone = s.time_zone.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
        problem(
            "settings.time_zone".into(),
            format!(
                "`{}` is not an IANA time zone such as Europe/Rome",
                s.time_zone
            ),
        );
        chrono_tz::Europe::Rome
    });
    let topics_file = base.join(&s.topics_file);
    let topics_toml = match std::fs::read_to_string(&topics_file) {
        Ok(text) => text,
        Err(e) => {
            problem(
                "settings.topics_file".into(),
                format!("cannot read {}: {e}", topics_file.display()),
            );
            String::new()
        }
    };
    let model_file = s.model_file.as_ref().map(|file| base.join(file));
    let model_json = model_file
        .as_ref()
        .and_then(|file| match std::fs::read_to_string(file) {
            Ok(text) => Some(text),
            Err(e) => {
                problem(
                    "settings.model_file".into(),
                    format!("cannot read {}: {e}", file.display()),
                );
                None
            }
        });

    let console_mode = match &raw.console.enabled {
        None => ConsoleMode::Auto,
        Some(toml::Value::Boolean(true)) => ConsoleMode::On,
        Some(toml::Value::Boolean(false)) => ConsoleMode::Off,
        Some(toml::Value::String(text)) if text == "auto" => ConsoleMode::Auto,
        Some(other) => {
            problem(
                "console.enabled".into(),
                format!("must be true, false or \"auto\", not {other}"),
            );
            ConsoleMode::Auto
        }
    };
    let mut console_topics = Vec::new();
    for (index, topic) in raw.console.topics.iter().enumerate() {
        match TopicId::parse(topic) {
            Ok(id) => console_topics.push(id),
            Err(e) => problem(format!("console.topics[{index}]"), e.to_string()),
        }
    }

    let api_url = match raw.telegram.api_url.as_deref().map(Url::parse) {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            problem("telegram.api_url".into(), format!("not a URL: {e}"));
            None
        }
    };

    let discord_api_url = match raw.discord.api_url.as_deref() {
        None => None,
        Some(text) => match discord_api_url(text) {
            Ok(url) => Some(url),
            Err(message) => {
                problem("discord.api_url".into(), message);
                None
            }
        },
    };
    let mut discord_operators = Vec::new();
    for (index, id) in raw.discord.operators.iter().enumerate() {
        match u64::try_from(*id) {
            Ok(id) if id > 0 => discord_operators.push(id),
            _ => problem(
                format!("discord.operators[{index}]"),
                format!("`{id}` is not a Discord user id (a positive number)"),
            ),
        }
    }
    let discord_admin_channel = match raw.discord.admin_channel {
        None => None,
        Some(id) => match u64::try_from(id) {
            Ok(id) if id > 0 => Some(id),
            _ => {
                problem(
                    "discord.admin_channel".into(),
                    format!("`{id}` is not a Discord channel id (a positive number)"),
                );
                None
            }
        },
    };

    if raw.discord.defer_after >= DISCORD_ANSWER_DEADLINE {
        problem(
            "discord.defer_after".into(),
            format!(
                "must be below {}s: Discord drops an interaction not answered within 3 s",
                DISCORD_ANSWER_DEADLINE.as_secs()
            ),
        );
    }

    if let Some(min_score) = raw.events.min_score
        && !(min_score > 0.0 && min_score < 1.0)
    {
        problem(
            "events.min_score".into(),
            "must be between 0 and 1 (a probability)".into(),
        );
    }
    if !(EVENT_WINDOW_RANGE.0..=EVENT_WINDOW_RANGE.1).contains(&raw.events.window) {
        problem(
            "events.window".into(),
            format!(
                "must be between {} and {} (real reports of one story spread over days)",
                humantime::format_duration(EVENT_WINDOW_RANGE.0),
                humantime::format_duration(EVENT_WINDOW_RANGE.1)
            ),
        );
    }
    let grouping_model = match &raw.events.model_file {
        None => crate::events::GroupingModel::built_in(),
        Some(file) => {
            let file = base.join(file);
            match std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    crate::events::GroupingModel::from_json(&text).map_err(|e| e.to_string())
                }) {
                Ok(model) => model,
                Err(error) => {
                    problem(
                        "events.model_file".into(),
                        format!("{}: {error}", file.display()),
                    );
                    crate::events::GroupingModel::built_in()
                }
            }
        }
    };
    let mut opposed_topics = Vec::new();
    for (index, [a, b]) in raw.events.opposed_topics.iter().enumerate() {
        match (TopicId::parse(a), TopicId::parse(b)) {
            (Ok(a), Ok(b)) => opposed_topics.push((a, b)),
            _ => problem(
                format!("events.opposed_topics[{index}]"),
                format!("`{a}`, `{b}`: not topic ids"),
            ),
        }
    }
    let quiet_mode = match raw.delivery.quiet_hours.as_str() {
        "silence" => QuietMode::Silence,
        "defer" => QuietMode::Defer,
        other => {
            problem(
                "delivery.quiet_hours".into(),
                format!("must be \"silence\" or \"defer\", not `{other}`"),
            );
            QuietMode::Silence
        }
    };
    let mut digest_bypass = Vec::new();
    for (index, topic) in raw.delivery.digest_bypass.iter().enumerate() {
        match TopicId::parse(topic) {
            Ok(id) => digest_bypass.push(id),
            Err(e) => problem(format!("delivery.digest_bypass[{index}]"), e.to_string()),
        }
    }
    if raw.delivery.max_in_flight == 0 {
        problem("delivery.max_in_flight".into(), "must be at least 1".into());
    }
    let raw_feed_count = raw.feeds.len();
    let mut feeds = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    for (index, feed) in raw.feeds.into_iter().enumerate() {
        let key = |field: &str| format!("feeds[{index}].{field}");
        let id = match FeedId::parse(&feed.id) {
            Ok(id) => Some(id),
            Err(e) => {
                problem(key("id"), e.to_string());
                None
            }
        };
        if !seen_ids.insert(feed.id.clone()) {
            problem(key("id"), format!("`{}` is used by another feed", feed.id));
        }
        if feed.name.trim().is_empty() {
            problem(key("name"), "may not be empty".into());
        }
        let source = match parse_source(&feed.url, base) {
            Ok(source) => Some(source),
            Err(message) => {
                problem(key("url"), message);
                None
            }
        };
        let lang = match feed.lang.as_deref() {
            None => Lang::It,
            Some(raw_lang) => Lang::parse(raw_lang).unwrap_or_else(|| {
                problem(
                    key("lang"),
                    format!("`{raw_lang}` is not a supported language (it, en)"),
                );
                Lang::It
            }),
        };
        if let Some(charset) = &feed.charset
            && encoding_rs::Encoding::for_label(charset.as_bytes()).is_none()
        {
            problem(
                key("charset"),
                format!("`{charset}` is not a known character set"),
            );
        }
        let interval = feed.interval.unwrap_or(s.poll_interval);
        if let (Some(id), Some(source)) = (id, source) {
            feeds.push(FeedConfig {
                id,
                name: feed.name,
                source,
                lang,
                interval,
                charset: feed.charset,
                backfill: feed.backfill.unwrap_or(s.backfill),
            });
        }
    }
    if feeds.is_empty() && raw_feed_count == 0 {
        problem(
            "feeds".into(),
            "no feed is configured: add at least one [[feeds]] table".into(),
        );
    }
    if !problems.is_empty() {
        return Err(ConfigError(problems));
    }

    let data_dir = data_dir_override.unwrap_or(s.data_dir);
    Ok(Config {
        path: path.to_path_buf(),
        settings: Settings {
            data_dir,
            topics_file,
            model_file,
            user_agent: s.user_agent,
            poll_interval: s.poll_interval,
            min_interval: s.min_interval,
            max_interval: s.max_interval,
            connect_timeout: s.connect_timeout,
            request_timeout: s.request_timeout,
            max_body_bytes: s.max_body_bytes,
            max_redirects: s.max_redirects,
            concurrency: s.concurrency,
            per_host_concurrency: s.per_host_concurrency,
            retention: s.retention,
            allow_private_addresses: s.allow_private_addresses,
            time_zone,
        },
        console: ConsoleConfig {
            mode: console_mode,
            topics: console_topics,
        },
        telegram: TelegramConfig {
            api_url,
            admins: raw.telegram.admins,
            link_preview: raw.telegram.link_preview,
            admins_only: raw.telegram.admins_only,
            admin_chat: raw.telegram.admin_chat,
            report_failing_after: raw.telegram.report_failing_after,
        },
        discord: DiscordConfig {
            api_url: discord_api_url,
            operators: discord_operators,
            admins_only: raw.discord.admins_only,
            admin_channel: discord_admin_channel,
            defer_after: raw.discord.defer_after,
        },
        events: EventsConfig {
            params: {
                let mut params = crate::events::EventParams::with_model(grouping_model);
                params.window = raw.events.window;
                if let Some(min_score) = raw.events.min_score {
                    params.min_score = min_score;
                }
                params.opposed_topics = opposed_topics;
                params
            },
            follow_up_interval: raw.events.follow_up_interval,
        },
        delivery: DeliveryConfig {
            quiet_mode,
            digest_bypass,
            max_in_flight: raw.delivery.max_in_flight,
            burst_min: raw.delivery.burst_min.max(2),
        },
        feeds,
        topics_toml,
        model_json,
    })
}

/// The base that replaces `https://discord.com` in REST URLs: http(s), a host, and
/// nothing after the path (serenity appends `/api/v10/…`).
fn discord_api_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{text}` must be an http or https URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{text}` may not have a query, a fragment or credentials"
        ));
    }
    Ok(url)
}

/// `http(s)://…` is fetched; `file://PATH` is read from disk, a relative PATH being taken
/// from the config file's folder so that a config works from any working directory.
fn parse_source(raw: &str, base: &Path) -> Result<FeedSource, String> {
    if let Some(path) = raw.strip_prefix("file://") {
        if path.is_empty() {
            return Err("a file:// URL needs a path".into());
        }
        return Ok(FeedSource::File(base.join(path)));
    }
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(FeedSource::Http(url)),
        "http" | "https" => Err(format!("`{raw}` has no host")),
        other => Err(format!(
            "scheme `{other}` is not supported (use http, https or file)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("topics.toml"), "").expect("write topics");
        let path = dir.path().join("chipwatch.toml");
        std::fs::write(&path, text).expect("write config");
        Config::load(&path, None)
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let err = load_text(
            r#"
            [settings]
            concurrency = 0
            [console]
            enabled = "loud"
            [[feeds]]
            id = "Bad Id"
            name = ""
            url = "ftp://example.org/feed"
            lang = "fr"
            "#,
        )
        .expect_err("invalid config");
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "settings.concurrency",
                "console.enabled",
                "feeds[0].id",
                "feeds[0].name",
                "feeds[0].url",
                "feeds[0].lang"
            ]
        );
        assert!(
            err.to_string()
                .contains("chipwatch.toml: feeds[0].url: scheme `ftp`")
        );
    }

    #[test]
    fn the_discord_section_is_checked_key_by_key() {
        let err = load_text(
            r#"
            [discord]
            api_url = "ftp://127.0.0.1:1"
            operators = [42, -1]
            admin_channel = 0
            defer_after = "3s"
            [[feeds]]
            id = "a"
            name = "A"
            url = "file://a.xml"
            "#,
        )
        .expect_err("invalid discord section");
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "discord.api_url",
                "discord.operators[1]",
                "discord.admin_channel",
                "discord.defer_after"
            ]
        );
        let config = load_text(
            r#"
            [discord]
            api_url = "http://127.0.0.1:8080"
            operators = [123456789012345678]
            admin_channel = 987654321098765432
            [[feeds]]
            id = "a"
            name = "A"
            url = "file://a.xml"
            "#,
        )
        .expect("valid discord section");
        assert_eq!(config.discord.operators, [123456789012345678]);
        assert_eq!(config.discord.admin_channel, Some(987654321098765432));
        assert!(config.discord.admins_only, "admins only by default");
        assert_eq!(config.discord.defer_after, Duration::from_secs(2));
        assert_eq!(
            config.discord.api_url.map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:8080/")
        );
    }

    #[test]
    fn a_misspelt_key_is_refused_with_its_line() {
        let err = load_text("[settings]\npoll_intervall = \"5m\"\n").expect_err("unknown key");
        let message = err.to_string();
        assert!(message.contains("poll_intervall"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_good_config_is_read_with_defaults_and_relative_files() {
        let config = load_text(
            r#"
            [[feeds]]
            id = "local"
            name = "Local fixture"
            url = "file://feeds/a.xml"
            interval = "90s"
            [[feeds]]
            id = "rhc"
            name = "Red Hot Cyber"
            url = "https://www.redhotcyber.com/feed/"
            "#,
        )
        .expect("valid config");
        assert_eq!(config.feeds.len(), 2);
        assert_eq!(config.feeds[0].interval, Duration::from_secs(90));
        assert_eq!(config.feeds[1].interval, Duration::from_secs(900));
        let FeedSource::File(path) = &config.feeds[0].source else {
            panic!("file source")
        };
        assert!(path.ends_with("feeds/a.xml") && path.is_absolute());
        assert_eq!(config.console.mode, ConsoleMode::Auto);
    }
}

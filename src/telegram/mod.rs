//! The only user of teloxide: connects with the token from the environment (to the
//! official Bot API, or the one in `telegram.api_url` / `TELOXIDE_API_URL`), registers the
//! command menu in Italian and English, answers commands through the command engine, and
//! sends alerts as a [`Notifier`](crate::notify::Notifier). No teloxide type leaves here.

mod errors;
mod notifier;
mod updates;

pub use notifier::{TelegramLimits, TelegramNotifier};

use crate::commands::Engine;
use crate::config::TelegramConfig;
use crate::domain::{ChatRef, Platform};
use crate::secrets::redact;
use crate::store::Store;
use std::sync::Arc;
use teloxide::dispatching::{DefaultKey, Dispatcher, UpdateFilterExt};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::BotCommand;
use tokio_util::sync::CancellationToken;

/// What the update handlers share.
pub struct Context {
    pub engine: Arc<Engine>,
    pub store: Store,
    pub operators: Vec<i64>,
    pub admins_only: bool,
    pub username: String,
    pub bot_id: UserId,
}

impl Context {
    /// A group became a supergroup: its subscription moves to the new id.
    async fn migrate(&self, from: i64, to: i64) {
        let old = ChatRef {
            platform: Platform::Telegram,
            id: from,
            thread: None,
        };
        let mut new = old.clone();
        new.id = to;
        let moved = async {
            if let Some(mut subscription) = self.store.subscription(&old)? {
                subscription.chat = new.clone();
                self.store.put_subscription(&subscription).await?;
                self.store.remove_subscription(&old).await?;
            }
            self.store.move_deliveries(&old, &new).await
        };
        match moved.await {
            Ok(_) => tracing::info!(
                from,
                to,
                "group migrated to a supergroup; subscription moved"
            ),
            Err(error) => {
                tracing::error!(from, to, %error, "cannot move the migrated group's subscription")
            }
        }
    }
}

pub struct Telegram {
    bot: Bot,
    context: Arc<Context>,
}

/// Where the Bot API lives: config first, then `TELOXIDE_API_URL`, else the official one.
fn api_url(config: &TelegramConfig) -> anyhow::Result<Option<url::Url>> {
    if let Some(url) = &config.api_url {
        return Ok(Some(url.clone()));
    }
    match std::env::var("TELOXIDE_API_URL") {
        Ok(raw) if !raw.trim().is_empty() => {
            Ok(Some(url::Url::parse(raw.trim()).map_err(|e| {
                anyhow::anyhow!("TELOXIDE_API_URL is not a URL: {e}")
            })?))
        }
        _ => Ok(None),
    }
}

impl Telegram {
    /// Checks the token with getMe (a wrong token stops the start with a clear message
    /// rather than failing every delivery) and registers the command menu.
    pub async fn connect(
        token: &str,
        config: &TelegramConfig,
        engine: Arc<Engine>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let mut bot = Bot::new(token);
        if let Some(url) = api_url(config)? {
            bot = bot.set_api_url(url);
        }
        let me = get_me(&bot).await?;
        tracing::info!(username = me.username(), "connected to Telegram");
        register_commands(&bot).await;
        let context = Context {
            engine,
            store,
            operators: config.admins.clone(),
            admins_only: config.admins_only,
            username: me.username().to_string(),
            bot_id: me.user.id,
        };
        Ok(Self {
            bot,
            context: Arc::new(context),
        })
    }

    /// A notifier alone, without the update loop: for tools and benchmarks that only send.
    pub fn notifier_at(
        token: &str,
        api_url: url::Url,
        store: Store,
        zone: chrono_tz::Tz,
        limits: TelegramLimits,
    ) -> TelegramNotifier {
        TelegramNotifier::new(
            Bot::new(token).set_api_url(api_url),
            store,
            zone,
            false,
            limits,
        )
    }

    pub fn notifier(
        &self,
        zone: chrono_tz::Tz,
        link_preview: bool,
        limits: TelegramLimits,
    ) -> TelegramNotifier {
        TelegramNotifier::new(
            self.bot.clone(),
            self.context.store.clone(),
            zone,
            link_preview,
            limits,
        )
    }

    /// Answers updates until `shutdown`, then stops teloxide's dispatcher cleanly.
    pub async fn run(self, shutdown: CancellationToken) {
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(updates::on_message))
            .branch(Update::filter_channel_post().endpoint(updates::on_channel_post))
            .branch(Update::filter_callback_query().endpoint(updates::on_callback));
        let mut dispatcher: Dispatcher<Bot, teloxide::RequestError, DefaultKey> =
            Dispatcher::builder(self.bot, handler)
                .dependencies(dptree::deps![self.context])
                .default_handler(|_| async {})
                .error_handler(LoggingErrorHandler::with_custom_text(
                    "a Telegram update handler failed",
                ))
                .build();
        let token = dispatcher.shutdown_token();
        let mut task = tokio::spawn(async move { dispatcher.dispatch().await });
        tokio::select! {
            _ = &mut task => tracing::warn!("the Telegram dispatcher stopped by itself"),
            () = shutdown.cancelled() => {
                match token.shutdown() {
                    Ok(stopped) => stopped.await,
                    // Not yet running: nothing to wait for.
                    Err(_) => task.abort(),
                }
                let _ = task.await;
            }
        }
        tracing::info!("telegram stopped");
    }
}

/// The waits between attempts to reach Telegram at start: a network blip at boot (DNS,
/// a timeout, a proxy's 5xx) must not leave a container dead. About four minutes in all.
const START_RETRIES: [std::time::Duration; 8] = {
    use std::time::Duration;
    [
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(4),
        Duration::from_secs(8),
        Duration::from_secs(16),
        Duration::from_secs(30),
        Duration::from_secs(60),
        Duration::from_secs(120),
    ]
};

/// getMe, retried with back-off while Telegram cannot be reached; only Telegram's own
/// "Unauthorized"/"Not Found" for the token is a token error, and it is not retried.
async fn get_me(bot: &Bot) -> anyhow::Result<teloxide::types::Me> {
    let mut waits = START_RETRIES.iter();
    loop {
        let error = match bot.get_me().await {
            Ok(me) => return Ok(me),
            Err(error) => error,
        };
        let detail = redact(&error.to_string());
        if matches!(
            error,
            teloxide::RequestError::Api(teloxide::ApiError::InvalidToken)
        ) {
            anyhow::bail!(
                "Telegram did not accept the bot token (getMe: {detail}): check TELOXIDE_TOKEN"
            );
        }
        match waits.next() {
            Some(wait) => {
                tracing::warn!(error = %detail, retry_in = ?wait, "cannot reach Telegram (getMe failed); retrying");
                tokio::time::sleep(*wait).await;
            }
            None => anyhow::bail!(
                "cannot reach Telegram (getMe failed {} times, the last: {detail}); the token was not checked",
                START_RETRIES.len() + 1
            ),
        }
    }
}

/// The command menu, in English by default and in Italian for Italian clients.
async fn register_commands(bot: &Bot) {
    let menu = |lang: &str| -> Vec<BotCommand> {
        let italian = lang == "it";
        let entries: [(&str, &str, &str); 14] = [
            (
                "start",
                "Start or resume alerts",
                "Avvia o riprendi gli avvisi",
            ),
            ("help", "How to use the bot", "Come usare il bot"),
            ("subscribe", "Follow topics", "Segui dei temi"),
            (
                "unsubscribe",
                "Stop following topics",
                "Smetti di seguire dei temi",
            ),
            (
                "list",
                "This chat's subscription",
                "L'iscrizione di questa chat",
            ),
            ("topics", "Topics you can follow", "I temi che puoi seguire"),
            ("recent", "Latest events", "Gli ultimi eventi"),
            (
                "event",
                "One event and its sources",
                "Un evento e le sue fonti",
            ),
            ("search", "Search events", "Cerca negli eventi"),
            ("keywords", "Extra keywords", "Parole chiave in più"),
            (
                "mode",
                "Instant alerts or daily digest",
                "Avvisi subito o riepilogo giornaliero",
            ),
            ("quiet", "Silent hours", "Ore di silenzio"),
            ("lang", "Language: it or en", "Lingua: it o en"),
            (
                "status",
                "Feeds and delivery health",
                "Stato di fonti e consegne",
            ),
        ];
        entries
            .iter()
            .map(|(name, en, it)| BotCommand::new(*name, if italian { *it } else { *en }))
            .collect()
    };
    if let Err(error) = bot.set_my_commands(menu("en")).await {
        tracing::warn!(error = %redact(&error.to_string()), "cannot register the command menu");
    }
    if let Err(error) = bot.set_my_commands(menu("it")).language_code("it").await {
        tracing::warn!(error = %redact(&error.to_string()), "cannot register the Italian command menu");
    }
}

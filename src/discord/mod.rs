//! The only user of serenity: connects with the token from the environment (REST to
//! Discord, or through `discord.api_url` with serenity's rate limiter off), checks the
//! token, answers slash commands and topic buttons from the gateway through the command
//! engine, and sends alerts as a [`Notifier`](crate::notify::Notifier). No serenity type
//! leaves here.

mod answer;
mod commands;
mod errors;
mod interactions;
mod limits;
mod notifier;

pub use limits::DiscordLimits;
pub use notifier::DiscordNotifier;

use crate::commands::Engine;
use crate::config::DiscordConfig;
use crate::secrets::redact;
use crate::store::Store;
use serenity::all::{Client, GatewayIntents, HttpBuilder};
use serenity::http::Http;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the gateway gets to close after a shutdown signal.
const GATEWAY_SHUTDOWN: Duration = Duration::from_secs(5);

pub struct Discord {
    client: Client,
    http: Arc<Http>,
    rest: reqwest::Client,
    store: Store,
}

/// A serenity error as one line, its causes included, with the token redacted.
fn describe(error: &serenity::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        // serenity's error names its inner error as its source: say each once.
        let part = cause.to_string();
        if parts.last() != Some(&part) {
            parts.push(part);
        }
        source = cause.source();
    }
    redact(&parts.join(": "))
}

impl Discord {
    /// Checks the token (`GET /users/@me`: a wrong token stops the start with a clear
    /// message rather than failing every delivery) and prepares the gateway client.
    pub async fn connect(
        token: &str,
        config: &DiscordConfig,
        engine: Arc<Engine>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let rest = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the Discord HTTP client: {e}"))?;
        let mut builder = HttpBuilder::new(token).client(rest.clone());
        if let Some(url) = &config.api_url {
            // serenity ignores a proxy unless its own rate limiter is off; the notifier's
            // limits apply either way.
            builder = builder
                .proxy(url.as_str().trim_end_matches('/'))
                .ratelimiter_disabled(true);
        }
        let http = builder.build();
        let me = http.get_current_user().await.map_err(|error| {
            let unauthorized = matches!(
                &error,
                serenity::Error::Http(e) if e.status_code().map(|s| s.as_u16()) == Some(401)
            );
            if unauthorized {
                anyhow::anyhow!(
                    "Discord did not accept the bot token (GET /users/@me answered 401 Unauthorized): check DISCORD_TOKEN"
                )
            } else {
                anyhow::anyhow!(
                    "cannot check the Discord bot token (GET /users/@me failed): {}",
                    describe(&error)
                )
            }
        })?;
        tracing::info!(user = %me.name, id = %me.id, "connected to Discord");
        let handler = interactions::Handler {
            engine,
            operators: config.operators.clone(),
            admins_only: config.admins_only,
            defer_after: config.defer_after,
            registered: std::sync::atomic::AtomicBool::new(false),
        };
        // Interactions reach a bot whatever its intents: it needs none.
        let client = serenity::all::ClientBuilder::new_with_http(http, GatewayIntents::empty())
            .event_handler(handler)
            .await
            .map_err(|e| anyhow::anyhow!("cannot set up the Discord client: {}", describe(&e)))?;
        let http = client.http.clone();
        Ok(Self {
            client,
            http,
            rest,
            store,
        })
    }

    pub fn notifier(&self, zone: chrono_tz::Tz, limits: DiscordLimits) -> DiscordNotifier {
        DiscordNotifier::new(
            self.http.clone(),
            self.rest.clone(),
            self.store.clone(),
            zone,
            limits,
        )
    }

    /// Runs the gateway until `shutdown`, then closes every shard and waits (bounded)
    /// for the client to stop.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let shards = self.client.shard_manager.clone();
        let mut task = tokio::spawn(async move { self.client.start().await });
        tokio::select! {
            result = &mut task => match result {
                Ok(Ok(())) => tracing::warn!("the Discord gateway stopped by itself"),
                Ok(Err(error)) => tracing::error!(error = %describe(&error), "the Discord gateway failed"),
                Err(error) => tracing::error!(%error, "the Discord gateway task failed"),
            },
            () = shutdown.cancelled() => {
                shards.shutdown_all().await;
                if tokio::time::timeout(GATEWAY_SHUTDOWN, &mut task).await.is_err() {
                    tracing::warn!("the Discord gateway did not close in time; abandoning it");
                    task.abort();
                }
            }
        }
        tracing::info!("discord stopped");
    }
}

//! Sending alerts to Discord channels: rendered per channel (language, quiet hours) as
//! embeds (or plain content, for the retry after a refused form), never able to ping
//! (`allowed_mentions` parses nothing), follow-ups replying to the first alert, within
//! Discord's limits enforced before each send, every answer sorted by `errors`.

use super::errors::{classify_answer, classify_network, is_global_limit};
use super::limits::{DiscordLimits, Limiters};
use crate::delivery::Group;
use crate::domain::{ChatRef, DeliveryKind, Platform};
use crate::notify::{Notifier, Receipt, SendError, chat_settings, group_doc};
use crate::render::Doc;
use crate::render::discord::{self as markdown, Embed, MAX_CONTENT};
use crate::store::Store;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use serenity::builder::{CreateAllowedMentions, CreateEmbed, CreateMessage};
use serenity::http::{Http, LightMethod, Request, Route};
use serenity::model::channel::{MessageFlags, MessageReference, MessageReferenceKind};
use serenity::model::id::{ChannelId, MessageId};
use std::sync::Arc;

/// Nobody is ever pinged by what chipwatch posts: no `@everyone`, role or user mention,
/// not even the author of a message it replies to.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

#[derive(Clone)]
pub struct DiscordNotifier {
    http: Arc<Http>,
    /// The client serenity's `Http` sends with, used to send messages ourselves so that a
    /// 429's `Retry-After` header is read (serenity's error keeps only the body).
    client: reqwest::Client,
    store: Store,
    zone: Tz,
    limiters: Arc<Limiters>,
}

/// A channel id that serenity accepts (non-zero), or the reason the chat cannot be one.
fn channel_id(chat: &ChatRef) -> Result<ChannelId, SendError> {
    u64::try_from(chat.id)
        .ok()
        .filter(|id| *id > 0)
        .map(ChannelId::new)
        .ok_or_else(|| SendError::Permanent(format!("{chat} is not a Discord channel id")))
}

fn create_embed(embed: Embed) -> CreateEmbed {
    let mut out = CreateEmbed::new().description(embed.description);
    if let Some(title) = embed.title {
        out = out.title(title);
    }
    if let Some(url) = embed.url {
        out = out.url(url);
    }
    out.fields(embed.fields.into_iter().map(|f| (f.name, f.value, false)))
}

impl DiscordNotifier {
    pub fn new(
        http: Arc<Http>,
        client: reqwest::Client,
        store: Store,
        zone: Tz,
        limits: DiscordLimits,
    ) -> Self {
        Self {
            http,
            client,
            store,
            zone,
            limiters: Arc::new(Limiters::new(limits)),
        }
    }

    /// The messages of one delivery: one embed each, or, for the retry after Discord
    /// refused the form, plain content.
    fn messages(&self, doc: &Doc, plain_text: bool) -> Vec<CreateMessage> {
        if plain_text {
            markdown::plain_chunks(doc, MAX_CONTENT)
                .into_iter()
                .map(|content| CreateMessage::new().content(content))
                .collect()
        } else {
            markdown::embeds(doc)
                .into_iter()
                .map(|embed| CreateMessage::new().embed(create_embed(embed)))
                .collect()
        }
    }

    async fn send_group(&self, group: &Group) -> Result<Receipt, SendError> {
        // A group is never empty: `delivery::plan` makes each from at least one delivery.
        let delivery = &group.deliveries[0];
        let chat = &delivery.chat;
        let channel = channel_id(chat)?;
        let (lang, quiet) = chat_settings(&self.store, chat, self.zone);
        let doc = group_doc(group, lang, self.zone);
        let reply_to = match (&delivery.kind, &delivery.event) {
            (DeliveryKind::FollowUp { .. }, Some(event)) => self
                .store
                .event_delivery(event, chat)
                .ok()
                .flatten()
                .and_then(|r| r.first_message_id)
                .and_then(|id| u64::try_from(id).ok())
                .filter(|id| *id > 0),
            _ => None,
        };
        let mut first_message = None;
        for mut message in self.messages(&doc, delivery.plain_text) {
            message = message.allowed_mentions(no_mentions());
            if quiet {
                message = message.flags(MessageFlags::SUPPRESS_NOTIFICATIONS);
            }
            if let Some(id) = reply_to {
                let mut reference = MessageReference::new(MessageReferenceKind::Default, channel);
                reference.message_id = Some(MessageId::new(id));
                // The first alert may have been deleted: the follow-up still goes.
                reference.fail_if_not_exists = Some(false);
                message = message.reference_message(reference);
            }
            self.limiters.until_ready(channel.get()).await;
            let id = self.post(channel, &message).await?;
            first_message.get_or_insert(id);
        }
        Ok(Receipt {
            message_id: first_message.flatten(),
        })
    }

    /// `POST /channels/{id}/messages` through serenity's route and authorisation, on
    /// the same client; returns the new message's id.
    async fn post(
        &self,
        channel: ChannelId,
        message: &CreateMessage,
    ) -> Result<Option<i64>, SendError> {
        let body = serde_json::to_vec(message)
            .map_err(|e| SendError::Malformed(format!("cannot encode the message: {e}")))?;
        let request = Request::new(
            Route::ChannelMessages {
                channel_id: channel,
            },
            LightMethod::Post,
        )
        .body(Some(body))
        .build(&self.client, self.http.token(), self.http.proxy.as_deref())
        .map_err(|e| SendError::Transient(crate::secrets::redact(&e.to_string())))?;
        let response = request.send().await.map_err(|e| classify_network(&e))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (retry_after, global, scope) = (
            header("retry-after"),
            header("x-ratelimit-global"),
            header("x-ratelimit-scope"),
        );
        let body = response.bytes().await.map_err(|e| classify_network(&e))?;
        if !status.is_success() {
            let error = classify_answer(status.as_u16(), retry_after.as_deref(), &body);
            if let SendError::RetryAfter(wait) = &error
                && is_global_limit(status.as_u16(), global.as_deref(), scope.as_deref(), &body)
            {
                // Every request of the bot is refused meanwhile: no channel may try.
                tracing::warn!(?wait, "Discord's global rate limit: every channel waits");
                self.limiters.pause_all(*wait);
            }
            return Err(error);
        }
        // Discord sends ids as strings; a missing id only loses the reply threading.
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        Ok(sent["id"].as_str().and_then(|id| id.parse::<i64>().ok()))
    }
}

impl Notifier for DiscordNotifier {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(self.send_group(group))
    }
}

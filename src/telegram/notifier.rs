//! Sending alerts to Telegram: rendered per chat (language, quiet hours), within Telegram's
//! limits enforced before each send (30 messages/s overall, 1/s per chat, 20/min per
//! group), with every platform error sorted into what the dispatcher must do.

use super::errors::classify_error;
use crate::delivery::Group;
use crate::domain::{DeliveryKind, Platform};
use crate::notify::{Notifier, Receipt, SendError, chat_settings, even_quota, group_doc};
use crate::render::{self, telegram};
use crate::store::Store;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, RateLimiter};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{LinkPreviewOptions, MessageId, ParseMode, ReplyParameters, ThreadId};

/// Telegram's documented limits, as quotas.
#[derive(Debug, Clone, Copy)]
pub struct TelegramLimits {
    pub global_per_second: u32,
    pub per_chat_per_second: u32,
    pub per_group_per_minute: u32,
}

impl Default for TelegramLimits {
    fn default() -> Self {
        Self {
            global_per_second: 30,
            per_chat_per_second: 1,
            per_group_per_minute: 20,
        }
    }
}

struct Limiters {
    global: DefaultDirectRateLimiter,
    per_chat: DefaultKeyedRateLimiter<i64>,
    per_group: DefaultKeyedRateLimiter<i64>,
}

impl Limiters {
    fn new(limits: TelegramLimits) -> Self {
        Self {
            global: RateLimiter::direct(even_quota(
                limits.global_per_second,
                Duration::from_secs(1),
            )),
            per_chat: RateLimiter::keyed(even_quota(
                limits.per_chat_per_second,
                Duration::from_secs(1),
            )),
            per_group: RateLimiter::keyed(even_quota(
                limits.per_group_per_minute,
                Duration::from_secs(60),
            )),
        }
    }

    /// Waits until one more message to `chat` is within every limit.
    async fn until_ready(&self, chat: i64) {
        self.per_chat.until_key_ready(&chat).await;
        // Group, supergroup and channel ids are negative.
        if chat < 0 {
            self.per_group.until_key_ready(&chat).await;
        }
        self.global.until_ready().await;
    }
}

#[derive(Clone)]
pub struct TelegramNotifier {
    bot: Bot,
    store: Store,
    zone: Tz,
    link_preview: bool,
    limiters: Arc<Limiters>,
}

impl TelegramNotifier {
    pub fn new(
        bot: Bot,
        store: Store,
        zone: Tz,
        link_preview: bool,
        limits: TelegramLimits,
    ) -> Self {
        Self {
            bot,
            store,
            zone,
            link_preview,
            limiters: Arc::new(Limiters::new(limits)),
        }
    }

    async fn send_group(&self, group: &Group) -> Result<Receipt, SendError> {
        // A group is never empty: `delivery::plan` makes each from at least one delivery.
        let delivery = &group.deliveries[0];
        let chat = &delivery.chat;
        let (lang, quiet) = chat_settings(&self.store, chat, self.zone);
        let doc = group_doc(group, lang, self.zone);
        let chunks = if delivery.plain_text {
            // The retry after Telegram refused our HTML: the same words, no markup.
            vec![render::truncate(&doc.plain(), telegram::MAX_MESSAGE)]
        } else {
            telegram::html_chunks(&doc, telegram::MAX_MESSAGE)
        };
        let reply_to = match (&delivery.kind, &delivery.event) {
            (DeliveryKind::FollowUp { .. }, Some(event)) => self
                .store
                .event_delivery(event, chat)
                .ok()
                .flatten()
                .and_then(|r| r.first_message_id),
            _ => None,
        };
        let mut first_message = None;
        for chunk in chunks {
            self.limiters.until_ready(chat.id).await;
            let mut request = self
                .bot
                .send_message(ChatId(chat.id), chunk)
                .disable_notification(quiet)
                .link_preview_options(LinkPreviewOptions {
                    is_disabled: !self.link_preview,
                    url: None,
                    prefer_small_media: false,
                    prefer_large_media: false,
                    show_above_text: false,
                });
            if !delivery.plain_text {
                request = request.parse_mode(ParseMode::Html);
            }
            if let Some(thread) = chat.thread {
                request = request.message_thread_id(ThreadId(MessageId(thread as i32)));
            }
            if let Some(message_id) = reply_to {
                request = request.reply_parameters(
                    ReplyParameters::new(MessageId(message_id as i32))
                        .allow_sending_without_reply(),
                );
            }
            let sent = request.await.map_err(classify_error)?;
            first_message.get_or_insert(i64::from(sent.id.0));
        }
        Ok(Receipt {
            message_id: first_message,
        })
    }
}

impl Notifier for TelegramNotifier {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(self.send_group(group))
    }
}

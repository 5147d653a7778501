//! The seam between delivery and the chat platforms: a [`Notifier`] sends one delivery
//! and says how it went, with platform errors already sorted into what the dispatcher
//! must do about them; and what every platform's notifier does before its own rendering
//! (the chat's language and quiet hours, the message's document).

use crate::delivery::{Group, GroupKind};
use crate::domain::{ChatRef, Delivery, DeliveryKind, Lang, Platform};
use crate::render::{self, Doc, Span};
use crate::store::Store;
use chrono::Timelike;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use governor::Quota;
use std::num::NonZeroU32;
use std::time::Duration;

/// What the platform answered when it accepted a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Blocked, kicked, chat gone, no rights: the subscription must be deactivated.
    #[error("permanent: {0}")]
    Permanent(String),
    /// The platform asked us to wait this long.
    #[error("rate limited for {0:?}")]
    RetryAfter(Duration),
    /// Network trouble or a 5xx: retry with back-off.
    #[error("transient: {0}")]
    Transient(String),
    /// The platform refused the message itself (bad markup): retry once as plain text.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The group became a supergroup with this id (Telegram).
    #[error("chat migrated to {0}")]
    Migrated(i64),
}

/// A platform that can deliver one message: a single alert, a burst of alerts for one
/// chat, or a chat's digest (see `delivery::plan`).
pub trait Notifier: Send + Sync {
    fn platform(&self) -> Platform;
    fn send<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<Receipt, SendError>>;
}

/// The chat's language and whether its quiet hours are on now (Italian and not quiet for
/// a chat with no subscription). What every platform asks before it renders.
pub fn chat_settings(store: &Store, chat: &ChatRef, zone: Tz) -> (Lang, bool) {
    let Ok(Some(subscription)) = store.subscription(chat) else {
        return (Lang::It, false);
    };
    let local = crate::clock::now().with_timezone(&zone);
    let minute = (local.hour() * 60 + local.minute()) as u16;
    let quiet = subscription.quiet.is_some_and(|q| q.contains(minute));
    (subscription.lang, quiet)
}

/// The document of one planned message, the same on every platform: a single alert (with
/// its `/event` command), a follow-up or feed report, a burst, or a digest.
pub fn group_doc(group: &Group, lang: Lang, zone: Tz) -> Doc {
    let alerts: Vec<_> = group
        .deliveries
        .iter()
        .map(|d| (&d.alert, d.event.as_ref()))
        .collect();
    match group.kind {
        GroupKind::Single => delivery_doc(&group.deliveries[0], lang, zone),
        GroupKind::Burst => render::burst_doc(&alerts, lang),
        GroupKind::Digest => render::digest_doc(&alerts, lang),
    }
}

fn delivery_doc(delivery: &Delivery, lang: Lang, zone: Tz) -> Doc {
    match &delivery.kind {
        DeliveryKind::Alert => {
            let mut doc = render::alert_doc(&delivery.alert, lang, zone);
            if let Some(event) = &delivery.event {
                doc.push(vec![Span::Code(format!("/event {event}"))]);
            }
            doc
        }
        DeliveryKind::FeedFailing { since } => {
            render::feed_failing_doc(&delivery.alert, *since, zone)
        }
        DeliveryKind::FollowUp { outlets, sources } => render::follow_up_doc(
            &delivery.alert,
            delivery.event.as_ref(),
            outlets,
            *sources,
            lang,
        ),
    }
}

/// `count` messages per `window`, evenly spaced with no burst and 3% to spare: a burst at
/// the full rate would put more than `count` messages into some window of the platform's
/// own counting, and jitter on the way must not tip a message over. Every platform's
/// limits before sending are built from these quotas.
pub fn even_quota(count: u32, window: Duration) -> Quota {
    let period = window.mul_f64(1.03) / count.max(1);
    Quota::with_period(period.max(Duration::from_micros(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN)
}

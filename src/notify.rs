//! The seam between delivery and the chat platforms: a [`Notifier`] sends one delivery
//! and says how it went, with platform errors already sorted into what the dispatcher
//! must do about them.

use crate::delivery::Group;
use crate::domain::Platform;
use futures_util::future::BoxFuture;
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

//! Where an alert goes: a platform and a chat on it.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Console,
    Telegram,
    Discord,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
        }
    }
}

/// A chat on a platform. `thread` is the forum topic (Telegram `message_thread_id`) or
/// Discord thread the subscription was made in, if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChatRef {
    pub platform: Platform,
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<i64>,
}

impl ChatRef {
    pub fn console() -> Self {
        Self {
            platform: Platform::Console,
            id: 0,
            thread: None,
        }
    }

    /// The key under which this chat's subscription is stored: the platform, the chat, the
    /// thread. Big-endian so that one chat's threads sort together.
    pub fn key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(1 + 8 + 8);
        key.push(self.platform as u8);
        key.extend_from_slice(&self.id.to_be_bytes());
        key.extend_from_slice(&self.thread.unwrap_or(0).to_be_bytes());
        key
    }
}

impl fmt::Display for ChatRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.thread {
            Some(thread) => write!(f, "{}:{}/{}", self.platform.as_str(), self.id, thread),
            None => write!(f, "{}:{}", self.platform.as_str(), self.id),
        }
    }
}

//! Telegram's errors → what the dispatcher must do. The texts are redacted: a network
//! error quotes the request URL, which holds the bot token.

use crate::notify::SendError;
use crate::secrets::redact;
use std::time::Duration;
use teloxide::{ApiError, RequestError};

pub fn classify_error(error: RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(seconds) => {
            SendError::RetryAfter(seconds.duration().max(Duration::from_secs(1)))
        }
        RequestError::MigrateToChatId(chat) => SendError::Migrated(chat.0),
        RequestError::Api(api) => classify_api_error(api),
        RequestError::Network(error) => SendError::Transient(redact(&format!(
            "network: {}",
            error.as_ref().without_url_string()
        ))),
        other => SendError::Transient(redact(&other.to_string())),
    }
}

/// `reqwest::Error` without its URL, as text.
trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<telegram api>");
        }
        text
    }
}

fn classify_api_error(error: ApiError) -> SendError {
    let text = redact(&error.to_string());
    match error {
        ApiError::BotBlocked
        | ApiError::ChatNotFound
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::UserDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::NotEnoughRightsToPostMessages
        | ApiError::GroupDeactivated => SendError::Permanent(text),
        ApiError::CantParseEntities(_)
        | ApiError::MessageTextIsEmpty
        | ApiError::MessageIsTooLong => SendError::Malformed(text),
        ApiError::Unknown(description) => {
            let lower = description.to_lowercase();
            if lower.starts_with("forbidden")
                || lower.contains("chat not found")
                || lower.contains("have no rights")
            {
                SendError::Permanent(redact(&description))
            } else if lower.contains("can't parse")
                || lower.contains("too long")
                || lower.contains("entities")
            {
                SendError::Malformed(redact(&description))
            } else if lower.starts_with("bad request") {
                // A request Telegram will never accept as it is: retried once as plain
                // text, then recorded as a dead letter rather than retried forever.
                SendError::Malformed(redact(&description))
            } else {
                SendError::Transient(redact(&description))
            }
        }
        _ => SendError::Transient(text),
    }
}

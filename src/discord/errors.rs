//! Discord's answers → what the dispatcher must do. Only errors about one channel
//! (no access, no permission, unknown channel, a user who takes no DMs) deactivate a
//! subscription; a refused token, a proxy's own refusal or a 5xx never do. Every text
//! returned is redacted: an error may quote a URL or a header.

use crate::notify::SendError;
use crate::secrets::redact;
use serde::Deserialize;
use std::time::Duration;

/// Missing Access: the bot cannot see the channel (removed from the server, hidden).
pub const MISSING_ACCESS: i64 = 50001;
/// Missing Permissions: the bot may see the channel but not post (or embed) there.
pub const MISSING_PERMISSIONS: i64 = 50013;
pub const UNKNOWN_CHANNEL: i64 = 10003;
/// Cannot send messages to this user (DMs closed, or no server in common).
pub const CANNOT_MESSAGE_USER: i64 = 50007;
/// Invalid Form Body: Discord refused the message itself.
pub const INVALID_FORM_BODY: i64 = 50035;

/// The longest wait a 429 may ask for before it is taken as a fault and capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The JSON body of a Discord error (or 429) answer; every field optional, since a proxy
/// may answer with anything.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
    retry_after: Option<f64>,
    global: Option<bool>,
}

/// How long a 429 asks us to wait: the body's `retry_after` (seconds, fractional), else
/// the `Retry-After` header, else one second.
fn retry_after(body: &ErrorBody, header: Option<&str>) -> Duration {
    let seconds = body
        .retry_after
        .or_else(|| header.and_then(|h| h.trim().parse::<f64>().ok()))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64()))
}

/// Sorts an unsuccessful answer (status, `Retry-After` header, body) into a [`SendError`].
pub fn classify_answer(status: u16, retry_after_header: Option<&str>, body: &[u8]) -> SendError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = parsed.code.unwrap_or(0);
    let message = parsed
        .message
        .clone()
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let text = redact(&format!("Discord {status} (code {code}): {message}"));
    match (status, code) {
        (429, _) => SendError::RetryAfter(retry_after(&parsed, retry_after_header)),
        (_, MISSING_ACCESS | MISSING_PERMISSIONS | UNKNOWN_CHANNEL | CANNOT_MESSAGE_USER) => {
            SendError::Permanent(text)
        }
        (401, _) => {
            // The token was revoked or reset: every send fails alike, and no subscription
            // is at fault. Retried with back-off; an operator must fix the token.
            tracing::error!(error = %text, "Discord refused the bot token; check DISCORD_TOKEN");
            SendError::Transient(text)
        }
        (_, INVALID_FORM_BODY) | (400, _) => SendError::Malformed(text),
        _ => SendError::Transient(text),
    }
}

/// Whether a 429 is Discord's global limit (every request of the bot must wait, not
/// only this channel's): `"global": true` in the body, or the `X-RateLimit-Global` or
/// `X-RateLimit-Scope: global` header.
pub fn is_global_limit(
    status: u16,
    global_header: Option<&str>,
    scope_header: Option<&str>,
    body: &[u8],
) -> bool {
    if status != 429 {
        return false;
    }
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    parsed.global == Some(true)
        || global_header.is_some_and(|h| h.trim().eq_ignore_ascii_case("true"))
        || scope_header.is_some_and(|h| h.trim().eq_ignore_ascii_case("global"))
}

/// Discord's "Interaction has already been acknowledged".
const ALREADY_ACKNOWLEDGED: isize = 40060;

/// Whether Discord refused an interaction answer for what it said (a 400, not "already
/// answered"): another answer may still go. An expired interaction (404 10062), a 5xx or
/// a network error leave nothing to retry within the 3 s.
pub fn answer_refused(error: &serenity::Error) -> bool {
    match error {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(response)) => {
            response.status_code.as_u16() == 400 && response.error.code != ALREADY_ACKNOWLEDGED
        }
        // serenity's own checks (content too long, too many embeds) before sending.
        serenity::Error::Model(_) => true,
        _ => false,
    }
}

/// A request that got no answer (connection refused, timeout): retried with back-off.
/// The URL is left out: it may hold a proxy's credentials.
pub fn classify_network(error: &reqwest::Error) -> SendError {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<discord api>");
    }
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "network"
    };
    SendError::Transient(redact(&format!("{kind}: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, header: Option<&str>, body: &str, expected: SendError) {
        assert_eq!(
            classify_answer(status, header, body.as_bytes()),
            expected,
            "{status} {body}"
        );
    }

    #[test]
    fn each_answer_maps_to_what_the_dispatcher_must_do() {
        let retry = |s: f64| SendError::RetryAfter(Duration::from_secs_f64(s));
        check(
            429,
            Some("3"),
            r#"{"message":"You are being rate limited.","retry_after":2.5,"global":false}"#,
            retry(2.5),
        );
        check(429, Some("3"), "", retry(3.0));
        check(429, None, "not json", retry(1.0));
        check(429, None, r#"{"retry_after":-4}"#, retry(1.0));
        check(
            403,
            None,
            r#"{"message":"Missing Access","code":50001}"#,
            SendError::Permanent("Discord 403 (code 50001): Missing Access".into()),
        );
        check(
            403,
            None,
            r#"{"message":"Missing Permissions","code":50013}"#,
            SendError::Permanent("Discord 403 (code 50013): Missing Permissions".into()),
        );
        check(
            404,
            None,
            r#"{"message":"Unknown Channel","code":10003}"#,
            SendError::Permanent("Discord 404 (code 10003): Unknown Channel".into()),
        );
        check(
            403,
            None,
            r#"{"message":"Cannot send messages to this user","code":50007}"#,
            SendError::Permanent(
                "Discord 403 (code 50007): Cannot send messages to this user".into(),
            ),
        );
        check(
            400,
            None,
            r#"{"message":"Invalid Form Body","code":50035,"errors":{}}"#,
            SendError::Malformed("Discord 400 (code 50035): Invalid Form Body".into()),
        );
        check(
            401,
            None,
            r#"{"message":"401: Unauthorized","code":0}"#,
            SendError::Transient("Discord 401 (code 0): 401: Unauthorized".into()),
        );
        check(
            502,
            None,
            "Bad Gateway",
            SendError::Transient("Discord 502 (code 0): Bad Gateway".into()),
        );
        // A proxy's own 403 or 404 (no Discord code) says nothing about the channel.
        check(
            404,
            None,
            "Not Found",
            SendError::Transient("Discord 404 (code 0): Not Found".into()),
        );
        check(
            403,
            None,
            "Forbidden",
            SendError::Transient("Discord 403 (code 0): Forbidden".into()),
        );
    }

    #[test]
    fn a_global_limit_is_told_from_a_channels() {
        let global =
            br#"{"message":"You are being rate limited.","retry_after":1.5,"global":true}"#;
        let channel =
            br#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#;
        assert!(is_global_limit(429, None, None, global));
        assert!(!is_global_limit(429, None, None, channel));
        assert!(!is_global_limit(429, None, Some("user"), channel));
        assert!(!is_global_limit(429, None, Some("shared"), b""));
        assert!(is_global_limit(429, Some("true"), None, b"<html>"));
        assert!(is_global_limit(429, None, Some("global"), b""));
        assert!(!is_global_limit(403, None, None, global), "only a 429");
    }

    #[test]
    fn error_texts_are_redacted() {
        crate::secrets::register("MTIz.discord-secret-token");
        let SendError::Transient(text) = classify_answer(
            500,
            None,
            br#"{"message":"bad Bot MTIz.discord-secret-token","code":0}"#,
        ) else {
            panic!("transient")
        };
        assert!(!text.contains("discord-secret-token"), "{text}");
    }
}

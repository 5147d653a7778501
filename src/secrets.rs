//! Keeps bot tokens out of every text chipwatch writes: logs, stored errors, replies.
//! Tokens are registered once at start; [`redact`] replaces them wherever they appear
//! (reqwest errors, for one, quote the request URL, which for Telegram holds the token).

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `secret` so that [`redact`] hides it, in the forms it is used in: the value
/// as set, without surrounding whitespace (`app` trims the environment's value, and a
/// token file often ends in a newline), and without a `Bot ` prefix (serenity strips
/// it and sends the bare token when it identifies). Short strings are ignored: they
/// could not be a token and would mangle ordinary text.
pub fn register(secret: &str) {
    let trimmed = secret.trim();
    let bare = trimmed.strip_prefix("Bot ").map(str::trim_start);
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    for form in [Some(secret), Some(trimmed), bare].into_iter().flatten() {
        if form.len() >= 8 && !secrets.iter().any(|s| s == form) {
            secrets.push(form.to_string());
        }
    }
    // Longest first, so that a form containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// A `tracing` writer that redacts secrets from each log line before it reaches stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_redacted_everywhere() {
        register("123456:ABC-secret-token");
        register("short");
        let text = "error sending request for url (http://127.0.0.1/bot123456:ABC-secret-token/SendMessage) short";
        assert_eq!(
            redact(text),
            "error sending request for url (http://127.0.0.1/bot***/SendMessage) short"
        );
    }

    /// The environment's value is trimmed before use: a token set with a trailing newline
    /// (a secrets file, a Kubernetes secret) or a `Bot ` prefix is still hidden as used.
    #[test]
    fn a_token_is_redacted_as_used_not_only_as_set() {
        register("  MTIz.padded-discord-token\n");
        register("Bot OTk5.prefixed-discord-token");
        assert_eq!(
            redact(
                "Authorization: Bot MTIz.padded-discord-token; token=OTk5.prefixed-discord-token"
            ),
            "Authorization: Bot ***; token=***"
        );
    }
}

//! The operators' feed commands: `/addfeed <url>` and `/removefeed <id>`. A user-given URL
//! is checked by the SSRF guard's decision before it is stored: only http(s), never a
//! loopback, private or link-local address unless the config allows it (names are
//! checked again at every fetch, when they resolve).

use super::{Engine, Invocation, Reply};
use crate::domain::{FeedId, FeedRecord, Lang, stable_hash};
use crate::i18n;
use crate::store::StoreError;

impl Engine {
    pub(super) async fn add_feed(
        &self,
        invocation: &Invocation,
        raw: &str,
    ) -> Result<Reply, StoreError> {
        let lang = invocation.lang;
        let refuse = |reason: &str| {
            Ok(Reply::text(&i18n::format(
                lang,
                "feed_refused",
                &[("reason", reason)],
            )))
        };
        let url = match url::Url::parse(raw.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
            Ok(_) => return refuse("only http and https URLs"),
            Err(error) => return refuse(&error.to_string()),
        };
        if let Err(reason) = crate::feeds::guard::check_url(&url, self.allow_private_addresses) {
            return refuse(&reason);
        }
        let known = self
            .feeds
            .iter()
            .any(|f| f.source.to_string() == url.as_str())
            || self
                .store
                .feed_records()?
                .iter()
                .any(|r| r.url == url.as_str());
        if known {
            return refuse("this feed is already followed");
        }
        let host = url.host_str().unwrap_or("feed").trim_start_matches("www.");
        let slug: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let suffix = format!("{:04x}", stable_hash(&[url.as_str()]) & 0xffff);
        let Ok(id) = FeedId::parse(&format!("{slug}-{suffix}")) else {
            return refuse("no usable name in this URL");
        };
        let record = FeedRecord {
            id: id.clone(),
            name: host.to_string(),
            url: url.to_string(),
            lang: Lang::It,
            added_by: invocation.chat.id,
            added: crate::clock::now(),
        };
        self.store.put_feed_record(&record).await?;
        tracing::info!(feed = %id, url = %url, "feed added by an operator");
        Ok(Reply::text(&i18n::format(
            lang,
            "feed_added",
            &[("id", id.as_str()), ("url", url.as_str())],
        )))
    }

    pub(super) async fn remove_feed(&self, lang: Lang, raw: &str) -> Result<Reply, StoreError> {
        let removed = match FeedId::parse(raw.trim()) {
            Ok(id) => self.store.remove_feed_record(&id).await?,
            Err(_) => false,
        };
        let key = if removed {
            "feed_removed"
        } else {
            "feed_unknown"
        };
        Ok(Reply::text(&i18n::format(lang, key, &[("id", raw.trim())])))
    }
}

//! An item's stable identity and the canonical form of a link: what makes "the same
//! article" the same across polls, CMS changes and tracking parameters. Pure; no I/O.

use super::ParsedEntry;
use crate::domain::{ItemId, stable_hash};
use url::Url;

/// Query parameters that only track the reader; exact names, compared case-insensitively.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ocid", "_ga", "igshid",
];

/// The identity of an entry: a stable hash of its guid, else of its canonical link, else of
/// its title and date. Never derived from feed-rs's generated ids, which are random for
/// items without guid or link.
pub fn item_identity(entry: &ParsedEntry) -> ItemId {
    if let Some(guid) = entry
        .guid
        .as_deref()
        .map(str::trim)
        .filter(|guid| !guid.is_empty())
    {
        // Many CMSs use a permalink as guid; canonicalising it keeps the identity when the
        // site moves to https or starts adding tracking parameters.
        let guid = canonical_link(guid).unwrap_or_else(|| guid.to_string());
        return ItemId(stable_hash(&["guid:", &guid]));
    }
    if let Some(link) = entry.link.as_deref().and_then(canonical_link) {
        return ItemId(stable_hash(&["link:", &link]));
    }
    let date = entry
        .published
        .map(|date| date.to_rfc3339())
        .unwrap_or_default();
    // An item without a title is rare; its summary is the next best thing that stays put.
    let text = if entry.title.is_empty() {
        &entry.summary
    } else {
        &entry.title
    };
    ItemId(stable_hash(&["title:", text, &date]))
}

/// The canonical form of an http(s) link: https, host lowercased without `www.`, no default
/// port, no fragment, no tracking parameters, the other parameters sorted, no trailing
/// slash (except the root). `None` for anything that is not an absolute http(s) URL.
pub fn canonical_link(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    // Switching a special scheme to another special one cannot fail.
    url.set_scheme("https").ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    url.set_host(Some(&host)).ok()?;
    if url.port() == Some(443) || url.port() == Some(80) {
        url.set_port(None).ok()?;
    }
    url.set_fragment(None);
    canonical_query(&mut url);
    let path = url.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    Some(url.to_string())
}

fn is_tracking(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

/// Drops tracking parameters and sorts the rest, so that parameter order does not matter.
fn canonical_query(url: &mut Url) {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !is_tracking(key))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
        return;
    }
    pairs.sort();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn links_are_canonical() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "http://www.HDblog.it/news/chip/",
                Some("https://hdblog.it/news/chip"),
            ),
            (
                "https://www.redhotcyber.com/post/nvidia?utm_source=rss&utm_medium=rss&fbclid=x",
                Some("https://redhotcyber.com/post/nvidia"),
            ),
            (
                "https://ansa.it/a?z=2&a=1&gclid=q#commenti",
                Some("https://ansa.it/a?a=1&z=2"),
            ),
            ("https://dday.it:443/x", Some("https://dday.it/x")),
            ("http://dday.it:80/x", Some("https://dday.it/x")),
            ("https://dday.it:8443/x/", Some("https://dday.it:8443/x")),
            ("https://www.dday.it/", Some("https://dday.it/")),
            (
                "https://dday.it/?p=123&ref=home&REF=x&mc_cid=1",
                Some("https://dday.it/?p=123"),
            ),
            ("  https://dday.it/a  ", Some("https://dday.it/a")),
            ("/relative/path", None),
            ("mailto:redazione@dday.it", None),
            ("tag:dday.it,2025:123", None),
            ("", None),
        ];
        for (raw, expect) in cases {
            assert_eq!(canonical_link(raw).as_deref(), *expect, "input: {raw:?}");
        }
    }

    fn entry(guid: Option<&str>, link: Option<&str>, title: &str) -> ParsedEntry {
        ParsedEntry {
            guid: guid.map(str::to_string),
            link: link.map(str::to_string),
            title: title.to_string(),
            summary: String::new(),
            published: Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).single(),
        }
    }

    #[test]
    fn identity_prefers_guid_then_link_then_title() {
        let by_guid = entry(Some("rhc-123"), Some("https://a.it/x"), "T");
        assert_eq!(
            item_identity(&by_guid),
            ItemId(stable_hash(&["guid:", "rhc-123"]))
        );

        let by_link = entry(None, Some("http://www.a.it/x/?utm_source=tg"), "T");
        assert_eq!(
            item_identity(&by_link),
            ItemId(stable_hash(&["link:", "https://a.it/x"]))
        );

        let by_title = entry(None, None, "Titolo");
        let date = "2025-01-06T09:00:00+00:00";
        assert_eq!(
            item_identity(&by_title),
            ItemId(stable_hash(&["title:", "Titolo", date]))
        );

        // A blank guid is no guid.
        let blank_guid = entry(Some("  "), Some("https://a.it/x"), "T");
        assert_eq!(item_identity(&blank_guid), item_identity(&by_link));
    }

    #[test]
    fn permalink_guids_survive_a_move_to_https() {
        let old = entry(Some("http://www.punto-informatico.it/?p=42"), None, "T");
        let new = entry(
            Some("https://punto-informatico.it/?p=42&utm_campaign=x"),
            None,
            "T",
        );
        assert_eq!(item_identity(&old), item_identity(&new));
        let other = entry(Some("https://punto-informatico.it/?p=43"), None, "T");
        assert_ne!(item_identity(&old), item_identity(&other));
    }
}

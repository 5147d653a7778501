//! feed-rs's model → our `ParsedFeed`: clean text, one absolute link per entry, the
//! source guid only when the document had one. No feed-rs type leaves this module's parent.

use super::text::{LINK_MAX_BYTES, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, cap_chars, clean_text};
use super::{Cuts, ParsedEntry, ParsedFeed};
use crate::domain::Lang;
use feed_rs::model::{Entry, Feed, Link};
use url::Url;

/// Converts a parsed document; `repairs` and `encoding` are filled in by the caller.
pub(super) fn feed(feed: Feed, base_url: Option<&Url>) -> ParsedFeed {
    let mut cuts = Cuts::default();
    let title = feed
        .title
        .as_ref()
        .map(|title| {
            capped(
                clean_text(&title.content),
                TITLE_MAX_CHARS,
                &mut cuts.titles,
            )
        })
        .filter(|t| !t.is_empty());
    let lang = feed.language.as_deref().and_then(Lang::parse);
    // The channel's own link is the base for entries' relative links when the feed URL is
    // not known (as for a document read from disk).
    let channel_link = pick_link(&feed.links).and_then(|link| Url::parse(&link.href).ok());
    let base = base_url.or(channel_link.as_ref());
    let entries = feed
        .entries
        .into_iter()
        .map(|entry| self::entry(entry, base, &mut cuts))
        .collect();
    ParsedFeed {
        title,
        lang,
        ttl_minutes: feed.ttl,
        entries,
        repairs: Vec::new(),
        encoding: "UTF-8",
        cuts,
    }
}

/// `text`, cut to `max` characters; a cut is counted.
fn capped(text: String, max: usize, count: &mut usize) -> String {
    match cap_chars(&text, max) {
        Some(cut) => {
            *count += 1;
            cut
        }
        None => text,
    }
}

fn entry(entry: Entry, base: Option<&Url>, cuts: &mut Cuts) -> ParsedEntry {
    // Our id generator leaves ids empty, so an empty id means the document gave none.
    let guid = Some(entry.id.trim().to_string()).filter(|id| !id.is_empty());
    // Atom's `xml:base` on the entry, itself possibly relative to the feed's base.
    let entry_base = entry.base.as_deref().and_then(|raw| resolve(raw, base));
    let link = pick_link(&entry.links)
        .map(|link| resolve_or_keep(&link.href, entry_base.as_ref().or(base)))
        .filter(|link| {
            let fits = link.len() <= LINK_MAX_BYTES;
            cuts.links += usize::from(!fits);
            fits
        });
    let title = entry
        .title
        .as_ref()
        .map(|title| {
            capped(
                clean_text(&title.content),
                TITLE_MAX_CHARS,
                &mut cuts.titles,
            )
        })
        .unwrap_or_default();
    let summary = capped(summary(&entry), SUMMARY_MAX_CHARS, &mut cuts.summaries);
    ParsedEntry {
        guid,
        link,
        title,
        summary,
        published: entry.published.or(entry.updated),
    }
}

/// The entry's summary if it has one, else its content, as clean text (not yet capped).
fn summary(entry: &Entry) -> String {
    let from_summary = entry
        .summary
        .as_ref()
        .map(|summary| clean_text(&summary.content));
    match from_summary.filter(|text| !text.is_empty()) {
        Some(text) => text,
        None => entry
            .content
            .as_ref()
            .and_then(|content| content.body.as_deref())
            .map(clean_text)
            .unwrap_or_default(),
    }
}

/// The link to the article itself: the first without `rel` or with `rel="alternate"`
/// (Atom also lists `self`, `enclosure`, `replies`, which are not the article).
fn pick_link(links: &[Link]) -> Option<&Link> {
    links.iter().find(|link| {
        matches!(link.rel.as_deref(), None | Some("alternate")) && !link.href.trim().is_empty()
    })
}

/// An absolute link, resolved against `base` when relative; a link that cannot be resolved
/// is kept as written rather than lost.
fn resolve_or_keep(href: &str, base: Option<&Url>) -> String {
    resolve(href, base).map_or_else(|| href.trim().to_string(), String::from)
}

fn resolve(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    match Url::parse(href) {
        Ok(url) => Some(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok(),
        Err(_) => None,
    }
}

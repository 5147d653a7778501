//! The feed parser: bytes of an RSS, Atom or JSON Feed document in, clean entries out.
//! Pure: it does no I/O and reads no clock. It never panics: a document it cannot read,
//! even after repairs, is a `ParseError` that says why; the repairs it made are listed.
//!
//! Steps: decode the bytes ourselves (`encoding`), apply the repairs that conforming
//! documents never trigger (`repair::before_parsing`), let feed-rs parse; if it refuses,
//! repair the markup (`repair::after_failure`) and try once more; convert (`convert`).

mod balance;
mod convert;
mod dates;
mod encoding;
mod identity;
mod markup;
mod repair;
mod text;

#[cfg(test)]
mod entry_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod tests;

pub use encoding::charset_is_known;
pub use identity::{canonical_link, item_identity};
pub use text::clean_text;

use chrono::{DateTime, Utc};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};

/// A fetched feed body and what is known about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedBody<'a> {
    pub bytes: &'a [u8],
    /// The HTTP Content-Type header value, if any.
    pub content_type: Option<&'a str>,
    /// The per-feed charset from config; wins over everything else.
    pub charset_override: Option<&'a str>,
    /// The feed's URL, for relative links.
    pub base_url: Option<&'a url::Url>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub lang: Option<crate::domain::Lang>,
    pub ttl_minutes: Option<u32>,
    pub entries: Vec<ParsedEntry>,
    /// What had to be corrected to read the feed, one short sentence each (feed health).
    pub repairs: Vec<String>,
    /// The encoding the body was read with (`UTF-8`, `windows-1252`, …).
    pub encoding: &'static str,
    /// Text cut to the length caps, and links dropped for length.
    pub cuts: Cuts,
}

/// How many fields a parse cut to the length caps (titles, summaries) or dropped (links).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cuts {
    pub titles: usize,
    pub summaries: usize,
    pub links: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntry {
    /// The guid/id as the document gave it; `None` when it gave none.
    pub guid: Option<String>,
    /// The absolute link to the article, as given (not canonicalised); none past 2048 bytes.
    pub link: Option<String>,
    /// Clean text, at most 1000 characters (`…` marks a cut).
    pub title: String,
    /// Clean text, at most 1000 characters (`…` marks a cut).
    pub summary: String,
    pub published: Option<DateTime<Utc>>,
}

/// Why a body could not be read as a feed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the response body is empty")]
    Empty,
    #[error("not a feed: {what}")]
    NotAFeed { what: String },
    #[error("malformed feed, not repairable: {detail}")]
    Malformed { detail: String },
    #[error("the charset override `{label}` is not a known encoding")]
    UnknownCharset { label: String },
}

/// Parses a feed body into clean entries, repairing what real sites get wrong.
pub fn parse_feed(body: &FeedBody<'_>) -> Result<ParsedFeed, ParseError> {
    if body.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    // 1. Bytes → UTF-8 text, with the declaration rewritten to say so.
    let decoded = encoding::decode(body.bytes, body.content_type, body.charset_override)?;
    let mut repairs = decoded.notes;
    let is_xml = decoded.text.trim_start().starts_with('<');
    // 2. Repairs that conforming documents never trigger.
    let text = if is_xml {
        repair::before_parsing(&decoded.text, &mut repairs)
    } else {
        decoded.text
    };
    // 3. Parse; if refused, repair the markup and try once more.
    let feed = match run_feed_rs(&text, body.base_url) {
        Ok(feed) => feed,
        Err(_) if is_xml => {
            let repaired = repair::after_failure(&text, &mut repairs);
            run_feed_rs(&repaired, body.base_url).map_err(|error| describe(error, &repaired))?
        }
        Err(error) => return Err(describe(error, &text)),
    };
    // 4. feed-rs's model → ours.
    let mut parsed = convert::feed(feed, body.base_url);
    // A document that names items but yields none was swallowed whole (an unterminated
    // comment or CDATA section does that): a broken feed must not look healthy and empty.
    if is_xml && parsed.entries.is_empty() && names_items(&text) {
        return Err(ParseError::Malformed {
            detail: "the document lists items but none could be read (an unterminated comment or CDATA section?)".into(),
        });
    }
    // Overlong titles and links are a broken or hostile feed, worth the operator's eye;
    // long summaries are ordinary (content cut to a lead) and only counted.
    let Cuts { titles, links, .. } = parsed.cuts;
    if titles + links > 0 {
        repairs.push(format!(
            "{titles} title(s) cut to {} characters, {links} link(s) over {} bytes dropped",
            text::TITLE_MAX_CHARS,
            text::LINK_MAX_BYTES
        ));
    }
    parsed.repairs = repairs;
    parsed.encoding = decoded.encoding.name();
    Ok(parsed)
}

/// Whether the text has an RSS `<item>` or Atom `<entry>` element start.
fn names_items(text: &str) -> bool {
    ["<item>", "<item ", "<entry>", "<entry "]
        .iter()
        .any(|tag| text.contains(tag))
}

/// Runs feed-rs with our dates and without its generated ids.
fn run_feed_rs(
    text: &str,
    base_url: Option<&url::Url>,
) -> Result<feed_rs::model::Feed, ParseFeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base_url.map(url::Url::as_str))
        // An empty id marks "the document had none": feed-rs would otherwise invent one,
        // random for items with neither guid nor link.
        .id_generator(|_links, _title, _base| String::new())
        .timestamp_parser(dates::parse_date)
        .build();
    // feed-rs reads hostile input; should it ever panic, that must cost one feed one poll,
    // not the poller. The parser holds no state we reuse, so unwind safety is not at stake.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(text.as_bytes())
    }))
    .unwrap_or_else(|_| {
        let detail = "the feed parser crashed on this document".to_string();
        Err(ParseFeedError::IoError(std::io::Error::other(detail)))
    })
}

/// Turns feed-rs's error into ours, naming the root element when there is no feed in it.
fn describe(error: ParseFeedError, text: &str) -> ParseError {
    match error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            let what = match repair::root_element(text).map(|(name, _)| name) {
                Some(root) if root.eq_ignore_ascii_case("html") => "an HTML page".to_string(),
                Some(root) => {
                    format!("the root element is <{root}>, not rss, RDF, feed or JSON Feed")
                }
                None => "no XML or JSON document found".to_string(),
            };
            ParseError::NotAFeed { what }
        }
        other => ParseError::Malformed {
            detail: other.to_string(),
        },
    }
}

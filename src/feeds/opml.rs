//! OPML, the format feed readers exchange subscription lists in: reading one into a list
//! of feeds to add, and writing the configured feeds out as one. Pure: bytes or values in,
//! values or text out; no file, clock or network (the caller passes `now`). It never
//! panics on a hostile file: what it cannot read is an `OpmlError`, an outline it cannot
//! use is skipped with the reason.

use crate::config::FeedConfig;
use crate::domain::FeedId;
use crate::feeds::parse::canonical_link;
use chrono::{DateTime, Utc};
use quick_xml::XmlVersion;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization;

/// Our own attributes on an exported outline, so that an export imports back with the
/// same ids. Other readers ignore attributes in a namespace they do not know.
const NAMESPACE: &str = "https://github.com/chipwatch/chipwatch/opml";
/// Outlines nest (folders); deeper than this is no subscription list but an attack.
const MAX_DEPTH: usize = 32;

/// One feed outline: `<outline type="rss" text=… xmlUrl=… />`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub title: String,
    pub xml_url: String,
    pub html_url: Option<String>,
    pub language: Option<String>,
    /// The folder the outline sat in, if any (`text` of the parent outline).
    pub category: Option<String>,
    /// The id chipwatch exported it with, if it did.
    pub id: Option<String>,
}

/// What an OPML file held: its feeds in document order and the outlines that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opml {
    pub title: Option<String>,
    pub feeds: Vec<OpmlFeed>,
    /// One line per outline that was not used, saying why.
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpmlError {
    #[error("not an OPML file: {0}")]
    NotOpml(String),
    #[error("malformed OPML at byte {position}: {detail}")]
    Malformed { position: u64, detail: String },
}

/// A feed to add to the configuration, decided by [`plan_import`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeed {
    pub id: FeedId,
    pub name: String,
    pub url: String,
    /// `it` or `en` when the outline said so; otherwise the config's default applies.
    pub lang: Option<String>,
}

/// Reads an OPML document. UTF-8 is expected (OPML files nearly always are); bytes that
/// are not valid UTF-8 are read as windows-1252, as the feed parser does.
pub fn parse(bytes: &[u8]) -> Result<Opml, OpmlError> {
    let text = decode(bytes);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut opml = Opml::default();
    // The `text` of each open outline, so a feed knows its folder.
    let mut folders: Vec<String> = Vec::new();
    let (mut saw_root, mut in_title) = (false, false);
    let mut title = String::new();
    loop {
        let event = reader.read_event().map_err(|e| OpmlError::Malformed {
            position: reader.error_position(),
            detail: e.to_string(),
        })?;
        match event {
            Event::Start(element) | Event::Empty(element) if !saw_root => {
                if !is(&element, "opml") {
                    let name = element.local_name().as_ref().to_string();
                    return Err(OpmlError::NotOpml(format!(
                        "the root element is <{name}>, not <opml>"
                    )));
                }
                saw_root = true;
            }
            Event::Start(element) if is(&element, "outline") => {
                if folders.len() >= MAX_DEPTH {
                    return Err(OpmlError::NotOpml(format!(
                        "outlines nested deeper than {MAX_DEPTH}"
                    )));
                }
                let outline = Outline::read(&element);
                let folder = outline.label();
                outline.into_feed(&folders, &mut opml);
                folders.push(folder);
            }
            Event::Empty(element) if is(&element, "outline") => {
                Outline::read(&element).into_feed(&folders, &mut opml);
            }
            Event::End(element)
                if element
                    .local_name()
                    .as_ref()
                    .eq_ignore_ascii_case("outline") =>
            {
                folders.pop();
            }
            Event::Start(element) if is(&element, "title") && folders.is_empty() => {
                in_title = true;
            }
            // The title's text arrives in pieces: text, then each entity (`&amp;`) apart.
            Event::Text(text) if in_title => {
                title.push_str(&text.xml_content(XmlVersion::Implicit1_0));
            }
            Event::GeneralRef(reference) if in_title => {
                if let Ok(Some(c)) = reference.resolve_char_ref() {
                    title.push(c);
                } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&reference)
                {
                    title.push_str(text);
                }
            }
            Event::End(element)
                if in_title && element.local_name().as_ref().eq_ignore_ascii_case("title") =>
            {
                in_title = false;
                opml.title = Some(title.trim().to_string()).filter(|t| !t.is_empty());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(OpmlError::NotOpml("no <opml> element found".into()));
    }
    Ok(opml)
}

fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

fn is(element: &BytesStart<'_>, name: &str) -> bool {
    element.local_name().as_ref().eq_ignore_ascii_case(name)
}

/// The attributes of one `<outline>` that matter, names compared case-insensitively
/// (`xmlUrl`, `xmlurl` and `XMLURL` all occur in the wild).
#[derive(Default)]
struct Outline {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    html_url: Option<String>,
    language: Option<String>,
    id: Option<String>,
}

impl Outline {
    fn read(element: &BytesStart<'_>) -> Self {
        let mut outline = Outline::default();
        // A broken attribute costs that attribute, not the file.
        for attribute in element.attributes().with_checks(false).flatten() {
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| attribute.value.clone().into_owned());
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            let key = attribute.key.as_ref().to_ascii_lowercase();
            let slot = match key.as_str() {
                "text" => &mut outline.text,
                "title" => &mut outline.title,
                "xmlurl" => &mut outline.xml_url,
                "htmlurl" => &mut outline.html_url,
                "language" => &mut outline.language,
                "chipwatch:id" => &mut outline.id,
                _ => continue,
            };
            *slot = Some(value);
        }
        outline
    }

    fn label(&self) -> String {
        self.title
            .clone()
            .or_else(|| self.text.clone())
            .unwrap_or_default()
    }

    /// Adds the outline to `opml` if it is a feed; a folder (no `xmlUrl`) adds nothing.
    fn into_feed(self, folders: &[String], opml: &mut Opml) {
        let Some(xml_url) = self.xml_url.clone() else {
            return;
        };
        match url::Url::parse(&xml_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(url) => {
                opml.skipped.push(format!(
                    "{xml_url}: scheme `{}` is not fetched",
                    url.scheme()
                ));
                return;
            }
            Err(error) => {
                opml.skipped
                    .push(format!("{xml_url}: not an absolute URL ({error})"));
                return;
            }
        }
        let title = Some(self.label())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| xml_url.clone());
        opml.feeds.push(OpmlFeed {
            title,
            xml_url,
            html_url: self.html_url,
            language: self.language,
            category: folders.last().cloned().filter(|f| !f.is_empty()),
            id: self.id,
        });
    }
}

/// Which of `incoming` to add to `existing`: feeds whose URL is already configured (after
/// canonicalisation: scheme, `www.`, trailing slash, tracking parameters) or already
/// listed earlier in the file are left out; each new feed gets a unique id, the exported
/// one if it is free, else a slug of its title.
pub fn plan_import(existing: &[FeedConfig], incoming: &[OpmlFeed]) -> (Vec<NewFeed>, Vec<String>) {
    let url_key = |url: &str| canonical_link(url).unwrap_or_else(|| url.trim().to_string());
    let mut urls: HashSet<String> = existing
        .iter()
        .map(|feed| url_key(&feed.source.to_string()))
        .collect();
    let mut ids: HashSet<String> = existing
        .iter()
        .map(|feed| feed.id.as_str().to_string())
        .collect();
    let (mut added, mut skipped) = (Vec::new(), Vec::new());
    for feed in incoming {
        if !urls.insert(url_key(&feed.xml_url)) {
            skipped.push(format!("{}: already configured", feed.xml_url));
            continue;
        }
        let wanted = feed
            .id
            .as_deref()
            .and_then(|id| FeedId::parse(id).ok())
            .map(|id| id.as_str().to_string())
            .unwrap_or_else(|| slug(&feed.title, &feed.xml_url));
        let id = unique(&wanted, &ids);
        ids.insert(id.as_str().to_string());
        added.push(NewFeed {
            id,
            name: feed.title.clone(),
            url: feed.xml_url.clone(),
            lang: feed
                .language
                .as_deref()
                .and_then(crate::domain::Lang::parse)
                .map(|lang| lang.as_str().to_string()),
        });
    }
    (added, skipped)
}

/// A feed id from a title: accents folded (`Perché` → `perche`), anything else that is
/// not a letter or digit becomes `-`; the URL's host when the title gives nothing.
fn slug(title: &str, url: &str) -> String {
    let make = |text: &str| {
        let mut out = String::new();
        // Decomposed, an accented letter is the letter and a combining mark to drop;
        // any other character (`’`, `«`) separates words.
        for c in text
            .nfd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let mut out = out.trim_end_matches('-').to_string();
        // Ids are at most 64 bytes; leave room for a `-NN` suffix.
        out.truncate(56);
        out.trim_end_matches('-').to_string()
    };
    let from_title = make(title);
    if !from_title.is_empty() {
        return from_title;
    }
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let from_host = make(host.strip_prefix("www.").unwrap_or(&host));
    if from_host.is_empty() {
        "feed".to_string()
    } else {
        from_host
    }
}

/// `wanted` if free, else `wanted-2`, `wanted-3`, …; `wanted` is a valid id already.
fn unique(wanted: &str, taken: &HashSet<String>) -> FeedId {
    // Shortened so that a suffix keeps the id within 64 bytes (ids are ASCII).
    let base = &wanted[..wanted.len().min(56)];
    // Among `taken.len() + 1` distinct candidates at least one is free.
    for n in 1..=taken.len() + 2 {
        let candidate = if n == 1 {
            wanted.to_string()
        } else {
            format!("{base}-{n}")
        };
        if !taken.contains(&candidate)
            && let Ok(id) = FeedId::parse(&candidate)
        {
            return id;
        }
    }
    FeedId::parse(&format!("feed-{}", taken.len() + 1))
        .expect("`feed-N` is lowercase letters, digits and `-`, so a valid id")
}

/// Writes the feeds as an OPML 2.0 document (UTF-8), one outline per feed in config order.
pub fn write(title: &str, feeds: &[FeedConfig], now: DateTime<Utc>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<opml version=\"2.0\" xmlns:chipwatch=\"{NAMESPACE}\">\n  <head>\n    <title>{}</title>\n    <dateCreated>{}</dateCreated>\n  </head>\n  <body>\n",
        escape(title),
        now.to_rfc2822()
    ));
    for feed in feeds {
        let name = escape(feed.name.as_str());
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\" language=\"{}\" chipwatch:id=\"{}\"/>\n",
            escape(feed.source.to_string()),
            feed.lang.as_str(),
            escape(feed.id.as_str()),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FeedSource;
    use crate::domain::Lang;
    use std::time::Duration;

    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/feeds/http/subscriptions.opml"
        );
        std::fs::read(path).expect("fixture subscriptions.opml")
    }

    fn configured(id: &str, name: &str, url: &str) -> FeedConfig {
        FeedConfig {
            id: FeedId::parse(id).expect("valid id"),
            name: name.into(),
            source: FeedSource::Http(url::Url::parse(url).expect("valid url")),
            lang: Lang::It,
            interval: Duration::from_secs(900),
            charset: None,
            backfill: 0,
        }
    }

    #[test]
    fn reads_feeds_from_folders_whatever_the_attribute_case() {
        let opml = parse(&fixture()).expect("parses");
        assert_eq!(opml.title.as_deref(), Some("Abbonamenti di Marta & Luca"));
        let got: Vec<(&str, &str, Option<&str>)> = opml
            .feeds
            .iter()
            .map(|f| (f.title.as_str(), f.xml_url.as_str(), f.category.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Red Hot Cyber",
                    "https://www.redhotcyber.com/feed/",
                    Some("Tecnologia")
                ),
                (
                    "Perché Chip?",
                    "https://perche-chip.example.it/rss?utm_source=opml",
                    Some("Tecnologia")
                ),
                (
                    "Hardware Upgrade",
                    "https://www.hwupgrade.it/rss/news.xml",
                    Some("Tecnologia")
                ),
                (
                    "Policy \"Weekly\" <EN>",
                    "https://policy.example.com/feed.xml?lang=en&section=chips",
                    Some("Politica & Economia")
                ),
                (
                    "Red Hot Cyber (again)",
                    "http://redhotcyber.com/feed",
                    Some("Politica & Economia")
                ),
            ]
        );
        assert_eq!(opml.feeds[1].language.as_deref(), Some("it-IT"));
        assert_eq!(opml.skipped.len(), 2, "{:?}", opml.skipped);
        assert!(
            opml.skipped[0].contains("scheme `file`"),
            "{:?}",
            opml.skipped
        );
        assert!(
            opml.skipped[1].contains("not an absolute URL"),
            "{:?}",
            opml.skipped
        );
    }

    #[test]
    fn import_skips_what_is_configured_and_makes_unique_ids() {
        let opml = parse(&fixture()).expect("parses");
        let existing = [
            configured(
                "hwupgrade",
                "Hardware Upgrade",
                "https://www.hwupgrade.it/rss/news.xml",
            ),
            configured("perche-chip", "Taken id", "https://other.example.it/feed"),
        ];
        let (added, skipped) = plan_import(&existing, &opml.feeds);
        let got: Vec<(&str, &str, Option<&str>)> = added
            .iter()
            .map(|f| (f.id.as_str(), f.url.as_str(), f.lang.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("red-hot-cyber", "https://www.redhotcyber.com/feed/", None),
                (
                    "perche-chip-2",
                    "https://perche-chip.example.it/rss?utm_source=opml",
                    Some("it")
                ),
                (
                    "policy-weekly-en",
                    "https://policy.example.com/feed.xml?lang=en&section=chips",
                    Some("en")
                ),
            ]
        );
        // The configured feed, and the same Red Hot Cyber feed over http without `www.`.
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }

    #[test]
    fn an_export_reads_back_with_the_same_feeds_and_ids() {
        let feeds = [
            configured(
                "red-hot-cyber",
                "Red Hot Cyber",
                "https://www.redhotcyber.com/feed/",
            ),
            configured(
                "quotes",
                "\"Chips\" & <Policy>",
                "https://x.example.it/feed?a=1&b=2",
            ),
        ];
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let text = write("chipwatch feeds", &feeds, now);
        let opml = parse(text.as_bytes()).expect("our own export parses");
        assert_eq!(opml.title.as_deref(), Some("chipwatch feeds"));
        let back: Vec<(Option<&str>, &str, &str)> = opml
            .feeds
            .iter()
            .map(|f| (f.id.as_deref(), f.title.as_str(), f.xml_url.as_str()))
            .collect();
        assert_eq!(
            back,
            vec![
                (
                    Some("red-hot-cyber"),
                    "Red Hot Cyber",
                    "https://www.redhotcyber.com/feed/"
                ),
                (
                    Some("quotes"),
                    "\"Chips\" & <Policy>",
                    "https://x.example.it/feed?a=1&b=2"
                ),
            ]
        );
        // Imported into an empty configuration, the ids are the exported ones.
        let (added, _) = plan_import(&[], &opml.feeds);
        let ids: Vec<&str> = added.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["red-hot-cyber", "quotes"]);
    }

    #[test]
    fn what_is_no_opml_is_an_error_never_a_panic() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not an OPML file: no <opml> element found"),
            (b"plain text", "not an OPML file: no <opml> element found"),
            (
                b"<?xml version=\"1.0\"?><rss version=\"2.0\"></rss>",
                "not an OPML file: the root element is <rss>, not <opml>",
            ),
        ];
        for (bytes, message) in cases {
            assert_eq!(
                parse(bytes).expect_err("no OPML").to_string(),
                *message,
                "{bytes:?}"
            );
        }
        let error = parse(b"<opml><body><outline text=\"a\"></body></opml>").expect_err("bad");
        assert!(matches!(error, OpmlError::Malformed { .. }), "{error:?}");
        let deep = format!(
            "<opml><body>{}</body></opml>",
            "<outline text=\"x\">".repeat(100)
        );
        assert!(parse(deep.as_bytes()).is_err());
        // Arbitrary bytes: any result is fine, a panic is not.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for length in 0..300 {
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"<>/=\"' opmlutinexURL&;#x\xc3\xa9"[(state % 26) as usize]
                })
                .collect();
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn slugs_fold_accents_and_fall_back_to_the_host() {
        assert_eq!(
            slug("Perché l’Italia è così?", "https://x.it/"),
            "perche-l-italia-e-cosi"
        );
        assert_eq!(slug("«»", "https://www.HDblog.it/feed"), "hdblog-it");
        assert_eq!(slug("", "not a url"), "feed");
        assert!(slug(&"a".repeat(200), "").len() <= 56);
    }
}

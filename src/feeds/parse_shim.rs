//! TEMPORARY stand-in for the helper's parse module (never committed).
use crate::domain::{ItemId, Lang, stable_hash};
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBody<'a> {
    pub bytes: &'a [u8],
    pub content_type: Option<&'a str>,
    pub charset_override: Option<&'a str>,
    pub base_url: Option<&'a url::Url>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub lang: Option<Lang>,
    pub ttl_minutes: Option<u32>,
    pub entries: Vec<ParsedEntry>,
    pub repairs: Vec<String>,
    pub encoding: &'static str,
}
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntry {
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    pub summary: String,
    pub published: Option<chrono::DateTime<chrono::Utc>>,
}
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed: {0}")]
    Malformed(String),
}
pub fn parse_feed(body: &FeedBody<'_>) -> Result<ParsedFeed, ParseError> {
    let feed =
        feed_rs::parser::parse(body.bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let entries = feed
        .entries
        .into_iter()
        .map(|e| ParsedEntry {
            guid: Some(e.id),
            link: e.links.first().map(|l| l.href.clone()),
            title: e.title.map(|t| clean_text(&t.content)).unwrap_or_default(),
            summary: e
                .summary
                .map(|t| clean_text(&t.content))
                .unwrap_or_default(),
            published: e.published.or(e.updated),
        })
        .collect();
    Ok(ParsedFeed {
        title: feed.title.map(|t| t.content),
        lang: None,
        ttl_minutes: feed.ttl,
        entries,
        repairs: vec![],
        encoding: "UTF-8",
    })
}
pub fn item_identity(entry: &ParsedEntry) -> ItemId {
    ItemId(stable_hash(&["guid:", entry.guid.as_deref().unwrap_or("")]))
}
pub fn canonical_link(raw: &str) -> Option<String> {
    Some(raw.to_string())
}
pub fn clean_text(html: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for c in html.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

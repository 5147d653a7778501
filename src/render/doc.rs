//! A tiny document model that commands and alerts are written in, so each platform
//! renders (and escapes) it natively: Telegram HTML, Discord markdown, plain text.

/// A run of text with one style. Every string here is raw text from anywhere (feed
/// titles included): renderers escape it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Bold(String),
    Italic(String),
    Code(String),
    Link { text: String, url: String },
}

/// Lines of spans; a renderer joins lines with newlines and splits long documents only
/// between lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    pub lines: Vec<Vec<Span>>,
}

impl Doc {
    pub fn new() -> Self {
        Self::default()
    }

    /// A document of plain lines (a localized text may hold several).
    pub fn text(text: &str) -> Self {
        let mut doc = Self::new();
        for line in text.lines() {
            doc.lines.push(vec![Span::Text(line.to_string())]);
        }
        doc
    }

    pub fn push(&mut self, spans: Vec<Span>) -> &mut Self {
        self.lines.push(spans);
        self
    }

    pub fn push_text(&mut self, text: &str) -> &mut Self {
        for line in text.lines() {
            self.lines.push(vec![Span::Text(line.to_string())]);
        }
        self
    }

    pub fn append(&mut self, other: Doc) -> &mut Self {
        self.lines.extend(other.lines);
        self
    }

    /// The text without any markup, for platforms or retries that take plain text.
    pub fn plain(&self) -> String {
        self.lines
            .iter()
            .map(|line| {
                line.iter()
                    .map(|span| match span {
                        Span::Text(t) | Span::Bold(t) | Span::Italic(t) | Span::Code(t) => {
                            t.clone()
                        }
                        Span::Link { text, url } => format!("{text} ({url})"),
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether a URL may be rendered as a link: only http and https, so a feed cannot smuggle
/// `javascript:` or `tg://` links into a chat.
pub fn is_safe_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

//! The markup repair for documents feed-rs refused: bare `&` and stray `<` escaped, tags
//! left open closed, stray end tags dropped, and a truncated document cut back to its last
//! complete item. It rewrites markup only; it never invents text.

use super::markup::{Token, escape_bare_ampersands, token_at};

/// HTML elements that never have content, so an unclosed `<br>` is closed on the spot
/// rather than swallowing the text after it.
const HTML_VOID: &[&str] = &[
    "br", "hr", "img", "input", "wbr", "area", "col", "embed", "param", "track",
];

/// Feed elements that hold only text: one left open (`<category>Chip` with no end tag) is
/// closed at the next start tag, so that it does not swallow the `<pubDate>` after it.
#[rustfmt::skip]
const TEXT_ONLY_ELEMENTS: &[&str] = &[
    "link", "guid", "pubDate", "category", "comments", "dc:creator", "dc:date", "published",
    "updated", "id", "ttl", "language",
];

/// Counts of what the markup repair changed, for the operator.
#[derive(Debug, Default, PartialEq)]
pub(super) struct MarkupReport {
    pub bare_ampersands: usize,
    pub stray_less_than: usize,
    pub closed_tags: usize,
    pub dropped_end_tags: usize,
    pub truncated: bool,
    pub dropped_incomplete_item: bool,
}

/// Rewrites a document into well-formed XML as far as tags and escapes go.
pub(super) fn repair_markup(text: &str) -> (String, MarkupReport) {
    let mut balancer = Balancer {
        out: String::with_capacity(text.len() + 64),
        open: Vec::new(),
        report: MarkupReport::default(),
    };
    let mut rest = text;
    while !rest.is_empty() {
        let text_length = rest.find('<').unwrap_or(rest.len());
        balancer.push_text(&rest[..text_length]);
        rest = &rest[text_length..];
        if rest.is_empty() {
            break;
        }
        let consumed = match token_at(rest) {
            Token::Verbatim(len) => {
                balancer.out.push_str(&rest[..len]);
                len
            }
            Token::Start {
                name,
                len,
                self_closing,
            } => {
                balancer.start(name, &rest[..len], self_closing);
                len
            }
            Token::End { name, len } => {
                balancer.end(name);
                len
            }
            Token::Stray => {
                balancer.out.push_str("&lt;");
                balancer.report.stray_less_than += 1;
                1
            }
            Token::Truncated => {
                balancer.report.truncated = true;
                rest.len()
            }
        };
        rest = &rest[consumed..];
    }
    balancer.finish()
}

struct Balancer<'a> {
    out: String,
    /// Open elements: name, and where the start tag begins in `out`.
    open: Vec<(&'a str, usize)>,
    report: MarkupReport,
}

impl<'a> Balancer<'a> {
    fn push_text(&mut self, text: &str) {
        let escaped = escape_bare_ampersands(text, &mut self.report.bare_ampersands);
        self.out.push_str(&escaped);
    }

    fn start(&mut self, name: &'a str, raw: &str, self_closing: bool) {
        if let Some(&(open_name, _)) = self.open.last()
            && TEXT_ONLY_ELEMENTS.contains(&open_name)
        {
            self.out.push_str(&format!("</{open_name}>"));
            self.open.pop();
            self.report.closed_tags += 1;
        }
        let start = self.out.len();
        // `&` in attribute values (`href="?a=1&b=2"`) is as common as in text.
        let raw = escape_bare_ampersands(raw, &mut self.report.bare_ampersands);
        if !self_closing && HTML_VOID.contains(&name.to_ascii_lowercase().as_str()) {
            self.out.push_str(raw.trim_end_matches('>'));
            self.out.push_str("/>");
            self.report.closed_tags += 1;
        } else {
            self.out.push_str(&raw);
            if !self_closing {
                self.open.push((name, start));
            }
        }
    }

    /// Closes `name`, first closing whatever was left open inside it; an end tag that
    /// matches nothing open is dropped.
    fn end(&mut self, name: &str) {
        let found = self
            .open
            .iter()
            .rposition(|(open_name, _)| open_name.eq_ignore_ascii_case(name));
        let Some(depth) = found else {
            self.report.dropped_end_tags += 1;
            return;
        };
        while let Some((open_name, _)) = self.open.pop() {
            // The end tag is written with the start tag's spelling (`<B>…</b>` → `</B>`).
            self.out.push_str(&format!("</{open_name}>"));
            if self.open.len() == depth {
                break;
            }
            self.report.closed_tags += 1;
        }
    }

    /// At the end of the document: an item or entry still open was cut off, so it is
    /// dropped whole rather than kept half-written; the elements around it are closed.
    fn finish(mut self) -> (String, MarkupReport) {
        let is_item = |name: &str| matches!(name.rsplit(':').next(), Some("item" | "entry"));
        if let Some(depth) = self.open.iter().position(|(name, _)| is_item(name)) {
            self.out.truncate(self.open[depth].1);
            self.open.truncate(depth);
            self.report.dropped_incomplete_item = true;
        }
        self.report.truncated |= !self.open.is_empty() || self.report.dropped_incomplete_item;
        while let Some((name, _)) = self.open.pop() {
            self.out.push_str(&format!("</{name}>"));
        }
        (self.out, self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_repaired() {
        let cases: &[(&str, &str, MarkupReport)] = &[
            (
                "<t>Ricerca & Sviluppo &amp; &eacute; &#8217; &#x2019; &</t>",
                "<t>Ricerca &amp; Sviluppo &amp; &eacute; &#8217; &#x2019; &amp;</t>",
                MarkupReport {
                    bare_ampersands: 2,
                    ..Default::default()
                },
            ),
            (
                "<a href=\"x?a=1&b=2\">5 < 6</a>",
                "<a href=\"x?a=1&amp;b=2\">5 &lt; 6</a>",
                MarkupReport {
                    bare_ampersands: 1,
                    stray_less_than: 1,
                    ..Default::default()
                },
            ),
            (
                "<item><d>Testo <b>grassetto</d><br>fine</item></x>",
                "<item><d>Testo <b>grassetto</b></d><br/>fine</item>",
                MarkupReport {
                    closed_tags: 2,
                    dropped_end_tags: 1,
                    ..Default::default()
                },
            ),
            (
                "<rss><channel><item><t>uno</t></item><item><t>du",
                "<rss><channel><item><t>uno</t></item></channel></rss>",
                MarkupReport {
                    truncated: true,
                    dropped_incomplete_item: true,
                    ..Default::default()
                },
            ),
            (
                "<rss><channel><item><t>uno</t></item><ite",
                "<rss><channel><item><t>uno</t></item></channel></rss>",
                MarkupReport {
                    truncated: true,
                    ..Default::default()
                },
            ),
            (
                "<x><![CDATA[a & <b>]]><!-- & --></x>",
                "<x><![CDATA[a & <b>]]><!-- & --></x>",
                MarkupReport::default(),
            ),
            (
                "<item><category>Chip<pubDate>x</pubDate></item><B>y</b>",
                "<item><category>Chip</category><pubDate>x</pubDate></item><B>y</B>",
                MarkupReport {
                    closed_tags: 1,
                    ..Default::default()
                },
            ),
        ];
        for (input, expect, report) in cases {
            let (text, got) = repair_markup(input);
            assert_eq!((text.as_str(), &got), (*expect, report), "input: {input:?}");
        }
    }
}

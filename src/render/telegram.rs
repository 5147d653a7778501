//! Telegram HTML (parse_mode=HTML): every piece of text escaped, only http(s) links,
//! and messages split between lines to stay within 4096 characters.

use super::doc::{Doc, Span, is_safe_url};

/// Telegram's limit on a message's text.
pub const MAX_MESSAGE: usize = 4096;

/// Escapes the three characters Telegram's HTML parser treats specially (and `"` for
/// attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn span(span: &Span) -> String {
    match span {
        Span::Text(t) => escape(t),
        Span::Bold(t) => format!("<b>{}</b>", escape(t)),
        Span::Italic(t) => format!("<i>{}</i>", escape(t)),
        Span::Code(t) => format!("<code>{}</code>", escape(t)),
        Span::Link { text, url } if is_safe_url(url) => {
            format!("<a href=\"{}\">{}</a>", escape(url), escape(text))
        }
        Span::Link { text, .. } => escape(text),
    }
}

fn line(spans: &[Span]) -> String {
    spans.iter().map(span).collect()
}

/// Telegram measures length in UTF-16 code units; counting the HTML (tags included)
/// overestimates the visible length, which keeps every chunk safely under the limit.
fn length(text: &str) -> usize {
    super::utf16_len(text)
}

/// The document as one or more HTML messages, each at most `limit` long, split between
/// lines. A single line longer than the limit is cut at a character boundary, in plain
/// escaped text so that no tag is ever cut in half.
pub fn html_chunks(doc: &Doc, limit: usize) -> Vec<String> {
    let lines = doc.lines.iter().map(|spans| {
        let rendered = line(spans);
        if length(&rendered) > limit {
            cut_line(spans, limit)
        } else {
            rendered
        }
    });
    super::join_lines(lines, limit)
}

fn cut_line(spans: &[Span], limit: usize) -> String {
    let plain = Doc {
        lines: vec![spans.to_vec()],
    }
    .plain();
    let mut out = String::new();
    for c in plain.chars() {
        let escaped = escape(&c.to_string());
        if length(&out) + length(&escaped) + 1 > limit {
            break;
        }
        out.push_str(&escaped);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped() {
        let mut doc = Doc::new();
        doc.push(vec![
            Span::Bold("<b>NVIDIA</b> & AMD".into()),
            Span::Text(" <script>alert(1)</script>".into()),
            Span::Link {
                text: "a \"quote\"".into(),
                url: "https://x.it/?a=1&b=<2>".into(),
            },
        ]);
        assert_eq!(
            html_chunks(&doc, MAX_MESSAGE),
            vec![
                "<b>&lt;b&gt;NVIDIA&lt;/b&gt; &amp; AMD</b> &lt;script&gt;alert(1)&lt;/script&gt;\
                 <a href=\"https://x.it/?a=1&amp;b=&lt;2&gt;\">a &quot;quote&quot;</a>"
                    .to_string()
            ]
        );
    }

    #[test]
    fn unsafe_links_become_text() {
        let mut doc = Doc::new();
        doc.push(vec![Span::Link {
            text: "click".into(),
            url: "javascript:alert(1)".into(),
        }]);
        doc.push(vec![Span::Link {
            text: "tg".into(),
            url: "tg://resolve?domain=x".into(),
        }]);
        assert_eq!(
            html_chunks(&doc, MAX_MESSAGE),
            vec!["click\ntg".to_string()]
        );
    }

    #[test]
    fn long_documents_split_between_lines_within_the_limit() {
        let mut doc = Doc::new();
        for i in 0..300 {
            doc.push(vec![
                Span::Bold(format!("riga {i}")),
                Span::Text(" — perché è così & basta".repeat(2)),
            ]);
        }
        let chunks = html_chunks(&doc, MAX_MESSAGE);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.encode_utf16().count() <= MAX_MESSAGE);
            assert_eq!(
                chunk.matches("<b>").count(),
                chunk.matches("</b>").count(),
                "no tag cut in half"
            );
        }
        let lines: usize = chunks.iter().map(|c| c.lines().count()).sum();
        assert_eq!(lines, 300, "no line lost");
    }

    #[test]
    fn an_overlong_line_is_cut_not_lost_or_broken() {
        let mut doc = Doc::new();
        doc.push(vec![Span::Bold("è&".repeat(3000))]);
        let chunks = html_chunks(&doc, 100);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].encode_utf16().count() <= 100);
        assert!(chunks[0].ends_with('…') && !chunks[0].contains("<b>"));
        assert!(!chunks[0].contains("&am…"), "no entity cut in half");
    }
}

//! A forgiving XML tokenizer for documents feed-rs refused: it reads tags, text and
//! CDATA without ever failing, and escapes bare `&`. `balance` builds the repair on it.

use std::ops::Range;

/// One piece of markup at the start of the remaining text.
#[derive(Debug, PartialEq)]
pub(super) enum Token<'a> {
    /// CDATA, comment, processing instruction or DOCTYPE: copied unchanged.
    Verbatim(usize),
    Start {
        name: &'a str,
        len: usize,
        self_closing: bool,
    },
    End {
        name: &'a str,
        len: usize,
    },
    /// A `<` that starts no markup (`a < b`).
    Stray,
    /// Markup cut off by the end of the document.
    Truncated,
}

/// Reads the token at the start of `text`, which starts with `<`.
pub(super) fn token_at(text: &str) -> Token<'_> {
    const VERBATIM: &[(&str, &str)] = &[
        ("<![CDATA[", "]]>"),
        ("<!--", "-->"),
        ("<?", "?>"),
        ("<!", ">"),
    ];
    for (open, close) in VERBATIM {
        if let Some(body) = text.strip_prefix(open) {
            return match body.find(close) {
                Some(at) => Token::Verbatim(open.len() + at + close.len()),
                None => Token::Truncated,
            };
        }
    }
    let (is_end, name_start) = if text.starts_with("</") {
        (true, 2)
    } else {
        (false, 1)
    };
    let name_length = text[name_start..]
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>' || c == '<')
        .unwrap_or(text.len() - name_start);
    let name = &text[name_start..name_start + name_length];
    if !name.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') {
        // A lone `<` or `</` at the very end is the start of a tag that was cut off.
        return if name.is_empty() && name_start == text.len() {
            Token::Truncated
        } else {
            Token::Stray
        };
    }
    match tag_length(text) {
        None => Token::Truncated,
        Some(None) => Token::Stray,
        Some(Some(len)) if is_end => Token::End { name, len },
        Some(Some(len)) => Token::Start {
            name,
            len,
            self_closing: text[..len].ends_with("/>"),
        },
    }
}

/// The length of a tag through its `>`, skipping quoted values: `None` if the document
/// ends first, `Some(None)` if another `<` comes first (so this `<` was text).
fn tag_length(text: &str) -> Option<Option<usize>> {
    let mut quote: Option<u8> = None;
    for (index, byte) in text.bytes().enumerate().skip(1) {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'>') => return Some(Some(index + 1)),
            (None, b'<') => return Some(None),
            (None, _) => {}
        }
    }
    None
}

/// The value of attribute `name` in a tag's text: its byte range and the value.
pub(super) fn attribute<'a>(tag: &'a str, name: &str) -> Option<(Range<usize>, &'a str)> {
    let mut from = 0;
    while let Some(found) = tag[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let preceded_by_space = tag[..at].ends_with(|c: char| c.is_whitespace());
        let Some(after_equals) = tag[from..].trim_start().strip_prefix('=') else {
            continue;
        };
        let value = after_equals.trim_start();
        let Some(quote) = value
            .chars()
            .next()
            .filter(|c| preceded_by_space && (*c == '"' || *c == '\''))
        else {
            continue;
        };
        let start = tag.len() - value.len() + 1;
        let length = tag[start..].find(quote)?;
        return Some((start..start + length, &tag[start..start + length]));
    }
    None
}

/// Escapes each `&` that starts no entity or character reference.
pub(super) fn escape_bare_ampersands(text: &str, count: &mut usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, piece) in text.split('&').enumerate() {
        if index > 0 {
            let is_reference = piece
                .find(';')
                .is_some_and(|end| is_reference_name(&piece[..end]));
            out.push_str(if is_reference { "&" } else { "&amp;" });
            *count += usize::from(!is_reference);
        }
        out.push_str(piece);
    }
    out
}

/// `amp`, `eacute`, `#8217`, `#x2019`: what may stand between `&` and `;`.
fn is_reference_name(name: &str) -> bool {
    let valid = match name.strip_prefix('#') {
        Some(hex) if hex.starts_with(['x', 'X']) => {
            hex.len() > 1 && hex[1..].bytes().all(|b| b.is_ascii_hexdigit())
        }
        Some(decimal) => !decimal.is_empty() && decimal.bytes().all(|b| b.is_ascii_digit()),
        None => {
            name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.bytes().all(|b| b.is_ascii_alphanumeric())
        }
    };
    valid && name.len() <= 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ampersands_are_escaped() {
        let mut count = 0;
        let text = "Ricerca & Sviluppo &amp; &eacute; &#8217; &#x2019; &#; &x y; &";
        let expect =
            "Ricerca &amp; Sviluppo &amp; &eacute; &#8217; &#x2019; &amp;#; &amp;x y; &amp;";
        assert_eq!(
            (escape_bare_ampersands(text, &mut count).as_str(), count),
            (expect, 4)
        );
    }

    #[test]
    fn tokens_are_read() {
        let cases: &[(&str, Token)] = &[
            ("<![CDATA[a<b]]>x", Token::Verbatim(15)),
            ("<!-- c -->", Token::Verbatim(10)),
            (
                "<item>",
                Token::Start {
                    name: "item",
                    len: 6,
                    self_closing: false,
                },
            ),
            (
                "<link href=\"a>b\"/>",
                Token::Start {
                    name: "link",
                    len: 18,
                    self_closing: true,
                },
            ),
            (
                "</dc:creator >",
                Token::End {
                    name: "dc:creator",
                    len: 14,
                },
            ),
            ("< 6", Token::Stray),
            ("<3", Token::Stray),
            ("</", Token::Truncated),
            ("<b <i>", Token::Stray),
            ("<tit", Token::Truncated),
            ("<![CDATA[never closed", Token::Truncated),
        ];
        for (text, token) in cases {
            assert_eq!(&token_at(text), token, "input: {text:?}");
        }
    }

    #[test]
    fn attributes_are_found() {
        let tag = "<rss xmlns:version=\"x\" version='2.00'>";
        assert_eq!(
            attribute(tag, "version").map(|(_, value)| value),
            Some("2.00")
        );
        assert_eq!(attribute("<rss>", "version"), None);
    }
}

//! HTML fragments from feeds → plain text: tags removed, scripts and styles dropped,
//! entities decoded, whitespace folded. Never fails; never returns markup it recognised.

/// Elements whose content is code, not prose: dropped with the element.
const DROPPED_ELEMENTS: &[&str] = &["script", "style", "noscript", "template"];

/// Elements that separate words when rendered: replaced by a space so that
/// `Chip<br>Nvidia` does not become `ChipNvidia`.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// The longest clean summary kept, in characters.
pub(super) const SUMMARY_MAX_CHARS: usize = 1000;
/// The longest clean title kept, in characters. Headlines run to 200 or so; a title and
/// its summary at their caps still fit one Telegram message (4096), and the Discord
/// renderer cuts further to its own limits. A cap at parse time keeps a broken or hostile
/// feed's megabyte title out of the store and out of every subscriber's outbox entry.
pub(super) const TITLE_MAX_CHARS: usize = 1000;
/// The longest link kept, in bytes (browsers and CDNs balk well before 8 KB). A longer
/// link is dropped, not cut: a cut URL leads nowhere.
pub(super) const LINK_MAX_BYTES: usize = 2048;

/// Turns an HTML fragment (or plain text carrying HTML entities) into one line of clean text.
pub fn clean_text(html: &str) -> String {
    let stripped = strip_tags(html);
    let decoded = html_escape::decode_html_entities(&stripped);
    fold_whitespace(&decoded)
}

/// Cuts clean text to at most `max` characters (`max` ≥ 2), preferring a word boundary
/// near the end and marking the cut with `…`; `None` when it fits as it is.
pub(super) fn cap_chars(text: &str, max: usize) -> Option<String> {
    // Leave room for the ellipsis; `char_indices` keeps the cut on a char boundary.
    let limit = max - 1;
    let (cut, _) = text.char_indices().nth(max)?;
    let cut = text
        .char_indices()
        .nth(limit)
        .map_or(cut, |(index, _)| index);
    let head = &text[..cut];
    // A word boundary in the last ~10% reads better than a half word; further back
    // would throw away too much.
    let head = match head.rfind(' ') {
        Some(space) if head[..space].chars().count() >= limit * 9 / 10 => &head[..space],
        _ => head,
    };
    Some(format!("{}…", head.trim_end()))
}

/// Removes tags, comments and dropped elements; a `<` that cannot start a tag
/// (`a < b`, `<3`) is kept as text.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        match classify_tag(after) {
            None => {
                out.push('<');
                rest = &after[1..];
            }
            Some(tag) => {
                if tag.is_block {
                    out.push(' ');
                }
                rest = &after[tag.len..];
                if tag.drop_content {
                    rest = skip_past_close(rest, &tag.name);
                }
            }
        }
    }
    out.push_str(rest);
    out
}

struct Tag {
    name: String,
    len: usize,
    is_block: bool,
    drop_content: bool,
}

/// Recognises a tag or comment at the start of `text` (which starts with `<`).
fn classify_tag(text: &str) -> Option<Tag> {
    if let Some(body) = text.strip_prefix("<!--") {
        // An unterminated comment swallows the rest, as a browser would.
        let len = body.find("-->").map_or(text.len(), |end| 4 + end + 3);
        return Some(Tag {
            name: String::new(),
            len,
            is_block: false,
            drop_content: false,
        });
    }
    let bytes = text.as_bytes();
    let name_start = if bytes.get(1) == Some(&b'/') { 2 } else { 1 };
    let first = *bytes.get(name_start)?;
    if !(first.is_ascii_alphabetic() || (name_start == 1 && (first == b'!' || first == b'?'))) {
        return None;
    }
    let len = tag_end(text)?;
    let name: String = text[name_start..len]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let is_closing = name_start == 2;
    let is_block = BLOCK_ELEMENTS.contains(&name.as_str());
    let drop_content =
        !is_closing && DROPPED_ELEMENTS.contains(&name.as_str()) && !text[..len].ends_with("/>");
    Some(Tag {
        name,
        len,
        is_block,
        drop_content,
    })
}

/// The length of the tag at the start of `text`, through its `>`, skipping quoted
/// attribute values (which may contain `>`).
fn tag_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (index, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(index + 1),
            // A new `<` before any `>` means this was not a tag after all (`a <b c <d>`).
            (None, '<') => return None,
            (None, _) => {}
        }
    }
    None
}

/// Skips to just after `</name ...>`; an element never closed drops the rest. Compares
/// in place rather than lowercasing the text, which would cost a copy per element.
fn skip_past_close<'a>(text: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    while let Some(found) = text[from..].find("</") {
        let after = &text[from + found + 2..];
        let matches = after
            .as_bytes()
            .get(..name.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(name.as_bytes()));
        if matches {
            return after.find('>').map_or("", |end| &after[end + 1..]);
        }
        from += found + 2;
    }
    ""
}

/// Folds every run of whitespace (including no-break spaces from `&nbsp;`) into one
/// space and trims the ends.
fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(html: &str, expect: &str) {
        assert_eq!(clean_text(html), expect, "input: {html:?}");
    }

    #[test]
    fn html_becomes_clean_text() {
        let cases: &[(&str, &str)] = &[
            ("Caff&egrave; e perch&eacute;", "Caffè e perché"),
            ("L&rsquo;UE e l&#8217;export", "L’UE e l’export"),
            ("Chip&nbsp;&nbsp;USA", "Chip USA"),
            ("<b>Nvidia</b> e <i>TSMC</i>", "Nvidia e TSMC"),
            ("Chip<br>Nvidia<br/>AMD", "Chip Nvidia AMD"),
            ("<p>Uno</p><p>Due</p>", "Uno Due"),
            ("Titolo<script>alert(1)</script> pulito", "Titolo pulito"),
            (
                "<STYLE type=\"text/css\">p{color:red}</STYLE>Testo",
                "Testo",
            ),
            ("a <!-- nota --> b", "a b"),
            ("5 < 6 e 7 > 3", "5 < 6 e 7 > 3"),
            ("<a href=\"x?a=1&amp;b=>2\">link</a>", "link"),
            ("  spazi\n\t multipli  ", "spazi multipli"),
            ("Ricerca & Sviluppo", "Ricerca & Sviluppo"),
            ("&lt;b&gt; resta testo", "<b> resta testo"),
            ("<script>mai chiuso", ""),
            ("«Perché» è già", "«Perché» è già"),
        ];
        for (html, expect) in cases {
            check(html, expect);
        }
    }

    #[test]
    fn text_is_capped_on_a_char_boundary() {
        let long = "è".repeat(1500);
        let capped = cap_chars(&long, SUMMARY_MAX_CHARS).expect("cut");
        assert_eq!(capped.chars().count(), SUMMARY_MAX_CHARS);
        assert!(capped.ends_with('…'));

        let words = "perché ".repeat(300);
        let capped = cap_chars(words.trim(), SUMMARY_MAX_CHARS).expect("cut");
        assert!(capped.chars().count() <= SUMMARY_MAX_CHARS);
        assert!(
            capped.ends_with("perché…"),
            "cut at a word boundary: {capped:?}"
        );

        assert_eq!(cap_chars("breve", SUMMARY_MAX_CHARS), None);
        let exact = "é".repeat(TITLE_MAX_CHARS);
        assert_eq!(
            cap_chars(&exact, TITLE_MAX_CHARS),
            None,
            "at the cap is kept"
        );
        let over = format!("{exact}x");
        let capped = cap_chars(&over, TITLE_MAX_CHARS).expect("cut");
        assert_eq!(capped.chars().count(), TITLE_MAX_CHARS);
    }
}

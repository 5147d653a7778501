//! Repairs for documents that feed-rs refuses or misreads, each reported as a short
//! sentence for the feed's health page. Repairs only rewrite text; none invents content.

use super::balance;
use super::markup::{Token, attribute, token_at};

/// RSS elements whose content is text; raw HTML inside them is parsed by feed-rs as child
/// elements and silently lost (or breaks the document when a tag is left open).
const RSS_TEXT_ELEMENTS: &[&str] = &["title", "description", "content:encoded"];

/// The RSS versions feed-rs recognises; any other makes it find "no feed root".
const KNOWN_RSS_VERSIONS: &[&str] = &["2.0", "0.91", "0.92"];

/// Repairs worth making before the first attempt: they fix documents feed-rs would accept
/// but misread, or refuse outright, and change nothing in a conforming document.
pub(super) fn before_parsing(text: &str, repairs: &mut Vec<String>) -> String {
    let Some((root, range)) = root_element(text) else {
        return text.to_string();
    };
    let text = if root.eq_ignore_ascii_case("rss") {
        fix_rss_version(text, range, repairs)
    } else {
        text.to_string()
    };
    wrap_raw_html_in_rss(&text, repairs)
}

/// Repairs made after feed-rs refused the document: escapes and tag balancing, then the
/// CDATA wrapping again, since an element left open is now closed and can be wrapped.
pub(super) fn after_failure(text: &str, repairs: &mut Vec<String>) -> String {
    let repaired = balance_markup(text, repairs);
    wrap_raw_html_in_rss(&repaired, repairs)
}

fn balance_markup(text: &str, repairs: &mut Vec<String>) -> String {
    let (repaired, report) = balance::repair_markup(text);
    let notes = [
        (report.bare_ampersands, "bare & escaped"),
        (report.stray_less_than, "stray < escaped"),
        (report.closed_tags, "unclosed tag(s) closed"),
        (report.dropped_end_tags, "stray end tag(s) dropped"),
    ];
    for (count, note) in notes {
        if count > 0 {
            repairs.push(format!("{note} ({count})"));
        }
    }
    if report.dropped_incomplete_item {
        repairs.push("truncated document: incomplete last item dropped".to_string());
    } else if report.truncated {
        repairs.push("truncated document: open elements closed".to_string());
    }
    repaired
}

/// The first element of the document: its name and the byte range of its start tag.
pub(super) fn root_element(text: &str) -> Option<(&str, std::ops::Range<usize>)> {
    let mut at = 0;
    loop {
        at += text[at..].find('<')?;
        match token_at(&text[at..]) {
            Token::Verbatim(len) => at += len,
            Token::Start { name, len, .. } => return Some((name, at..at + len)),
            _ => return None,
        }
    }
}

/// `<rss version="2.00">` or `<rss>` → `version="2.0"`; `0.9x` stays RSS 0.9x.
fn fix_rss_version(text: &str, root: std::ops::Range<usize>, repairs: &mut Vec<String>) -> String {
    let tag = &text[root.clone()];
    let (new_tag, note) = match attribute(tag, "version") {
        Some((_, version)) if KNOWN_RSS_VERSIONS.contains(&version) => return text.to_string(),
        Some((range, version)) => {
            let fixed = if version.trim().starts_with("0.9") {
                "0.92"
            } else {
                "2.0"
            };
            let note = format!("rss version \"{version}\" read as {fixed}");
            (
                format!("{}{fixed}{}", &tag[..range.start], &tag[range.end..]),
                note,
            )
        }
        None => {
            // Insert right after the element name, before any other attribute.
            let name_end = "<rss".len();
            let note = "rss without version read as 2.0".to_string();
            (
                format!("{} version=\"2.0\"{}", &tag[..name_end], &tag[name_end..]),
                note,
            )
        }
    };
    repairs.push(note);
    format!("{}{new_tag}{}", &text[..root.start], &text[root.end..])
}

/// Wraps the content of RSS text elements that hold raw markup in CDATA, so that the
/// markup reaches us as text (and a `<b>` left open cannot break the document). Atom has
/// `type="xhtml"` for markup, so only RSS documents are touched.
fn wrap_raw_html_in_rss(text: &str, repairs: &mut Vec<String>) -> String {
    let is_rss = root_element(text)
        .is_some_and(|(root, _)| root.eq_ignore_ascii_case("rss") || root.ends_with("RDF"));
    if !is_rss {
        return text.to_string();
    }
    let mut text = text.to_string();
    for name in RSS_TEXT_ELEMENTS {
        let (wrapped, count) = wrap_element(&text, name);
        if count > 0 {
            repairs.push(format!("raw HTML in <{name}> wrapped in CDATA ({count})"));
            text = wrapped;
        }
    }
    text
}

fn wrap_element(text: &str, name: &str) -> (String, usize) {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(text.len());
    let (mut rest, mut count) = (text, 0);
    while let Some(start) = rest.find(&open) {
        let content_start = start + open.len();
        let Some(length) = rest[content_start..].find(&close) else {
            break;
        };
        let content = &rest[content_start..content_start + length];
        out.push_str(&rest[..content_start]);
        // An element left open would reach into the next item: that is for the markup
        // repair to close, not for us to swallow into one text.
        let spans_items = content.contains("<item") || content.contains("</item>");
        if has_raw_markup(content) && !spans_items {
            out.push_str(&as_cdata(content));
            count += 1;
        } else {
            out.push_str(content);
        }
        rest = &rest[content_start + length..];
    }
    out.push_str(rest);
    (out, count)
}

/// Markup other than CDATA sections (which already keep their HTML as text).
fn has_raw_markup(content: &str) -> bool {
    let mut rest = content;
    while let Some(at) = rest.find('<') {
        match token_at(&rest[at..]) {
            Token::Verbatim(len) if rest[at..].starts_with("<![CDATA[") => rest = &rest[at + len..],
            Token::Start { .. } | Token::End { .. } | Token::Verbatim(_) => return true,
            Token::Stray | Token::Truncated => rest = &rest[at + 1..],
        }
    }
    false
}

/// One CDATA section holding `content` as text: inner CDATA sections are unwrapped, and
/// a `]]>` in the text is split so it cannot end the section early.
fn as_cdata(content: &str) -> String {
    let mut text = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.find("<![CDATA[") {
        text.push_str(&rest[..at]);
        let inner = &rest[at + "<![CDATA[".len()..];
        let end = inner.find("]]>").unwrap_or(inner.len());
        text.push_str(&inner[..end]);
        rest = inner.get(end + "]]>".len()..).unwrap_or("");
    }
    text.push_str(rest);
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str, notes: &[&str]) {
        let mut repairs = Vec::new();
        assert_eq!(
            before_parsing(input, &mut repairs),
            expect,
            "input: {input:?}"
        );
        assert_eq!(repairs, notes, "input: {input:?}");
    }

    #[test]
    fn rss_versions_are_fixed() {
        check(
            "<?xml version=\"1.0\"?><rss version=\"2.00\"/>",
            "<?xml version=\"1.0\"?><rss version=\"2.0\"/>",
            &["rss version \"2.00\" read as 2.0"],
        );
        check(
            "<!-- x --><rss xmlns:dc=\"d\">",
            "<!-- x --><rss version=\"2.0\" xmlns:dc=\"d\">",
            &["rss without version read as 2.0"],
        );
        check(
            "<rss version='0.90'>",
            "<rss version='0.92'>",
            &["rss version \"0.90\" read as 0.92"],
        );
        check("<rss version=\"2.0\">", "<rss version=\"2.0\">", &[]);
        check(
            "<feed><title>a <b>b</b></title></feed>",
            "<feed><title>a <b>b</b></title></feed>",
            &[],
        );
    }

    #[test]
    fn an_element_left_open_is_not_wrapped_across_items() {
        let input = "<rss version=\"2.0\"><item><description>a <b>x</item><item><description>b</description></item></rss>";
        check(input, input, &[]);
    }

    #[test]
    fn raw_html_in_rss_text_is_wrapped() {
        check(
            "<rss version=\"2.0\"><description>Testo <b>grassetto</description><title>ok</title></rss>",
            "<rss version=\"2.0\"><description><![CDATA[Testo <b>grassetto]]></description><title>ok</title></rss>",
            &["raw HTML in <description> wrapped in CDATA (1)"],
        );
        check(
            "<rss version=\"2.0\"><title><![CDATA[<b>x</b>]]> e <i>y</i> ]]&gt;</title></rss>",
            "<rss version=\"2.0\"><title><![CDATA[<b>x</b> e <i>y</i> ]]&gt;]]></title></rss>",
            &["raw HTML in <title> wrapped in CDATA (1)"],
        );
        check(
            "<rss version=\"2.0\"><title><![CDATA[<b>x</b>]]></title><title>5 < 6</title></rss>",
            "<rss version=\"2.0\"><title><![CDATA[<b>x</b>]]></title><title>5 < 6</title></rss>",
            &[],
        );
    }
}

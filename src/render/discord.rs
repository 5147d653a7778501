//! Discord markdown and embeds: every piece of text escaped (markdown, masked links,
//! `@everyone`/`@here` and `<@id>`/`<#id>`/`<@&id>` mentions neutralised), only http(s)
//! links, and Discord's limits respected (content 2000; embed title 256, description
//! 4096, field 1024, 6000 in all), cutting with `…`. Pure: nothing here sends.

use super::doc::{Doc, Span, is_safe_url};

/// A message's content.
pub const MAX_CONTENT: usize = 2000;
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FIELDS: usize = 25;
/// Title, description and every field name and value of one embed together.
pub const MAX_EMBED_TOTAL: usize = 6000;

/// Zero-width space: placed after `@` and `<` so that no mention or `<…>` syntax can form.
const ZWSP: char = '\u{200B}';

/// One embed, in our own terms (the adapter turns it into serenity's builder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Embed {
    pub title: Option<String>,
    /// Only ever an http(s) URL.
    pub url: Option<String>,
    pub description: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

impl Embed {
    /// The length Discord checks against [`MAX_EMBED_TOTAL`].
    pub fn total_length(&self) -> usize {
        self.title.as_deref().map_or(0, length)
            + length(&self.description)
            + self
                .fields
                .iter()
                .map(|f| length(&f.name) + length(&f.value))
                .sum::<usize>()
    }
}

/// Discord counts characters; UTF-16 units are never fewer, so counting them keeps every
/// piece within its limit whatever Discord's own count is.
pub fn length(text: &str) -> usize {
    super::utf16_len(text)
}

/// One character as Discord markdown: markdown characters backslash-escaped, `@` and `<`
/// followed by a zero-width space, line breaks folded (a line is one line).
fn escape_char(c: char, out: &mut String) {
    match c {
        '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | '(' | ')' => {
            out.push('\\');
            out.push(c);
        }
        '@' | '<' => {
            out.push(c);
            out.push(ZWSP);
        }
        '\n' | '\r' => out.push(' '),
        c => out.push(c),
    }
}

/// `text` safe to show in Discord markdown: it renders as itself, never as markup, a
/// link or a mention.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        escape_char(c, &mut out);
    }
    out
}

/// [`escape`], cut to at most `max` (with `…`) between escapes, never inside one.
pub fn escape_within(text: &str, max: usize) -> String {
    let full = escape(text);
    if length(&full) <= max {
        return full;
    }
    let mut out = String::new();
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        escape_char(c, &mut piece);
        if length(&out) + length(&piece) + 1 > max {
            break;
        }
        out.push_str(&piece);
    }
    out.push('…');
    out
}

/// Inline code cannot be escaped inside: backticks are replaced by a look-alike, and
/// mentions are still broken (a zero-width space is invisible there too).
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '`' => out.push('ˋ'),
            '@' | '<' => {
                out.push(c);
                out.push(ZWSP);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An http(s) URL as a masked link target: parsed and re-serialised (so spaces and
/// quotes are encoded), with the characters that would end the target encoded too.
pub fn link_target(url: &str) -> Option<String> {
    if !is_safe_url(url) {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    let mut out = String::new();
    for c in parsed.as_str().chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            c if c.is_whitespace() => out.push_str("%20"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `marker` around the escaped text, with its outer spaces outside the markers (Discord,
/// like CommonMark, does not start emphasis next to a space).
fn wrap(marker: &str, text: &str) -> String {
    let core = text.trim();
    if core.is_empty() {
        return text.to_string();
    }
    let start = &text[..text.len() - text.trim_start().len()];
    let end = &text[text.trim_end().len()..];
    format!("{start}{marker}{}{marker}{end}", escape(core))
}

fn span(span: &Span) -> String {
    match span {
        Span::Text(t) => escape(t),
        Span::Bold(t) => wrap("**", t),
        Span::Italic(t) => wrap("_", t),
        Span::Code(t) if t.trim().is_empty() => t.clone(),
        Span::Code(t) => format!("`{}`", code(t)),
        Span::Link { text, url } => {
            let shown = if text.trim().is_empty() { url } else { text };
            match link_target(url) {
                Some(target) => format!("[{}]({target})", escape(shown)),
                None => escape(shown),
            }
        }
    }
}

/// One line of the document as markdown.
pub fn line(spans: &[Span]) -> String {
    spans.iter().map(span).collect()
}

/// One line as plain text: no markup, links written out as `<url>` (no preview).
fn plain_line(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) | Span::Bold(t) | Span::Italic(t) | Span::Code(t) => {
                out.push_str(&escape(t))
            }
            Span::Link { text, url } => {
                out.push_str(&escape(text));
                match link_target(url) {
                    Some(target) => {
                        out.push_str(" <");
                        out.push_str(&target);
                        out.push('>');
                    }
                    None => {
                        out.push(' ');
                        out.push_str(&escape(url));
                    }
                }
            }
        }
    }
    out
}

/// A line's plain text, escaped and cut to `limit`, for a line too long to send whole
/// (cut as plain text so that no markup is left open).
fn cut_line(spans: &[Span], limit: usize) -> String {
    let plain = Doc {
        lines: vec![spans.to_vec()],
    }
    .plain();
    escape_within(&plain, limit)
}

/// The document as markdown messages of at most `limit` each, split between lines.
pub fn markdown_chunks(doc: &Doc, limit: usize) -> Vec<String> {
    super::join_lines(
        doc.lines.iter().map(|spans| {
            let rendered = line(spans);
            if length(&rendered) > limit {
                cut_line(spans, limit)
            } else {
                rendered
            }
        }),
        limit,
    )
}

/// The document as plain-text messages (the retry after Discord refused a message's
/// form): no embed, no markup, still escaped and within `limit`.
pub fn plain_chunks(doc: &Doc, limit: usize) -> Vec<String> {
    super::join_lines(
        doc.lines.iter().map(|spans| {
            let rendered = plain_line(spans);
            if length(&rendered) > limit {
                cut_line(spans, limit)
            } else {
                rendered
            }
        }),
        limit,
    )
}

/// A line that is a link and nothing else: the embed's title.
fn as_title(spans: &[Span]) -> Option<(String, Option<String>)> {
    match spans {
        [Span::Link { text, url }] => Some((
            escape_within(if text.trim().is_empty() { url } else { text }, MAX_TITLE),
            link_target(url),
        )),
        _ => None,
    }
}

/// A line that starts with a bold label ending in `: ` and has more after it: a field.
fn as_field(spans: &[Span]) -> Option<Field> {
    let (Span::Bold(label), rest) = spans.split_first()? else {
        return None;
    };
    let name = label.strip_suffix(": ")?.trim();
    let value = line(rest);
    if name.is_empty() || value.trim().is_empty() {
        return None;
    }
    let value = if length(&value) > MAX_FIELD_VALUE {
        cut_line(rest, MAX_FIELD_VALUE)
    } else {
        value
    };
    Some(Field {
        name: escape_within(name, MAX_FIELD_NAME),
        value,
    })
}

/// The document as embeds, one per message: the first line that is only a link becomes
/// the first embed's title (linked), lines starting with a bold `label: ` become its
/// fields, the rest its description. A description too long for one embed goes on in the
/// next ones, split between lines; every embed is within all of Discord's limits.
pub fn embeds(doc: &Doc) -> Vec<Embed> {
    let mut first = Embed::default();
    let mut description = Vec::new();
    for spans in &doc.lines {
        if first.title.is_none()
            && let Some((title, url)) = as_title(spans)
        {
            first.title = Some(title);
            first.url = url;
            continue;
        }
        if first.fields.len() < MAX_FIELDS
            && let Some(field) = as_field(spans)
        {
            first.fields.push(field);
            continue;
        }
        let rendered = line(spans);
        description.push(if length(&rendered) > MAX_DESCRIPTION {
            cut_line(spans, MAX_DESCRIPTION)
        } else {
            rendered
        });
    }
    let mut parts = super::join_lines(description, MAX_DESCRIPTION).into_iter();
    first.description = parts.next().unwrap_or_default();
    // Fields go only as far as the total allows beside the title and description; the
    // rest, in order, go on as lines of the next embeds, so nothing is lost.
    let mut used = first.title.as_deref().map_or(0, length) + length(&first.description);
    let mut overflow = Vec::new();
    for field in std::mem::take(&mut first.fields) {
        let size = length(&field.name) + length(&field.value);
        if overflow.is_empty() && used + size <= MAX_EMBED_TOTAL {
            used += size;
            first.fields.push(field);
        } else {
            overflow.push(format!("**{}:** {}", field.name, field.value));
        }
    }
    // The parts after the first split back at their line breaks (each piece within the
    // limit) and are chunked again with the overflowing fields after them.
    let rest = parts
        .flat_map(|part| part.split('\n').map(str::to_string).collect::<Vec<_>>())
        .chain(overflow);
    let mut out = vec![first];
    out.extend(
        super::join_lines(rest, MAX_DESCRIPTION)
            .into_iter()
            .filter(|description| !description.is_empty())
            .map(|description| Embed {
                description,
                ..Embed::default()
            }),
    );
    out
}

#[cfg(test)]
#[path = "discord_tests.rs"]
mod tests;

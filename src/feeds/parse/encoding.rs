//! Bytes → text: picks the character encoding (override, BOM, HTTP charset, XML
//! declaration, in that order), catches the two lies real sites tell about it, and
//! rewrites the XML declaration to say UTF-8 so that feed-rs does not decode twice.

use super::ParseError;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The document as text, the encoding it was read with, and what had to be corrected.
pub(super) struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub notes: Vec<String>,
}

/// Whether `label` names an encoding we can decode (for checking config once, at start).
pub fn charset_is_known(label: &str) -> bool {
    Encoding::for_label(label.trim().as_bytes()).is_some()
}

/// Decodes a feed body. Fails only for an override that names no known encoding.
pub(super) fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    charset_override: Option<&str>,
) -> Result<Decoded, ParseError> {
    let mut notes = Vec::new();
    let (text, encoding) = if let Some(label) = charset_override {
        let encoding = Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
            ParseError::UnknownCharset {
                label: label.to_string(),
            }
        })?;
        // The operator's word wins, even over a BOM; a BOM of that same encoding is dropped.
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        if had_errors {
            notes.push(format!(
                "bytes invalid in override charset {} replaced",
                encoding.name()
            ));
        }
        (text.into_owned(), encoding)
    } else if let Some((encoding, bom_length)) = Encoding::for_bom(bytes) {
        let rest = &bytes[bom_length..];
        if encoding == UTF_8 {
            // A UTF-8 byte-order mark is a declaration too, and is pasted in front of
            // Latin-1 bodies as readily as `encoding="UTF-8"`.
            decode_utf8_or_1252(rest, &mut notes)
        } else {
            let (text, _) = encoding.decode_without_bom_handling(rest);
            (text.into_owned(), encoding)
        }
    } else {
        let declared = declared_encoding(bytes, content_type, &mut notes);
        decode_declared(bytes, declared, &mut notes)
    };
    let text = rewrite_declaration(&text);
    Ok(Decoded {
        text,
        encoding,
        notes,
    })
}

/// Where the encoding was declared, for the operator's notes.
/// The encoding, the label as the site wrote it, and where it was written.
type Declared = Option<(&'static Encoding, String, &'static str)>;

/// The encoding the HTTP header, else the XML declaration, claims; unknown labels are noted
/// and skipped.
fn declared_encoding(
    bytes: &[u8],
    content_type: Option<&str>,
    notes: &mut Vec<String>,
) -> Declared {
    let sources = [
        (content_type.and_then(http_charset), "Content-Type"),
        (xml_declared_charset(bytes), "XML declaration"),
    ];
    for (label, source) in sources {
        let Some(label) = label else { continue };
        match Encoding::for_label(label.as_bytes()) {
            // A declaration we could read as ASCII cannot really be UTF-16 (as browsers do).
            Some(encoding) if source == "XML declaration" && is_utf16(encoding) => {
                return Some((UTF_8, label, source));
            }
            Some(encoding) => return Some((encoding, label, source)),
            None => notes.push(format!("unknown charset \"{label}\" in {source} ignored")),
        }
    }
    None
}

fn is_utf16(encoding: &'static Encoding) -> bool {
    encoding == UTF_16LE || encoding == UTF_16BE
}

/// Decodes with the declared encoding (UTF-8 if none), unless the bytes prove it wrong.
fn decode_declared(
    bytes: &[u8],
    declared: Declared,
    notes: &mut Vec<String>,
) -> (String, &'static Encoding) {
    let (encoding, label, source) = declared.unwrap_or((UTF_8, String::new(), "default"));
    if encoding == UTF_8 {
        return decode_utf8_or_1252(bytes, notes);
    }
    // Valid UTF-8 with multi-byte sequences is almost never legacy text: in windows-1252 it
    // would read as `Ã¨`-style pairs, which Italian prose does not contain (the Corriere case).
    if encoding.is_ascii_compatible()
        && let Ok(text) = std::str::from_utf8(bytes)
        && !text.is_ascii()
    {
        notes.push(format!(
            "declared {label} ({source}) but the body is UTF-8: read as UTF-8"
        ));
        return (text.to_string(), UTF_8);
    }
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (text.into_owned(), encoding)
}

/// UTF-8, except that bytes that are not valid UTF-8 are read as windows-1252: Latin-1
/// text served as UTF-8, or one Latin-1 paste in a UTF-8 page.
fn decode_utf8_or_1252(bytes: &[u8], notes: &mut Vec<String>) -> (String, &'static Encoding) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), UTF_8);
    }
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 8);
    let (mut invalid, mut any_multibyte) = (0usize, false);
    for chunk in bytes.utf8_chunks() {
        any_multibyte |= !chunk.valid().is_ascii();
        text.push_str(chunk.valid());
        invalid += chunk.invalid().len();
        let (latin, _) = WINDOWS_1252.decode_without_bom_handling(chunk.invalid());
        text.push_str(&latin);
    }
    notes.push(format!(
        "{invalid} byte(s) of invalid UTF-8 read as windows-1252"
    ));
    // Name what most of the document turned out to be.
    (text, if any_multibyte { UTF_8 } else { WINDOWS_1252 })
}

/// The `charset` parameter of a Content-Type header value.
fn http_charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (key, value) = parameter.split_once('=')?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (key.trim().eq_ignore_ascii_case("charset") && !value.is_empty()).then(|| value.to_string())
    })
}

/// The `encoding` of an `<?xml …?>` declaration at the start of the bytes.
fn xml_declared_charset(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &bytes[start..bytes.len().min(start + 200)];
    let end = head.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(head.get(..end)?).ok()?;
    let declaration = declaration.strip_prefix("<?xml")?;
    encoding_attribute(declaration).map(|(_, value)| value.to_string())
}

/// Finds `encoding="…"` in a declaration's text: the byte range of the value and the value.
fn encoding_attribute(declaration: &str) -> Option<(std::ops::Range<usize>, &str)> {
    let at = declaration.find("encoding")?;
    let rest = &declaration[at + "encoding".len()..];
    let after_equals = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = after_equals
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')?;
    let value_start = declaration.len() - after_equals.len() + 1;
    let value_length = declaration[value_start..].find(quote)?;
    let range = value_start..value_start + value_length;
    Some((range.clone(), &declaration[range]))
}

/// Says UTF-8 in the XML declaration, since the text handed on is UTF-8 whatever the
/// bytes were; also drops whitespace before the declaration, which XML forbids.
fn rewrite_declaration(text: &str) -> String {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let Some(end) = trimmed
        .starts_with("<?xml")
        .then(|| trimmed.find("?>"))
        .flatten()
    else {
        return text.to_string();
    };
    let declaration = &trimmed[..end];
    match encoding_attribute(declaration) {
        Some((range, _)) => format!("{}UTF-8{}", &trimmed[..range.start], &trimmed[range.end..]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(
        bytes: &[u8],
        content_type: Option<&str>,
        charset: Option<&str>,
    ) -> (String, &'static str, usize) {
        let result = decode(bytes, content_type, charset).expect("decodes");
        (result.text, result.encoding.name(), result.notes.len())
    }

    #[test]
    fn encodings_are_chosen_in_order() {
        let latin_decl: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>perch\xe9</a>";
        let utf8_decl_ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>perché</a>";
        let out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>perché</a>";
        // Bytes, Content-Type, override → text, encoding, number of notes.
        type Case<'a> = (
            &'a [u8],
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
            &'a str,
            usize,
        );
        let cases: &[Case] = &[
            (latin_decl, None, None, out, "windows-1252", 0),
            (utf8_decl_ok.as_bytes(), None, None, out, "UTF-8", 0),
            // HTTP wins over the declaration; the declaration is rewritten either way.
            (
                latin_decl,
                Some("text/xml; charset=\"iso-8859-1\""),
                None,
                out,
                "windows-1252",
                0,
            ),
            (
                b"<?xml version='1.0' encoding='utf-8'?><a>perch\xe9</a>",
                None,
                None,
                "<?xml version='1.0' encoding='UTF-8'?><a>perché</a>",
                "windows-1252",
                1,
            ),
            // The Corriere case: UTF-8 bytes declared ISO-8859-1.
            (
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>perché</a>".as_bytes(),
                None,
                None,
                out,
                "UTF-8",
                1,
            ),
            // The override wins even over the header.
            (
                latin_decl,
                Some("text/xml; charset=utf-8"),
                Some("latin1"),
                out,
                "windows-1252",
                0,
            ),
            (
                b"\xef\xbb\xbf<a>\xc3\xa8</a>",
                Some("text/xml; charset=iso-8859-1"),
                None,
                "<a>è</a>",
                "UTF-8",
                0,
            ),
            (b"\xff\xfe<\x00a\x00>\x00", None, None, "<a>", "UTF-16LE", 0),
            (
                b"  \n<?xml version=\"1.0\"?><a/>",
                None,
                None,
                "<?xml version=\"1.0\"?><a/>",
                "UTF-8",
                0,
            ),
            (
                b"<a>x</a>",
                Some("text/xml; charset=klingon"),
                None,
                "<a>x</a>",
                "UTF-8",
                1,
            ),
        ];
        for (bytes, content_type, charset, text, encoding, notes) in cases {
            let got = decoded(bytes, *content_type, *charset);
            assert_eq!(
                got,
                (text.to_string(), *encoding, *notes),
                "input: {bytes:?}"
            );
        }
    }

    #[test]
    fn mixed_utf8_and_latin1_keeps_both() {
        let (text, encoding, notes) = decoded(b"<a>\xc3\xa8 e \xe0</a>", None, None);
        assert_eq!(
            (text.as_str(), encoding, notes),
            ("<a>è e à</a>", "UTF-8", 1)
        );
    }

    #[test]
    fn latin1_behind_a_utf8_bom_is_read_as_windows_1252() {
        let (text, encoding, notes) = decoded(
            b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>Perch\xe9 l\x92export</a>",
            Some("text/xml; charset=utf-8"),
            None,
        );
        assert_eq!(
            (text.as_str(), encoding, notes),
            (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>Perché l’export</a>",
                "windows-1252",
                1
            )
        );
    }

    #[test]
    fn unknown_override_is_an_error() {
        let error = decode(b"<a/>", None, Some("klingon")).err();
        assert!(
            matches!(error, Some(ParseError::UnknownCharset { .. })),
            "{error:?}"
        );
        assert!(charset_is_known("ISO-8859-1") && !charset_is_known("klingon"));
    }
}

//! Reading JSON lines as the offline commands do: line by line, numbered from 1, a UTF-8
//! byte-order mark on the first line ignored, blank lines skipped. A line that is not UTF-8
//! is reported with its number and skipped; the lines after it are still read.

use anyhow::Context;
use std::io::{BufRead, Read};
use std::path::Path;

/// The readable lines of `file` (`-` for standard input) with their numbers, and how many
/// lines could not be read (each reported on stderr).
pub fn read_lines(file: &Path) -> anyhow::Result<(Vec<(usize, String)>, usize)> {
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?)
    };
    let name = file.display().to_string();
    split_lines(std::io::BufReader::new(reader), &name)
}

pub fn split_lines(
    mut reader: impl BufRead,
    name: &str,
) -> anyhow::Result<(Vec<(usize, String)>, usize)> {
    let mut lines = Vec::new();
    let mut bad = 0;
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .with_context(|| format!("reading {name}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        let mut bytes: &[u8] = &buffer;
        if number == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => lines.push((number, text.trim_end_matches(['\n', '\r']).to_string())),
            Err(error) => {
                eprintln!("{name}: line {number}: not UTF-8 text ({error}); skipped");
                bad += 1;
            }
        }
    }
    Ok((lines, bad))
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn a_bad_line_is_numbered_and_the_lines_after_it_are_read() {
        let input: &[u8] = b"\xEF\xBB\xBF{\"a\":1}\n\n{\"b\":\xff}\r\n{\"c\":3}";
        let (lines, bad) = split_lines(input, "test").expect("read");
        assert_eq!(bad, 1);
        assert_eq!(
            lines,
            vec![(1, "{\"a\":1}".to_string()), (4, "{\"c\":3}".to_string())]
        );
    }
}

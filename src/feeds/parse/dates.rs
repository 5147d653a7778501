//! Publication dates as Italian and international feeds write them: RFC 3339, RFC 2822,
//! and the same with Italian day and month names (`Lun, 06 Gen 2025`, `6 gennaio 2025`)
//! or zone abbreviations (`CET`, `CEST`). Unreadable dates give `None`, never a guess.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Month names and abbreviations, Italian and English, by month number.
#[rustfmt::skip]
const MONTHS: &[(&str, u32)] = &[
    ("gen", 1), ("gennaio", 1), ("jan", 1), ("january", 1),
    ("feb", 2), ("febbraio", 2), ("february", 2),
    ("mar", 3), ("marzo", 3), ("march", 3),
    ("apr", 4), ("aprile", 4), ("april", 4),
    ("mag", 5), ("maggio", 5), ("may", 5),
    ("giu", 6), ("giugno", 6), ("jun", 6), ("june", 6),
    ("lug", 7), ("luglio", 7), ("jul", 7), ("july", 7),
    ("ago", 8), ("agosto", 8), ("aug", 8), ("august", 8),
    ("set", 9), ("sett", 9), ("settembre", 9), ("sep", 9), ("sept", 9), ("september", 9),
    ("ott", 10), ("ottobre", 10), ("oct", 10), ("october", 10),
    ("nov", 11), ("novembre", 11), ("november", 11),
    ("dic", 12), ("dicembre", 12), ("dec", 12), ("december", 12),
];

/// Zone abbreviations seen in Italian feeds, as seconds east of UTC.
#[rustfmt::skip]
const ZONES: &[(&str, i32)] = &[
    ("z", 0), ("ut", 0), ("utc", 0), ("gmt", 0), ("wet", 0),
    ("cet", 3600), ("met", 3600), ("bst", 3600), ("west", 3600),
    ("cest", 7200), ("mest", 7200), ("eet", 7200), ("eest", 10800),
    ("est", -5 * 3600), ("edt", -4 * 3600), ("pst", -8 * 3600), ("pdt", -7 * 3600),
];

/// Day names, Italian (with and without accent) and English.
const WEEKDAYS: &[&str] = &[
    "lun",
    "mar",
    "mer",
    "gio",
    "ven",
    "sab",
    "dom",
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
    "lunedi",
    "martedi",
    "mercoledi",
    "giovedi",
    "venerdi",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "thurs",
    "tues",
];

/// Words that may stand between the parts of a date (`6 gennaio 2025 alle 10:00`).
const FILLER_WORDS: &[&str] = &["alle", "ore", "at", "h", "il", "del", "di"];

/// Parses a feed date. A date without a zone is read as UTC: without a time-zone database
/// we cannot know when Italian summer time applied, and UTC is at most two hours off.
pub(super) fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .map(|date| date.with_timezone(&Utc))
        .ok()
        .or_else(|| parse_numeric(text))
        .or_else(|| parse_words(text))
}

/// ISO-like dates that are not quite RFC 3339: a space instead of `T`, no zone, no time,
/// or the Italian `06/01/2025`.
fn parse_numeric(text: &str) -> Option<DateTime<Utc>> {
    const WITH_ZONE: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%dT%H:%M:%S%z",
    ];
    const WITHOUT_ZONE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ];
    let with_zone = WITH_ZONE
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok())
        .map(|date| date.with_timezone(&Utc));
    with_zone
        .or_else(|| {
            WITHOUT_ZONE
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })
        .or_else(|| {
            ["%Y-%m-%d", "%d/%m/%Y"]
                .iter()
                .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|naive| naive.and_utc())
        })
}

/// The parts of a worded date, found token by token.
#[derive(Default)]
struct Parts {
    day: Option<u32>,
    month: Option<u32>,
    year: Option<i32>,
    time: Option<NaiveTime>,
    offset_seconds: Option<i32>,
}

/// Worded dates in any order of tokens: `Lun, 06 Gen 2025 10:00:00 +0100`,
/// `6 gennaio 2025`, `Mon, 06 Jan 2025 10:00:00 CET`, `Jan 6 2025 10:00 GMT`.
fn parse_words(text: &str) -> Option<DateTime<Utc>> {
    let mut parts = Parts::default();
    let tokens = strip_weekday(text)
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty());
    for (index, token) in tokens.enumerate() {
        let lower = token.to_lowercase();
        let lower = lower.trim_end_matches('.');
        if !read_token(&mut parts, lower) && !is_ignorable(lower, index) {
            return None;
        }
    }
    let date = NaiveDate::from_ymd_opt(parts.year?, parts.month?, parts.day?)?;
    let time = parts.time.unwrap_or(NaiveTime::MIN);
    let offset = FixedOffset::east_opt(parts.offset_seconds.unwrap_or(0))?;
    let local = offset.from_local_datetime(&date.and_time(time)).single()?;
    Some(local.with_timezone(&Utc))
}

/// Fills one part from a token; false if the token is no date part (or a repeated one).
fn read_token(parts: &mut Parts, token: &str) -> bool {
    if let Some(&(_, month)) = MONTHS.iter().find(|(name, _)| *name == token) {
        return parts.month.replace(month).is_none();
    }
    if let Some(&(_, seconds)) = ZONES.iter().find(|(name, _)| *name == token) {
        return parts.offset_seconds.replace(seconds).is_none();
    }
    if let Some(seconds) = numeric_offset(token) {
        return parts.offset_seconds.replace(seconds).is_none();
    }
    if token.contains(':') {
        let time = NaiveTime::parse_from_str(token, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(token, "%H:%M"));
        return time.is_ok_and(|time| parts.time.replace(time).is_none());
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match (token.len(), token.parse::<i32>()) {
        (1 | 2, Ok(day)) => parts.day.replace(day.unsigned_abs()).is_none(),
        (4, Ok(year)) => parts.year.replace(year).is_none(),
        _ => false,
    }
}

/// Weekday names and filler words carry nothing we need; anything else makes the date
/// unreadable rather than wrongly read.
fn is_ignorable(token: &str, index: usize) -> bool {
    (index == 0 && WEEKDAYS.contains(&token)) || FILLER_WORDS.contains(&token)
}

/// Drops a leading `Weekday,`: Italian `Mar` (martedì) is also `mar` (marzo), and only the
/// comma tells them apart.
fn strip_weekday(text: &str) -> &str {
    match text.split_once(',') {
        Some((head, tail))
            if WEEKDAYS.contains(&head.trim().to_lowercase().trim_end_matches('.')) =>
        {
            tail
        }
        _ => text,
    }
}

/// `+0100`, `-05:00`, `+01` → seconds east of UTC.
fn numeric_offset(token: &str) -> Option<i32> {
    let sign = match token.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = token[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
    }

    #[test]
    fn dates_are_read_in_italian_and_english() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "Mon, 06 Jan 2025 10:00:00 +0100",
                Some("2025-01-06T09:00:00Z"),
            ),
            ("2025-01-06T10:00:00+01:00", Some("2025-01-06T09:00:00Z")),
            (
                "Lun, 06 Gen 2025 10:00:00 +0100",
                Some("2025-01-06T09:00:00Z"),
            ),
            (
                "lunedì, 6 gennaio 2025 10:00 CET",
                Some("2025-01-06T09:00:00Z"),
            ),
            (
                "Mar, 15 Lug 2025 08:30:00 CEST",
                Some("2025-07-15T06:30:00Z"),
            ),
            (
                "Mon, 06 Jan 2025 10:00:00 CET",
                Some("2025-01-06T09:00:00Z"),
            ),
            (
                "Mon, 06 Jan 2025 10:00:00 UTC",
                Some("2025-01-06T10:00:00Z"),
            ),
            (
                "Mon, 06 Jan 2025 10:00:00 GMT",
                Some("2025-01-06T10:00:00Z"),
            ),
            ("06 gennaio 2025", Some("2025-01-06T00:00:00Z")),
            ("6 Dic 2024 alle 18:05", Some("2024-12-06T18:05:00Z")),
            (
                "Gio, 3 Sett. 2026 7:15:00 +01:00",
                Some("2026-09-03T06:15:00Z"),
            ),
            ("January 6, 2025 10:00 GMT", Some("2025-01-06T10:00:00Z")),
            ("2025-01-06 10:00:00", Some("2025-01-06T10:00:00Z")),
            ("2025-01-06 10:00:00 +0200", Some("2025-01-06T08:00:00Z")),
            ("06/01/2025 10:00", Some("2025-01-06T10:00:00Z")),
            ("2025-01-06", Some("2025-01-06T00:00:00Z")),
            ("31 Feb 2025", None),
            ("ieri", None),
            ("06 gennaio", None),
            ("Mon, 06 Foo 2025 10:00:00 CET", None),
            ("", None),
        ];
        for (raw, expect) in cases {
            assert_eq!(parse_date(raw), expect.and_then(utc), "input: {raw:?}");
        }
    }
}

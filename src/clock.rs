//! The wall clock, read in one place. Everything outside the pure core that needs the
//! current time asks [`now`]; the pure core never does (it takes `now` as a parameter).
//!
//! `CHIPWATCH_CLOCK_SHIFT` (a duration such as `3650d`, or `-2h`) moves this clock by a
//! fixed amount. It exists for drills and for the test suite, which runs its date-sensitive
//! parts years ahead of the real date to prove that nothing in them expires; a production
//! run leaves it unset. `clippy.toml` forbids `Utc::now` elsewhere, so no part of the
//! service can read a clock the shift does not move.

use chrono::{DateTime, Utc};
use std::sync::OnceLock;

/// The environment variable that shifts the clock.
pub const SHIFT_VAR: &str = "CHIPWATCH_CLOCK_SHIFT";

static SHIFT: OnceLock<chrono::Duration> = OnceLock::new();

/// The current time, moved by `CHIPWATCH_CLOCK_SHIFT` when it is set.
#[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
pub fn now() -> DateTime<Utc> {
    let shift = *SHIFT.get_or_init(|| shift_from_env().unwrap_or_default());
    Utc::now()
        .checked_add_signed(shift)
        .unwrap_or_else(Utc::now)
}

/// Checks `CHIPWATCH_CLOCK_SHIFT` once at start, so that a malformed value is a clear
/// error rather than a clock silently left unshifted. Returns the shift in force.
pub fn init() -> Result<chrono::Duration, String> {
    let shift = shift_from_env()?;
    let _ = SHIFT.set(shift);
    Ok(*SHIFT.get().unwrap_or(&shift))
}

fn shift_from_env() -> Result<chrono::Duration, String> {
    match std::env::var(SHIFT_VAR) {
        Ok(text) if !text.trim().is_empty() => parse_shift(&text),
        _ => Ok(chrono::Duration::zero()),
    }
}

/// `3650d`, `+10y`, `-90m`: a humantime duration with an optional sign.
pub fn parse_shift(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let duration = humantime::parse_duration(magnitude.trim())
        .map_err(|e| format!("{SHIFT_VAR}=`{text}` is not a duration such as `3650d`: {e}"))?;
    // Ten thousand years is far beyond any drill and keeps every date representable.
    let limit = std::time::Duration::from_secs(10_000 * 366 * 86_400);
    if duration > limit {
        return Err(format!("{SHIFT_VAR}=`{text}` is more than 10,000 years"));
    }
    let shift =
        chrono::Duration::from_std(duration).map_err(|e| format!("{SHIFT_VAR}=`{text}`: {e}"))?;
    Ok(if negative { -shift } else { shift })
}

#[cfg(test)]
mod tests {
    use super::parse_shift;

    #[test]
    fn shifts_parse_with_a_sign_and_refuse_nonsense() {
        let day = chrono::Duration::days(1);
        assert_eq!(parse_shift("1d"), Ok(day));
        assert_eq!(parse_shift("+1d"), Ok(day));
        assert_eq!(parse_shift(" -1d "), Ok(-day));
        assert_eq!(parse_shift("3650d"), Ok(day * 3650));
        assert!(parse_shift("soon").is_err());
        assert!(parse_shift("1000000y").is_err());
    }
}

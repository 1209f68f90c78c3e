//! Durations as people write them in a config: `"30s"`, `"5m"`, `"250ms"`.
//!
//! One number and one unit, nothing else: `"1m30s"` is refused rather than
//! guessed at, and so is a bare number, whose unit nobody can tell.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("duration {0:?} has no unit (write e.g. \"30s\", \"5m\", \"250ms\")")]
    NoUnit(String),
    #[error("duration {0:?}: unknown unit (use ms, s, m or h)")]
    Unit(String),
    #[error("duration {0:?} is not a number followed by a unit")]
    Number(String),
    #[error("duration {0:?} is too long")]
    Overflow(String),
}

/// Parses `<integer><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| DurationError::NoUnit(text.to_owned()))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| DurationError::Number(text.to_owned()))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(DurationError::Unit(text.to_owned())),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| DurationError::Overflow(text.to_owned()))
}

/// The shortest exact form in the units [`parse_duration`] reads
/// (`"5m"`, `"1500ms"`); it also reads well in a reason.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let units = [(3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    for (size, unit) in units {
        if millis >= size && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

pub(crate) mod serde_duration {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        assert!(matches!(
            parse_duration("30"),
            Err(DurationError::NoUnit(_))
        ));
        assert!(matches!(
            parse_duration("1m30s"),
            Err(DurationError::Unit(_))
        ));
        assert!(matches!(parse_duration("s"), Err(DurationError::Number(_))));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Number(_))
        ));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("99999999999999999999h"),
            Err(DurationError::Number(_))
        ));
        assert!(matches!(
            parse_duration("18446744073709551615h"),
            Err(DurationError::Number(_) | DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_back_to_what_it_reads() {
        for text in ["250ms", "1500ms", "30s", "5m", "2h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}

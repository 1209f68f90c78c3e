//! Time: microseconds since the Unix epoch, UTC.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in time, microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised time {input:?}: expected RFC 3339 (2024-05-01T12:00:00Z) or epoch seconds/milliseconds/microseconds/nanoseconds")]
pub struct TimestampError {
    pub input: String,
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(MICROS_PER_SEC))
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// Whole days since the epoch (floor): the key of a daily partition.
    pub fn day(self) -> i64 {
        self.0.div_euclid(MICROS_PER_DAY)
    }

    /// The first microsecond of day `day` (inverse of [`Timestamp::day`]).
    pub fn start_of_day(day: i64) -> Self {
        Timestamp(day.saturating_mul(MICROS_PER_DAY))
    }

    /// Parses RFC 3339 (`2024-05-01T12:00:00.123Z`, also with a space instead
    /// of `T` and, without an offset, taken as UTC) or a decimal epoch number
    /// whose unit is guessed from its magnitude.
    pub fn parse(input: &str) -> Result<Self, TimestampError> {
        let s = input.trim();
        let err = || TimestampError {
            input: input.to_string(),
        };
        if let Ok(n) = s.parse::<f64>() {
            return Self::from_epoch_number(n).ok_or_else(err);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Ok(Timestamp(dt.timestamp_micros()));
        }
        let with_t = s.replacen(' ', "T", 1);
        if let Ok(dt) = DateTime::parse_from_rfc3339(&with_t) {
            return Ok(Timestamp(dt.timestamp_micros()));
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(&with_t, fmt) {
                return Ok(Timestamp(naive.and_utc().timestamp_micros()));
            }
        }
        Err(err())
    }

    /// Reads a JSON value as a time: a string as in [`Timestamp::parse`] or
    /// a number of epoch seconds, milliseconds, microseconds or nanoseconds.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(s) => Self::parse(s).ok(),
            serde_json::Value::Number(n) => n.as_f64().and_then(Self::from_epoch_number),
            _ => None,
        }
    }

    /// Epoch numbers: the unit is the one that puts the value between 1973
    /// and 5138, which is unambiguous for seconds, ms, µs and ns.
    fn from_epoch_number(n: f64) -> Option<Self> {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let micros = if n < 1e11 {
            n * 1e6
        } else if n < 1e14 {
            n * 1e3
        } else if n < 1e17 {
            n
        } else {
            n / 1e3
        };
        if micros > i64::MAX as f64 {
            return None;
        }
        Some(Timestamp(micros as i64))
    }

    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_micros(self.0)
            .map(|dt| dt.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_714_564_800_000_000; // 2024-05-01T12:00:00Z

    #[test]
    fn parses_rfc3339_variants() {
        assert_eq!(Timestamp::parse("2024-05-01T12:00:00Z").unwrap().0, T);
        assert_eq!(Timestamp::parse("2024-05-01T14:00:00+02:00").unwrap().0, T);
        assert_eq!(Timestamp::parse("2024-05-01 12:00:00Z").unwrap().0, T);
        assert_eq!(Timestamp::parse("2024-05-01T12:00:00").unwrap().0, T);
        assert_eq!(
            Timestamp::parse("2024-05-01T12:00:00.000250Z").unwrap().0,
            T + 250
        );
    }

    #[test]
    fn parses_epoch_in_every_unit() {
        for s in [
            "1714564800",
            "1714564800000",
            "1714564800000000",
            "1714564800000000000",
        ] {
            assert_eq!(Timestamp::parse(s).unwrap().0, T, "{s}");
        }
        assert_eq!(Timestamp::parse("1714564800.5").unwrap().0, T + 500_000);
        assert_eq!(
            Timestamp::from_json(&serde_json::json!(1714564800))
                .unwrap()
                .0,
            T
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "yesterday", "2024-13-01T00:00:00Z", "-5", "NaN", "inf"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::from_json(&serde_json::json!(true)).is_none());
    }

    #[test]
    fn days_round_trip() {
        let t = Timestamp(T);
        assert_eq!(
            Timestamp::start_of_day(t.day()).0,
            T - 12 * 3600 * MICROS_PER_SEC
        );
        assert_eq!(Timestamp(-1).day(), -1);
        assert_eq!(Timestamp(T).to_rfc3339(), "2024-05-01T12:00:00Z");
    }
}

//! Durations as people write them in rule files: `500ms`, `90s`, `5m`,
//! `2h`, `1d`, `1w`, or several at once (`1h30m`).
//!
//! A newtype over milliseconds rather than `std::time::Duration`: every
//! time in this crate is an `i64` of Unix milliseconds, so spans subtract
//! and compare with them without conversions, and the text form is the one
//! that goes into and out of TOML/JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A non-negative length of time in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

const UNITS: [(&str, i64); 6] = [
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_ms(ms: i64) -> Span {
        Span(ms)
    }
    pub const fn from_secs(s: i64) -> Span {
        Span(s * 1_000)
    }
    pub const fn from_mins(m: i64) -> Span {
        Span(m * 60_000)
    }
    pub const fn from_hours(h: i64) -> Span {
        Span(h * 3_600_000)
    }
    pub const fn from_days(d: i64) -> Span {
        Span(d * 86_400_000)
    }
    pub const fn as_ms(self) -> i64 {
        self.0
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Why a span did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {problem} (write e.g. 90s, 5m, 2h, 1d, 1h30m)")]
pub struct SpanError {
    pub text: String,
    pub problem: &'static str,
}

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Span, SpanError> {
        let err = |problem| SpanError {
            text: text.to_string(),
            problem,
        };
        let s = text.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s == "0" {
            return Ok(Span::ZERO);
        }
        let mut total: i64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let n: i64 = rest[..digits]
                .parse()
                .map_err(|_| err("number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let (_, factor) = UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .ok_or_else(|| {
                    err(if unit.is_empty() {
                        "missing unit"
                    } else {
                        "unknown unit"
                    })
                })?;
            total = n
                .checked_mul(*factor)
                .and_then(|ms| total.checked_add(ms))
                .ok_or_else(|| err("too long"))?;
        }
        Ok(Span(total))
    }
}

impl fmt::Display for Span {
    /// The canonical form: largest units first, `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (name, factor) in UNITS {
            if rest >= factor {
                write!(f, "{}{name}", rest / factor)?;
                rest %= factor;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn span_parses_units_and_sums() {
        assert_eq!("500ms".parse(), Ok(Span::from_ms(500)));
        assert_eq!("90s".parse(), Ok(Span::from_secs(90)));
        assert_eq!("1h30m".parse(), Ok(Span::from_mins(90)));
        assert_eq!("1w".parse(), Ok(Span::from_days(7)));
        assert_eq!("0".parse(), Ok(Span::ZERO));
    }

    #[test]
    fn span_refuses_garbage() {
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-5m",
            "1.5h",
            "99999999999999999999s",
            "9999999999999w",
        ] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
    }

    #[test]
    fn span_displays_canonically_and_round_trips() {
        for (ms, text) in [
            (0, "0s"),
            (90_000, "1m30s"),
            (86_400_000, "1d"),
            (1_500, "1s500ms"),
        ] {
            let span = Span::from_ms(ms);
            assert_eq!(span.to_string(), text);
            assert_eq!(text.parse(), Ok(span));
        }
    }
}

//! Maintenance windows: planned work during which alerts are held back.
//!
//! A window is one-off (`start`..`end`, Unix ms) or weekly (days of the
//! week, a local start time, a duration, in a fixed UTC offset). Fixed
//! offsets rather than IANA zones: no time-zone database is in the build,
//! and a window written as "Sundays 22:00 +01:00 for 4h" means the same
//! instants all year, which is what a change board signs off. A weekly
//! window may cross midnight (and the end of the week); it is matched by
//! looking back at the starts of the last seven days.
//!
//! Scope: asset ids, asset tags, or `all`. An empty scope is refused: a
//! window that silences nothing is a mistake, one that silences everything
//! must say so.

use crate::span::Span;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One maintenance window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Named in suppressions: `Maintenance("patch-tuesday")`.
    pub id: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub scope: Scope,
    pub schedule: Schedule,
}

/// What a window covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub assets: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `[start_ms, end_ms)`.
    Once { start_ms: i64, end_ms: i64 },
    /// Each listed day (`mon`..`sun`) at `start` (`HH:MM`) local to
    /// `utc_offset` (`+02:00`, default `+00:00`), for `duration` (at most a
    /// week).
    Weekly {
        days: Vec<Weekday>,
        start: String,
        duration: Span,
        #[serde(default)]
        utc_offset: Option<String>,
    },
}

/// A window that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {id:?}: {problem}")]
pub struct WindowError {
    pub id: String,
    pub problem: String,
}

impl MaintenanceWindow {
    pub fn validate(&self) -> Result<(), WindowError> {
        self.check().map_err(|problem| WindowError {
            id: self.id.clone(),
            problem,
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("id is empty".into());
        }
        let scope = &self.scope;
        if !scope.all && scope.assets.is_empty() && scope.tags.is_empty() {
            return Err("scope names no asset or tag (say all = true to cover everything)".into());
        }
        match &self.schedule {
            Schedule::Once { start_ms, end_ms } if end_ms <= start_ms => {
                Err(format!("end {end_ms} is not after start {start_ms}"))
            }
            Schedule::Once { .. } => Ok(()),
            Schedule::Weekly {
                days,
                start,
                duration,
                utc_offset,
            } => {
                if days.is_empty() {
                    return Err("weekly window has no days".into());
                }
                parse_time(start)?;
                if let Some(offset) = utc_offset {
                    parse_offset(offset)?;
                }
                if duration.as_ms() <= 0 || *duration > Span::from_days(7) {
                    return Err(format!(
                        "duration {duration} must be over 0s and at most 1w"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Whether the window covers an asset with these tags.
    pub fn covers(&self, asset: &str, tags: Option<&BTreeSet<String>>) -> bool {
        let scope = &self.scope;
        scope.all
            || scope.assets.iter().any(|a| a == asset)
            || tags.is_some_and(|tags| scope.tags.iter().any(|t| tags.contains(t)))
    }

    /// Whether the window is open at `now_ms`. An invalid window (see
    /// [`MaintenanceWindow::validate`]) is never open.
    pub fn is_open(&self, now_ms: i64) -> bool {
        match &self.schedule {
            Schedule::Once { start_ms, end_ms } => *start_ms <= now_ms && now_ms < *end_ms,
            Schedule::Weekly {
                days,
                start,
                duration,
                utc_offset,
            } => {
                weekly_open(days, start, *duration, utc_offset.as_deref(), now_ms).unwrap_or(false)
            }
        }
    }
}

fn weekly_open(
    days: &[Weekday],
    start: &str,
    duration: Span,
    offset: Option<&str>,
    now_ms: i64,
) -> Result<bool, String> {
    let offset = offset.map(parse_offset).transpose()?.unwrap_or(utc());
    let start = parse_time(start)?;
    let Some(now) = DateTime::from_timestamp_millis(now_ms) else {
        return Ok(false);
    };
    let local = now.with_timezone(&offset).naive_local();
    let Some(length) = Duration::try_milliseconds(duration.as_ms()) else {
        return Ok(false);
    };
    // A window open now started today or on one of the 7 days before.
    for back in 0..=7 {
        let Some(day) = local.date().checked_sub_signed(Duration::days(back)) else {
            continue;
        };
        if !days.contains(&day.weekday()) {
            continue;
        }
        let opens = day.and_time(start);
        let closes = opens.checked_add_signed(length);
        if opens <= local && closes.is_some_and(|closes| local < closes) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero offset is valid"))
}

/// `HH:MM` (24 h).
fn parse_time(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("start time {text:?} is not HH:MM (24 h)"))
}

/// `+HH:MM`, `-HH:MM` or `Z`.
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    let bad = || format!("utc offset {text:?} is not +HH:MM, -HH:MM or Z");
    if text == "Z" {
        return Ok(utc());
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let date = NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, mi, 0));
        Utc.from_utc_datetime(&date.expect("valid date"))
            .timestamp_millis()
    }

    fn weekly(
        days: Vec<Weekday>,
        start: &str,
        hours: i64,
        offset: Option<&str>,
    ) -> MaintenanceWindow {
        MaintenanceWindow {
            id: "w".into(),
            note: String::new(),
            scope: Scope {
                all: true,
                ..Scope::default()
            },
            schedule: Schedule::Weekly {
                days,
                start: start.into(),
                duration: Span::from_hours(hours),
                utc_offset: offset.map(str::to_string),
            },
        }
    }

    #[test]
    fn weekly_window_crosses_midnight() {
        // 2026-11-22 is a Sunday.
        let w = weekly(vec![Weekday::Sun], "22:00", 4, None);
        assert!(w.validate().is_ok());
        assert!(!w.is_open(ms(2026, 11, 22, 21, 59)));
        assert!(w.is_open(ms(2026, 11, 22, 22, 0)));
        assert!(w.is_open(ms(2026, 11, 23, 1, 59)));
        assert!(!w.is_open(ms(2026, 11, 23, 2, 0)));
        // Monday 22:00 is not a start.
        assert!(!w.is_open(ms(2026, 11, 23, 22, 30)));
        // A week later again.
        assert!(w.is_open(ms(2026, 11, 29, 23, 0)));
    }

    #[test]
    fn weekly_window_honours_fixed_offset() {
        // Sunday 01:00 at +05:00 is Saturday 20:00 UTC.
        let w = weekly(vec![Weekday::Sun], "01:00", 1, Some("+05:00"));
        assert!(w.is_open(ms(2026, 11, 21, 20, 30)));
        assert!(!w.is_open(ms(2026, 11, 22, 1, 30)));
        // Same instants in summer: a fixed offset has no DST.
        assert!(w.is_open(ms(2026, 7, 18, 20, 30)));
        let west = weekly(vec![Weekday::Sat], "23:30", 1, Some("-03:30"));
        // Saturday 23:30 at -03:30 is Sunday 03:00 UTC.
        assert!(west.is_open(ms(2026, 11, 22, 3, 10)));
    }

    #[test]
    fn week_long_window_wraps() {
        let w = weekly(vec![Weekday::Mon], "00:00", 7 * 24, None);
        assert!(w.is_open(ms(2026, 11, 22, 23, 59)));
    }

    #[test]
    fn once_window_is_half_open() {
        let w = MaintenanceWindow {
            schedule: Schedule::Once {
                start_ms: 100,
                end_ms: 200,
            },
            ..weekly(vec![Weekday::Mon], "00:00", 1, None)
        };
        assert!(!w.is_open(99));
        assert!(w.is_open(100));
        assert!(!w.is_open(200));
    }

    #[test]
    fn invalid_windows_are_refused_clearly() {
        let mut w = weekly(vec![], "22:00", 1, None);
        assert!(w
            .validate()
            .is_err_and(|e| e.to_string().contains("no days")));
        w = weekly(vec![Weekday::Mon], "25:00", 1, None);
        assert!(w.validate().is_err_and(|e| e.problem.contains("HH:MM")));
        w = weekly(vec![Weekday::Mon], "01:00", 1, Some("+2"));
        assert!(w.validate().is_err_and(|e| e.problem.contains("offset")));
        w = weekly(vec![Weekday::Mon], "01:00", 24 * 8, None);
        assert!(w.validate().is_err());
        w = weekly(vec![Weekday::Mon], "01:00", 1, None);
        w.scope = Scope::default();
        assert!(w.validate().is_err_and(|e| e.problem.contains("scope")));
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("Z").map(|o| o.local_minus_utc()), Ok(0));
        assert_eq!(
            parse_offset("-03:30").map(|o| o.local_minus_utc()),
            Ok(-12_600)
        );
        for bad in ["", "+1:00", "0200", "+24:00", "+02:60", "+ab:cd"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}

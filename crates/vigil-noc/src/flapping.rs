//! Flapping: a check that keeps changing state gives one "flapping" alert,
//! not a page per change.
//!
//! Nagios judges the percent of state changes over the last 21 results,
//! with a high threshold to start and a lower one to stop. Checks here run
//! on a schedule, so the count of changes in a time window measures the
//! same thing and reads plainly in a config: flapping starts at
//! `start_changes` changes within `window` and stops once the window holds
//! at most `stop_changes` (the gap is the hysteresis: a check that settles
//! for a moment is not declared stable and flapping again a minute later).

use crate::span::Span;
use crate::spec::Severity;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// When a check counts as flapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlapConfig {
    pub window: Span,
    pub start_changes: u32,
    pub stop_changes: u32,
    pub severity: Severity,
}

impl Default for FlapConfig {
    /// 5 changes in 10 minutes start; at most 1 in 10 minutes stops.
    fn default() -> Self {
        FlapConfig {
            window: Span::from_mins(10),
            start_changes: 5,
            stop_changes: 1,
            severity: Severity::Medium,
        }
    }
}

impl FlapConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.window.as_ms() <= 0 {
            return Err("flapping window must be longer than 0s".into());
        }
        if self.start_changes < 2 || self.stop_changes >= self.start_changes {
            return Err(format!(
                "flapping needs start_changes >= 2 and stop_changes < start_changes (got {} and {})",
                self.start_changes, self.stop_changes
            ));
        }
        Ok(())
    }
}

/// A start or stop of flapping, with the changes in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flap {
    Started(usize),
    Stopped(usize),
}

/// One check's recent state changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FlapHistory {
    #[serde(default)]
    pub last_up: Option<bool>,
    #[serde(default)]
    pub changes: VecDeque<i64>,
    #[serde(default)]
    pub flapping: bool,
}

impl FlapHistory {
    pub fn record(&mut self, time: i64, up: bool, cfg: &FlapConfig) -> Option<Flap> {
        if self.last_up.is_some_and(|was| was != up) {
            self.changes.push_back(time);
        }
        self.last_up = Some(up);
        self.judge(time, cfg)
    }

    pub fn judge(&mut self, now: i64, cfg: &FlapConfig) -> Option<Flap> {
        while self
            .changes
            .front()
            .is_some_and(|t| now - t >= cfg.window.as_ms())
        {
            self.changes.pop_front();
        }
        let n = self.changes.len();
        if !self.flapping && n >= cfg.start_changes as usize {
            self.flapping = true;
            return Some(Flap::Started(n));
        }
        if self.flapping && n <= cfg.stop_changes as usize {
            self.flapping = false;
            return Some(Flap::Stopped(n));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_starts_at_the_count_and_stops_with_hysteresis() {
        let cfg = FlapConfig::default();
        let mut h = FlapHistory::default();
        let mut up = true;
        let mut seen = Vec::new();
        for minute in 0..6 {
            seen.push(h.record(minute * 60_000, up, &cfg));
            up = !up;
        }
        // Results 0..5 give changes at minutes 1..5: the 5th starts.
        assert_eq!(seen[..5], [None; 5]);
        assert_eq!(seen[5], Some(Flap::Started(5)));
        // Two changes left in the window is still flapping...
        assert_eq!(h.judge(13 * 60_000, &cfg), None);
        // ...one is not.
        assert_eq!(h.judge(14 * 60_000, &cfg), Some(Flap::Stopped(1)));
    }

    #[test]
    fn steady_results_are_no_changes() {
        let cfg = FlapConfig::default();
        let mut h = FlapHistory::default();
        for t in 0..100 {
            assert_eq!(h.record(t, false, &cfg), None);
        }
        assert!(h.changes.is_empty());
    }

    #[test]
    fn config_is_checked() {
        let bad = FlapConfig {
            stop_changes: 5,
            ..FlapConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(FlapConfig::default().validate().is_ok());
    }
}

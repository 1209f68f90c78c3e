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
//!
//! A check that flapped and then stays down must not wait for the window
//! to empty before it pages: while flapping, a down spell that reaches the
//! check's failure count (the consecutive failures that would page it) and
//! is longer than every down spell that ended in the window *settles* the
//! flapping: it ends at once, its history is cleared, and the down alert
//! pages as it would have without flapping. "Longer than every down spell
//! in the window" is what tells "it stays down now" from "it keeps going
//! down for a few runs and back": a check that flaps as three failures and
//! one success stays held back, and pages at its fourth failure in a row;
//! one that flapped as single failures pages at its normal count. Staying
//! up does not settle early: the window (with its hysteresis) ends that
//! flapping, since closing it at the first calm minute would reopen it at
//! the next blip, and nothing waits to page meanwhile.

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
    /// Down this many results in a row (see the module docs).
    Settled(u32),
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
    /// Results in a row in the state `last_up`.
    #[serde(default)]
    pub streak: u32,
    /// Down spells that ended: (when, results in a row).
    #[serde(default)]
    pub down_spells: VecDeque<(i64, u32)>,
}

impl FlapHistory {
    /// One result; `settle` is the check's failure count (`u32::MAX`
    /// when no rule pages on its failures: then only the window ends it).
    pub fn record(&mut self, time: i64, up: bool, cfg: &FlapConfig, settle: u32) -> Option<Flap> {
        match self.last_up {
            Some(was) if was == up => self.streak = self.streak.saturating_add(1),
            Some(was) => {
                self.changes.push_back(time);
                if !was {
                    self.down_spells.push_back((time, self.streak));
                }
                self.streak = 1;
            }
            None => self.streak = 1,
        }
        self.last_up = Some(up);
        self.prune(time, cfg);
        let longest = self.down_spells.iter().map(|(_, n)| *n).max().unwrap_or(0);
        if self.flapping && !up && self.streak >= settle && self.streak > longest {
            self.flapping = false;
            self.changes.clear();
            self.down_spells.clear();
            return Some(Flap::Settled(self.streak));
        }
        self.judge(time, cfg)
    }

    fn prune(&mut self, now: i64, cfg: &FlapConfig) {
        let old = |t: &i64| now - t >= cfg.window.as_ms();
        while self.changes.front().is_some_and(old) {
            self.changes.pop_front();
        }
        while self.down_spells.front().is_some_and(|(t, _)| old(t)) {
            self.down_spells.pop_front();
        }
    }

    pub fn judge(&mut self, now: i64, cfg: &FlapConfig) -> Option<Flap> {
        self.prune(now, cfg);
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
            seen.push(h.record(minute * 60_000, up, &cfg, 3));
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
            assert_eq!(h.record(t, false, &cfg, 3), None);
        }
        assert!(h.changes.is_empty());
    }

    /// Flaps as `pattern` (true: up), one result a minute from minute 0,
    /// then stays down; returns the flaps seen after the pattern, by the
    /// failure in a row they came at.
    fn flap_then_down(pattern: &[bool], failure_count: u32) -> Vec<(u32, Flap)> {
        let cfg = FlapConfig::default();
        let mut h = FlapHistory::default();
        let mut t = 0;
        for &up in pattern {
            h.record(t * 60_000, up, &cfg, failure_count);
            t += 1;
        }
        assert!(h.flapping, "the pattern flaps: {h:?}");
        let mut seen = Vec::new();
        for fails in 1..=20 {
            if let Some(flap) = h.record(t * 60_000, false, &cfg, failure_count) {
                seen.push((fails, flap));
            }
            t += 1;
        }
        seen
    }

    #[test]
    fn flapping_then_down_settles_at_the_failure_count() {
        // Single failures between successes, then down for good: the third
        // failure in a row (the count that pages) ends flapping.
        let pattern = [true, false, true, false, true, false, true];
        assert_eq!(flap_then_down(&pattern, 3), [(3, Flap::Settled(3))]);
        // With a rule that pages at 5 failures: at the fifth.
        assert_eq!(flap_then_down(&pattern, 5), [(5, Flap::Settled(5))]);
    }

    #[test]
    fn flapping_by_spells_of_the_failure_count_settles_one_later() {
        // Down 3, up 1, repeated: spells of 3 are the flapping itself and
        // stay held back; the 4th failure in a row is new and settles.
        let mut pattern = Vec::new();
        for _ in 0..4 {
            pattern.extend([false, false, false, true]);
        }
        assert_eq!(flap_then_down(&pattern, 3), [(4, Flap::Settled(4))]);
    }

    #[test]
    fn settling_clears_the_history_and_staying_up_does_not_settle() {
        let cfg = FlapConfig::default();
        let mut h = FlapHistory::default();
        for (t, up) in [true, false, true, false, true, false]
            .into_iter()
            .enumerate()
        {
            h.record(t as i64 * 1000, up, &cfg, 3);
        }
        assert!(h.flapping);
        // Up for 20 results: still flapping (the window ends it).
        for t in 6..26 {
            assert_eq!(h.record(t * 1000, true, &cfg, 3), None);
        }
        assert!(h.flapping);
        for t in 26..28 {
            assert_eq!(h.record(t * 1000, false, &cfg, 3), None);
        }
        assert_eq!(h.record(28_000, false, &cfg, 3), Some(Flap::Settled(3)));
        assert!(h.changes.is_empty() && h.down_spells.is_empty());
        // Not flapping again until it changes often enough again.
        assert_eq!(h.record(29_000, true, &cfg, 3), None);
        assert!(!h.flapping);
        // No rule pages on its failures: only the window ends flapping.
        let mut h = FlapHistory::default();
        for (t, up) in [true, false, true, false, true, false]
            .into_iter()
            .enumerate()
        {
            h.record(t as i64 * 1000, up, &cfg, u32::MAX);
        }
        for t in 6..100 {
            assert_eq!(h.record(t * 1000, false, &cfg, u32::MAX), None);
        }
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

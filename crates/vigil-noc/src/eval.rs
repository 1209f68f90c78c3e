//! Per (rule, series or check) evaluation: from samples to "the condition
//! holds" and back, one kind at a time.
//!
//! Every kind turns an input into a [`Reading`]: the measured value,
//! whether it *fires* (would start the alert) and whether it *holds*
//! (keeps an alert that fires). The two differ only by hysteresis. The
//! [`Gate`] adds `for`: a condition must fire continuously for that long
//! (judged on samples and on ticks) before the alert is active; one sample
//! that does not fire restarts the wait.

use crate::spec::{
    show, Baseline, Deviation, Direction, Fill, Op, PredictFull, RateOfChange, Threshold, Transform,
};
use chrono::{DateTime, Datelike, Timelike};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// One judgement of a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    pub time: i64,
    pub value: f64,
    pub fires: bool,
    pub holds: bool,
    /// Why it cleared, if it does.
    pub clear: String,
    /// Extra template values (`hours`, `expected`).
    pub vars: BTreeMap<String, String>,
}

impl Reading {
    pub fn new(time: i64, value: f64, fires: bool, holds: bool, clear: String) -> Reading {
        Reading {
            time,
            value,
            fires,
            holds: fires || holds,
            clear,
            vars: BTreeMap::new(),
        }
    }
}

/// What a reading or a tick did to the condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Activated,
    Cleared(String),
}

/// `for` and activation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Gate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<i64>,
    #[serde(default)]
    pub active: bool,
    /// Time of the last reading, for staleness on ticks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
}

impl Gate {
    pub fn apply(&mut self, r: &Reading, for_ms: i64) -> Option<Change> {
        self.last = Some(self.last.map_or(r.time, |t| t.max(r.time)));
        if self.active {
            if r.holds {
                return None;
            }
            self.active = false;
            self.pending_since = None;
            return Some(Change::Cleared(r.clear.clone()));
        }
        if !r.fires {
            self.pending_since = None;
            return None;
        }
        let since = *self.pending_since.get_or_insert(r.time);
        self.try_activate(r.time, since, for_ms)
    }

    /// On a clock tick: a pending condition whose last reading is fresh
    /// activates once `for` has passed.
    pub fn tick(&mut self, now: i64, for_ms: i64, stale_ms: i64) -> Option<Change> {
        let (Some(since), Some(last)) = (self.pending_since, self.last) else {
            return None;
        };
        if self.active || now - last > stale_ms {
            return None;
        }
        self.try_activate(now, since, for_ms)
    }

    fn try_activate(&mut self, now: i64, since: i64, for_ms: i64) -> Option<Change> {
        if now - since < for_ms {
            return None;
        }
        self.active = true;
        self.pending_since = None;
        Some(Change::Activated)
    }

    /// Forces the condition clear (no-data: a sample came).
    pub fn clear(&mut self, reason: String) -> Option<Change> {
        self.pending_since = None;
        std::mem::replace(&mut self.active, false).then_some(Change::Cleared(reason))
    }
}

pub(crate) fn threshold_reading(t: &Threshold, unit: &str, time: i64, raw: f64) -> Reading {
    let value = match t.transform {
        Some(Transform::DaysUntil) => (raw * 1000.0 - time as f64) / 86_400_000.0,
        None => raw,
    };
    let fires = t.op.holds(value, t.value);
    let resolve = t.resolve_value.unwrap_or(t.value);
    let holds = match t.op {
        Op::Gt | Op::Ge => value >= resolve,
        Op::Lt | Op::Le => value <= resolve,
        Op::Eq | Op::Ne => fires,
    };
    let clear = match t.op {
        Op::Gt | Op::Ge => format!("cleared: {}{unit} < {}{unit}", show(value), show(resolve)),
        Op::Lt | Op::Le => format!("cleared: {}{unit} > {}{unit}", show(value), show(resolve)),
        Op::Eq | Op::Ne => format!(
            "cleared: {}{unit} {} {}{unit}",
            show(value),
            t.op.negated_symbol(),
            show(t.value)
        ),
    };
    Reading::new(time, value, fires, holds, clear)
}

/// Rate of change between consecutive samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RateState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<(i64, f64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_breach: Option<i64>,
}

impl RateState {
    /// `None` for the first sample, or one not after the previous.
    pub fn reading(
        &mut self,
        spec: &RateOfChange,
        unit: &str,
        time: i64,
        value: f64,
    ) -> Option<Reading> {
        let (per_ms, op, bound, hold_ms) =
            (spec.per.as_ms(), spec.op, spec.value, spec.hold.as_ms());
        let prev = self.prev.replace((time, value));
        let (t0, v0) = prev?;
        if time <= t0 {
            self.prev = Some((t0, v0));
            return None;
        }
        let rate = (value - v0) / (time - t0) as f64 * per_ms as f64;
        let fires = op.holds(rate, bound);
        if fires {
            self.last_breach = Some(time);
        }
        let held = self.last_breach.is_some_and(|b| time - b < hold_ms);
        let clear = format!(
            "cleared: rate {}{unit} {} {}{unit}",
            show(rate),
            op.negated_symbol(),
            show(bound)
        );
        Some(Reading::new(time, rate, fires, held, clear))
    }

    /// Whether a hold has run out at `now` (the last reading did not fire).
    pub fn hold_over(&self, now: i64, hold_ms: i64) -> bool {
        self.last_breach.is_none_or(|b| now - b >= hold_ms)
    }
}

/// Samples of a predicted series within the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PredictState {
    pub points: VecDeque<(i64, f64)>,
}

impl PredictState {
    pub fn reading(
        &mut self,
        p: &PredictFull,
        size: Option<f64>,
        time: i64,
        value: f64,
    ) -> Option<Reading> {
        if self.points.back().is_some_and(|(t, _)| *t >= time) {
            return None;
        }
        self.points.push_back((time, value));
        while self
            .points
            .front()
            .is_some_and(|(t, _)| time - t > p.window.as_ms())
        {
            self.points.pop_front();
        }
        let first = self.points.front().map_or(time, |(t, _)| *t);
        if self.points.len() < 3 || time - first < p.min_history.as_ms() {
            return None;
        }
        let target = match p.fill {
            Fill::UsedRatio => 1.0,
            Fill::Used => size?,
            Fill::Free => 0.0,
        };
        let (slope, now_fit) = least_squares(&self.points, time);
        let hours = hours_to(target, value, now_fit, slope, p.fill);
        let fires = hours <= p.within_hours;
        let mut vars = BTreeMap::new();
        vars.insert("hours".to_string(), show(hours.round()));
        let clear = match hours.is_finite() {
            true => format!(
                "cleared: full in {}h, not within {}h",
                show(hours.round()),
                show(p.within_hours)
            ),
            false => "cleared: not filling up".to_string(),
        };
        let mut r = Reading::new(time, hours, fires, false, clear);
        r.vars = vars;
        Some(r)
    }
}

/// Hours until `target` at `slope` per hour from the fitted value now;
/// 0 when already there, infinite when moving away or flat.
fn hours_to(target: f64, value: f64, fitted: f64, slope_per_hour: f64, fill: Fill) -> f64 {
    let full = match fill {
        Fill::Free => value <= target,
        Fill::Used | Fill::UsedRatio => value >= target,
    };
    if full {
        return 0.0;
    }
    let hours = (target - fitted) / slope_per_hour;
    match hours.is_finite() && hours >= 0.0 && slope_per_hour != 0.0 {
        true => hours,
        false => f64::INFINITY,
    }
}

/// Slope per hour and the line's value at `at`, times relative to `at`
/// (hours) to keep the sums small.
fn least_squares(points: &VecDeque<(i64, f64)>, at: i64) -> (f64, f64) {
    let n = points.len() as f64;
    let xs = points.iter().map(|(t, _)| (t - at) as f64 / 3_600_000.0);
    let mean_x = xs.clone().sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, (_, y)) in xs.zip(points) {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (slope, mean_y - slope * mean_x)
}

/// Mean and variance of one hour of the week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub mean: f64,
    pub var: f64,
    /// Distinct weeks this hour has been seen in.
    pub weeks: u32,
    pub last_week: i64,
}

/// 168 slots, Monday 00:00 first (local to the rule's offset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BaselineState {
    pub slots: Vec<Slot>,
}

impl Default for BaselineState {
    fn default() -> Self {
        BaselineState {
            slots: vec![Slot::default(); 168],
        }
    }
}

impl BaselineState {
    /// Judges against the slot as learned so far, then learns the sample.
    /// `None` while the slot is still learning.
    pub fn reading(
        &mut self,
        b: &Baseline,
        offset_s: i32,
        unit: &str,
        time: i64,
        value: f64,
    ) -> Option<Reading> {
        let (index, week) = hour_of_week(time, offset_s)?;
        if self.slots.len() != 168 {
            self.slots = vec![Slot::default(); 168];
        }
        let slot = &mut self.slots[index];
        // Learned from whole weeks before this one: the current week's
        // samples are what is being judged.
        let before = slot.weeks - u32::from(slot.weeks > 0 && slot.last_week == week);
        let reading = (before >= b.min_weeks).then(|| judge(b, slot, unit, time, value));
        learn(slot, b.alpha, week, value);
        reading
    }
}

fn judge(b: &Baseline, slot: &Slot, unit: &str, time: i64, value: f64) -> Reading {
    // A floor on the spread: a series that never moved would otherwise
    // call any change an anomaly.
    let sd = slot.var.sqrt().max(slot.mean.abs() * 0.01).max(1e-9);
    let allowed = match b.deviation {
        Deviation::Sigma(k) => k * sd,
        Deviation::Ratio(r) => r * slot.mean.abs(),
    };
    let diff = value - slot.mean;
    let fires = match b.direction {
        Direction::Both => diff.abs() > allowed,
        Direction::Above => diff > allowed,
        Direction::Below => -diff > allowed,
    };
    let clear = format!(
        "cleared: {}{unit} within {}{unit} ± {}{unit}",
        show(value),
        show(slot.mean),
        show(allowed)
    );
    let mut r = Reading::new(time, value, fires, false, clear);
    r.vars.insert("expected".into(), show(slot.mean));
    r
}

fn learn(slot: &mut Slot, alpha: f64, week: i64, value: f64) {
    if slot.weeks == 0 {
        *slot = Slot {
            mean: value,
            var: 0.0,
            weeks: 1,
            last_week: week,
        };
        return;
    }
    let diff = value - slot.mean;
    let step = alpha * diff;
    slot.mean += step;
    slot.var = (1.0 - alpha) * (slot.var + diff * step);
    if week != slot.last_week {
        slot.weeks = slot.weeks.saturating_add(1);
        slot.last_week = week;
    }
}

/// (hour of the week from Monday 00:00, week number) local to the offset.
pub(crate) fn hour_of_week(time: i64, offset_s: i32) -> Option<(usize, i64)> {
    let offset = chrono::FixedOffset::east_opt(offset_s)?;
    let local = DateTime::from_timestamp_millis(time)?.with_timezone(&offset);
    let day = local.weekday().num_days_from_monday() as usize;
    let index = day * 24 + local.hour() as usize;
    let local_ms = time + i64::from(offset_s) * 1000;
    // 1970-01-05 was a Monday: weeks counted from there.
    let week = (local_ms - 4 * 86_400_000).div_euclid(7 * 86_400_000);
    Some((index, week))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(fires: bool, holds: bool, time: i64) -> Reading {
        Reading::new(time, 1.0, fires, holds, "cleared".into())
    }

    #[test]
    fn gate_waits_for_and_restarts_when_interrupted() {
        let mut g = Gate::default();
        assert_eq!(g.apply(&reading(true, true, 0), 100), None);
        assert_eq!(g.apply(&reading(false, false, 50), 100), None);
        assert_eq!(g.apply(&reading(true, true, 60), 100), None);
        assert_eq!(g.apply(&reading(true, true, 159), 100), None);
        assert_eq!(
            g.apply(&reading(true, true, 160), 100),
            Some(Change::Activated)
        );
        assert_eq!(g.apply(&reading(false, true, 170), 100), None);
        assert_eq!(
            g.apply(&reading(false, false, 180), 100),
            Some(Change::Cleared("cleared".into()))
        );
    }

    #[test]
    fn gate_activates_on_tick_only_while_fresh() {
        let mut g = Gate::default();
        g.apply(&reading(true, true, 0), 100);
        assert_eq!(g.tick(99, 100, 1000), None);
        assert_eq!(g.tick(100, 100, 1000), Some(Change::Activated));
        let mut stale = Gate::default();
        stale.apply(&reading(true, true, 0), 100);
        assert_eq!(stale.tick(2000, 100, 1000), None);
    }

    #[test]
    fn least_squares_fits_a_line() {
        let points: VecDeque<(i64, f64)> = (0..5)
            .map(|h| (h * 3_600_000, 0.5 + 0.1 * h as f64))
            .collect();
        let (slope, fit) = least_squares(&points, 4 * 3_600_000);
        assert!((slope - 0.1).abs() < 1e-9);
        assert!((fit - 0.9).abs() < 1e-9);
    }

    #[test]
    fn hour_of_week_starts_monday() {
        // 1970-01-05 00:00 UTC was a Monday.
        assert_eq!(hour_of_week(4 * 86_400_000, 0), Some((0, 0)));
        assert_eq!(hour_of_week(4 * 86_400_000 - 1, 0), Some((167, -1)));
        assert_eq!(hour_of_week(4 * 86_400_000, 3600), Some((1, 0)));
    }
}

//! From successive counter readings to rates, without false spikes.
//!
//! SNMP counters only ever go up, until they wrap at 2^32 or 2^64 or the
//! device restarts and they start again from zero. Both look like a
//! decrease; taking a wrap for a reset loses one interval, taking a reset
//! for a wrap draws a spike of up to 4 GB in one poll. So:
//!
//! - sysUpTime is read with every poll. When it goes down (or advanced far
//!   less than the wall clock did) the device restarted: a [`Reboot`] is
//!   reported and every counter's next reading is a new baseline, never a
//!   rate. A sysUpTime that itself wrapped (after 497 days) is recognised
//!   by landing where the wall clock says it should, and counted, so that
//!   the uptime reported onwards keeps growing: a wrap published as a
//!   decrease would read as a reboot downstream.
//! - A counter that went down without a reboot wrapped only if the rate
//!   that implies is plausible: at most the interface's speed (with a
//!   little slack), or, when the ceiling is unknown, less than half the
//!   counter's range. Otherwise it was reset (a discontinuity): no rate.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How wide a counter is: where it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum CounterWidth {
    #[default]
    Bits32,
    Bits64,
}

impl CounterWidth {
    fn modulus(self) -> u128 {
        match self {
            CounterWidth::Bits32 => 1 << 32,
            CounterWidth::Bits64 => 1 << 64,
        }
    }
}

/// The device restarted between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reboot {
    pub previous_uptime_ticks: u32,
    pub uptime_ticks: u32,
}

/// What one counter reading gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Rate {
    /// The first reading, or one with no time elapsed: nothing to compare.
    Baseline,
    /// Units per second over the interval; `wrapped` when the counter
    /// went round once in it.
    PerSecond { value: f64, wrapped: bool },
    /// The counter started again (device restart, or a decrease no wrap
    /// explains): this reading is the new baseline, the interval has no
    /// rate.
    Reset,
}

impl Rate {
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::PerSecond { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Slack over a link's speed before a wrap is thought impossible: rates
/// over an interval measured by the poller's clock, not the agent's.
const SPEED_SLACK: f64 = 1.1;

/// Slack on sysUpTime against the wall clock: the polls' own latency and
/// clock drift.
fn uptime_tolerance(elapsed: Duration) -> u64 {
    let ticks = elapsed.as_millis() as u64 / 10;
    (ticks / 20).max(1_000)
}

#[derive(Debug, Clone, Copy)]
struct Last {
    at: Instant,
    value: u64,
    width: CounterWidth,
    epoch: u64,
}

/// Tracks one device's counters (keyed by `K`) and its sysUpTime.
#[derive(Debug)]
pub struct CounterTracker<K> {
    uptime: Option<(Instant, u32)>,
    /// Times sysUpTime went round 2^32 since the last reboot seen.
    uptime_wraps: u64,
    /// What was published before this tracker existed: the unwrapped
    /// uptime in seconds, and the wall time since (see `resume_uptime`).
    resume: Option<(f64, Duration)>,
    /// Bumped at each reboot; readings of an older epoch give no rate.
    epoch: u64,
    counters: HashMap<K, Last>,
}

impl<K: Hash + Eq> Default for CounterTracker<K> {
    fn default() -> Self {
        CounterTracker {
            uptime: None,
            uptime_wraps: 0,
            resume: None,
            epoch: 0,
            counters: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> CounterTracker<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds sysUpTime read at `at`; call it before the counters of the
    /// same poll. Returns the reboot it reveals, if any.
    pub fn observe_uptime(&mut self, at: Instant, uptime_ticks: u32) -> Option<Reboot> {
        let previous = self.uptime.replace((at, uptime_ticks));
        let Some((then, before)) = previous else {
            if let Some((seconds, elapsed)) = self.resume.take() {
                self.uptime_wraps = wraps_since(seconds, elapsed, uptime_ticks);
            }
            return None;
        };
        let elapsed = at.saturating_duration_since(then);
        let expected = u64::from(before) + elapsed.as_millis() as u64 / 10;
        let tolerance = uptime_tolerance(elapsed);
        let now = u64::from(uptime_ticks);
        let restarted = if now >= u64::from(before) {
            // Went up, but far less than the wall clock: it restarted and
            // has already run longer than it had before.
            now + tolerance < expected
        } else {
            // Went down: a restart, unless sysUpTime wrapped at 2^32 and
            // landed where the wall clock says.
            let wrapped_to = now + (1 << 32);
            wrapped_to.abs_diff(expected) > tolerance
        };
        if !restarted {
            if now < u64::from(before) {
                self.uptime_wraps += 1;
            }
            return None;
        }
        self.uptime_wraps = 0;
        self.epoch += 1;
        Some(Reboot {
            previous_uptime_ticks: before,
            uptime_ticks,
        })
    }

    /// Carries the wraps over from before this tracker (a restart of the
    /// monitor, a changed check): `last_seconds` is the unwrapped uptime
    /// published last, `elapsed` the wall time since. Without it, a device
    /// up for over 497 days would read as rebooted after every restart of
    /// the monitor. Call it before the first reading.
    pub fn resume_uptime(&mut self, last_seconds: f64, elapsed: Duration) {
        self.resume = Some((last_seconds, elapsed));
    }

    /// The last sysUpTime read, in seconds, with its wraps since the last
    /// reboot added back: it grows across a wrap and starts again from the
    /// agent's own value at a reboot. `None` before the first reading.
    pub fn uptime_seconds(&self) -> Option<f64> {
        let (_, ticks) = self.uptime?;
        let total = u128::from(self.uptime_wraps) * (1 << 32) + u128::from(ticks);
        Some(total as f64 / 100.0)
    }

    /// Feeds one counter reading. `max_per_second` is the most the counter
    /// can really grow per second (the link's speed in its unit), when
    /// known: it decides whether a decrease can be a wrap.
    pub fn update(
        &mut self,
        key: K,
        at: Instant,
        value: u64,
        width: CounterWidth,
        max_per_second: Option<f64>,
    ) -> Rate {
        let next = Last {
            at,
            value,
            width,
            epoch: self.epoch,
        };
        let Some(last) = self.counters.get(&key).copied() else {
            self.counters.insert(key, next);
            return Rate::Baseline;
        };
        let elapsed = at.saturating_duration_since(last.at).as_secs_f64();
        if elapsed <= 0.0 {
            return Rate::Baseline;
        }
        self.counters.insert(key, next);
        if last.epoch != self.epoch || last.width != width {
            return Rate::Reset;
        }
        rate(last.value, value, width, elapsed, max_per_second)
    }

    /// Drops a counter that is gone (an interface removed).
    pub fn forget(&mut self, key: &K) {
        self.counters.remove(key);
    }

    /// Keeps only the counters `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.counters.retain(|k, _| keep(k));
    }
}

fn rate(
    before: u64,
    now: u64,
    width: CounterWidth,
    elapsed: f64,
    max_per_second: Option<f64>,
) -> Rate {
    if now >= before {
        return Rate::PerSecond {
            value: (now - before) as f64 / elapsed,
            wrapped: false,
        };
    }
    let modulus = width.modulus();
    if u128::from(before) >= modulus {
        // A "32-bit" counter that was over 2^32: not a wrap of that width.
        return Rate::Reset;
    }
    let delta = modulus - u128::from(before) + u128::from(now);
    let per_second = delta as f64 / elapsed;
    let plausible = match max_per_second {
        Some(max) if max > 0.0 => per_second <= max * SPEED_SLACK,
        _ => delta < modulus / 2,
    };
    if plausible {
        Rate::PerSecond {
            value: per_second,
            wrapped: true,
        }
    } else {
        Rate::Reset
    }
}

/// Share of a link's speed in use, 0.0 to 1.0 (more if the agent's speed
/// is wrong); `None` when the speed is unknown.
pub fn utilisation(bits_per_second: f64, speed_bps: u64) -> Option<f64> {
    (speed_bps > 0).then(|| bits_per_second / speed_bps as f64)
}

/// The most octets a link of `speed_bps` moves per second, as the ceiling
/// for [`CounterTracker::update`].
pub fn octets_ceiling(speed_bps: u64) -> Option<f64> {
    (speed_bps > 0).then(|| speed_bps as f64 / 8.0)
}

/// One interface's rates over the last interval (`None`: no rate yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IfRates {
    pub index: u32,
    pub in_bps: Option<f64>,
    pub out_bps: Option<f64>,
    pub in_utilisation: Option<f64>,
    pub out_utilisation: Option<f64>,
    pub in_errors_per_s: Option<f64>,
    pub out_errors_per_s: Option<f64>,
    pub in_discards_per_s: Option<f64>,
    pub out_discards_per_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IfCounter {
    InOctets,
    OutOctets,
    InErrors,
    OutErrors,
    InDiscards,
    OutDiscards,
}

/// How many times sysUpTime must have wrapped for `ticks` to be
/// `last_seconds` grown by `elapsed`; 0 when no number of wraps lands
/// there (the device restarted meanwhile, or never wrapped).
fn wraps_since(last_seconds: f64, elapsed: Duration, ticks: u32) -> u64 {
    if !last_seconds.is_finite() || last_seconds < 0.0 {
        return 0;
    }
    let expected = last_seconds * 100.0 + elapsed.as_millis() as f64 / 10.0;
    let range = (1u64 << 32) as f64;
    let wraps = ((expected - f64::from(ticks)) / range).round();
    if !(1.0..=1e6).contains(&wraps) {
        return 0;
    }
    let landed = f64::from(ticks) + wraps * range;
    let tolerance = uptime_tolerance(elapsed) as f64;
    if (landed - expected).abs() <= tolerance {
        wraps as u64
    } else {
        0
    }
}

/// Interface rates for one device, poll after poll.
#[derive(Debug, Default)]
pub struct InterfaceRates {
    tracker: CounterTracker<(u32, IfCounter)>,
}

impl InterfaceRates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one poll's sysUpTime, read at `at`: once per poll, before its
    /// interface rows, and even when those could not be read (a reboot
    /// must not go unseen because a walk failed). Returns the reboot it
    /// reveals and the uptime in seconds, unwrapped (see
    /// [`CounterTracker::uptime_seconds`]).
    pub fn observe_uptime(&mut self, at: Instant, uptime_ticks: u32) -> (Option<Reboot>, f64) {
        let reboot = self.tracker.observe_uptime(at, uptime_ticks);
        let seconds = self
            .tracker
            .uptime_seconds()
            .unwrap_or(f64::from(uptime_ticks) / 100.0);
        (reboot, seconds)
    }

    /// See [`CounterTracker::resume_uptime`].
    pub fn resume_uptime(&mut self, last_seconds: f64, elapsed: Duration) {
        self.tracker.resume_uptime(last_seconds, elapsed);
    }

    /// Feeds the interface rows of a poll, read at `at`, after
    /// [`InterfaceRates::observe_uptime`] of the same poll.
    pub fn interfaces(&mut self, at: Instant, rows: &[crate::poll::IfRow]) -> Vec<IfRates> {
        let present: std::collections::HashSet<u32> = rows.iter().map(|r| r.index).collect();
        self.tracker.retain(|(i, _)| present.contains(i));
        rows.iter().map(|r| self.row(at, r)).collect()
    }

    /// One whole poll in one call, for a caller that read both sysUpTime
    /// and the interfaces: [`InterfaceRates::observe_uptime`] then
    /// [`InterfaceRates::interfaces`].
    pub fn update(
        &mut self,
        at: Instant,
        uptime_ticks: u32,
        rows: &[crate::poll::IfRow],
    ) -> (Option<Reboot>, Vec<IfRates>) {
        let (reboot, _) = self.observe_uptime(at, uptime_ticks);
        (reboot, self.interfaces(at, rows))
    }

    fn row(&mut self, at: Instant, r: &crate::poll::IfRow) -> IfRates {
        let ceiling = octets_ceiling(r.speed_bps);
        let mut feed = |c, v, w, max| {
            self.tracker
                .update((r.index, c), at, v, w, max)
                .per_second()
        };
        let in_bps =
            feed(IfCounter::InOctets, r.in_octets, r.octets_width, ceiling).map(|o| o * 8.0);
        let out_bps =
            feed(IfCounter::OutOctets, r.out_octets, r.octets_width, ceiling).map(|o| o * 8.0);
        let w = CounterWidth::Bits32;
        IfRates {
            index: r.index,
            in_bps,
            out_bps,
            in_utilisation: in_bps.and_then(|b| utilisation(b, r.speed_bps)),
            out_utilisation: out_bps.and_then(|b| utilisation(b, r.speed_bps)),
            in_errors_per_s: feed(IfCounter::InErrors, r.in_errors.into(), w, None),
            out_errors_per_s: feed(IfCounter::OutErrors, r.out_errors.into(), w, None),
            in_discards_per_s: feed(IfCounter::InDiscards, r.in_discards.into(), w, None),
            out_discards_per_s: feed(IfCounter::OutDiscards, r.out_discards.into(), w, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIG: Option<f64> = Some(125_000_000.0);

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn first_reading_is_a_baseline_then_rates() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        assert_eq!(
            t.update("a", t0, 1000, CounterWidth::Bits32, GIG),
            Rate::Baseline
        );
        let r = t.update("a", secs(t0, 10), 11_000, CounterWidth::Bits32, GIG);
        assert_eq!(
            r,
            Rate::PerSecond {
                value: 1000.0,
                wrapped: false
            }
        );
    }

    #[test]
    fn no_elapsed_time_gives_no_rate() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update("a", t0, 1000, CounterWidth::Bits32, None);
        assert_eq!(
            t.update("a", t0, 2000, CounterWidth::Bits32, None),
            Rate::Baseline
        );
    }

    #[test]
    fn a_32_bit_wrap_within_the_link_speed_is_a_rate() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update(
            "a",
            t0,
            u64::from(u32::MAX) - 999,
            CounterWidth::Bits32,
            GIG,
        );
        let r = t.update("a", secs(t0, 10), 9_000, CounterWidth::Bits32, GIG);
        assert_eq!(
            r,
            Rate::PerSecond {
                value: 1000.0,
                wrapped: true
            }
        );
    }

    #[test]
    fn a_32_bit_decrease_faster_than_the_link_is_a_reset() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        // 2^32 - 3e9 + 5e6 ≈ 1.3 GB in 1 s over a 100 Mb/s link: impossible.
        t.update(
            "a",
            t0,
            3_000_000_000,
            CounterWidth::Bits32,
            Some(12_500_000.0),
        );
        let r = t.update(
            "a",
            secs(t0, 1),
            5_000_000,
            CounterWidth::Bits32,
            Some(12_500_000.0),
        );
        assert_eq!(r, Rate::Reset);
        // And the next interval is measured from the reset.
        let r = t.update(
            "a",
            secs(t0, 2),
            6_000_000,
            CounterWidth::Bits32,
            Some(12_500_000.0),
        );
        assert_eq!(r.per_second(), Some(1_000_000.0));
    }

    #[test]
    fn a_64_bit_wrap_and_a_64_bit_reset() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update("a", t0, u64::MAX - 499, CounterWidth::Bits64, GIG);
        let r = t.update("a", secs(t0, 1), 500, CounterWidth::Bits64, GIG);
        assert_eq!(
            r,
            Rate::PerSecond {
                value: 1000.0,
                wrapped: true
            }
        );
        // A drop from a small value is a reset, speed known or not.
        t.update("b", t0, 10_000, CounterWidth::Bits64, GIG);
        assert_eq!(
            t.update("b", secs(t0, 1), 5, CounterWidth::Bits64, GIG),
            Rate::Reset
        );
        t.update("c", t0, 10_000, CounterWidth::Bits64, None);
        assert_eq!(
            t.update("c", secs(t0, 1), 5, CounterWidth::Bits64, None),
            Rate::Reset
        );
    }

    #[test]
    fn without_a_speed_a_32_bit_wrap_must_be_under_half_the_range() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update(
            "a",
            t0,
            u64::from(u32::MAX) - 10,
            CounterWidth::Bits32,
            None,
        );
        let r = t.update("a", secs(t0, 1), 10, CounterWidth::Bits32, None);
        assert_eq!(
            r,
            Rate::PerSecond {
                value: 21.0,
                wrapped: true
            }
        );
        t.update("b", t0, 1000, CounterWidth::Bits32, None);
        assert_eq!(
            t.update("b", secs(t0, 1), 10, CounterWidth::Bits32, None),
            Rate::Reset
        );
    }

    #[test]
    fn a_32_bit_value_over_2_to_the_32_is_not_a_wrap() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update("a", t0, 1 << 33, CounterWidth::Bits32, None);
        assert_eq!(
            t.update("a", secs(t0, 1), 10, CounterWidth::Bits32, None),
            Rate::Reset
        );
    }

    #[test]
    fn a_change_of_width_is_a_reset() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        t.update("a", t0, 1000, CounterWidth::Bits32, None);
        assert_eq!(
            t.update("a", secs(t0, 1), 2000, CounterWidth::Bits64, None),
            Rate::Reset
        );
    }

    #[test]
    fn a_reboot_turns_the_next_readings_into_baselines_not_spikes() {
        let t0 = Instant::now();
        let mut t = CounterTracker::new();
        assert_eq!(t.observe_uptime(t0, 500_000), None);
        t.update("a", t0, 4_000_000_000, CounterWidth::Bits32, None);
        t.update("b", t0, 1_000, CounterWidth::Bits32, None);
        // Rebooted: uptime 20 s, counters small again. The drop of "a"
        // would pass as a plausible wrap; "b" went *up*.
        let reboot = t.observe_uptime(secs(t0, 60), 2_000).unwrap();
        assert_eq!(
            reboot,
            Reboot {
                previous_uptime_ticks: 500_000,
                uptime_ticks: 2_000
            }
        );
        assert_eq!(
            t.update("a", secs(t0, 60), 1_000, CounterWidth::Bits32, None),
            Rate::Reset
        );
        assert_eq!(
            t.update("b", secs(t0, 60), 90_000, CounterWidth::Bits32, None),
            Rate::Reset
        );
        // The following poll is normal again.
        assert_eq!(t.observe_uptime(secs(t0, 120), 8_000), None);
        let r = t.update("b", secs(t0, 120), 96_000, CounterWidth::Bits32, None);
        assert_eq!(r.per_second(), Some(100.0));
    }

    #[test]
    fn a_reboot_that_already_outran_the_old_uptime_is_seen() {
        let t0 = Instant::now();
        let mut t = CounterTracker::<&str>::new();
        t.observe_uptime(t0, 1_000); // 10 s up
                                     // Five minutes later it shows 4 minutes: it went down in between.
        assert!(t.observe_uptime(secs(t0, 300), 24_000).is_some());
        // Normal progress, a little jitter either way, is no reboot.
        assert!(t.observe_uptime(secs(t0, 360), 29_900).is_none());
        assert!(t.observe_uptime(secs(t0, 420), 36_050).is_none());
    }

    #[test]
    fn sys_uptime_wrapping_after_497_days_is_no_reboot() {
        let t0 = Instant::now();
        let mut t = CounterTracker::<&str>::new();
        t.observe_uptime(t0, u32::MAX - 2_999);
        assert!(t.observe_uptime(secs(t0, 60), 3_000).is_none());
        // But a real reboot near the wrap still is one.
        let mut t = CounterTracker::<&str>::new();
        t.observe_uptime(t0, u32::MAX - 2_999);
        assert!(t.observe_uptime(secs(t0, 600), 3_000).is_some());
    }

    /// sysUpTime, in ticks, 30 s before it wraps.
    const NEAR_WRAP: u32 = u32::MAX - 2_999;

    #[test]
    fn uptime_keeps_growing_across_a_wrap() {
        let t0 = Instant::now();
        let mut t = CounterTracker::<&str>::new();
        assert_eq!(t.uptime_seconds(), None);
        t.observe_uptime(t0, NEAR_WRAP);
        let before = t.uptime_seconds().unwrap();
        assert_eq!(before, f64::from(NEAR_WRAP) / 100.0);
        // A minute later the agent says 30 s: it went round, 60 s passed.
        assert!(t.observe_uptime(secs(t0, 60), 3_000).is_none());
        let after = t.uptime_seconds().unwrap();
        assert_eq!(after, ((1u64 << 32) + 3_000) as f64 / 100.0);
        assert!((after - before - 60.0).abs() < 0.02, "{before} -> {after}");
        // And on from there, still above the wrap.
        t.observe_uptime(secs(t0, 120), 9_000);
        assert_eq!(
            t.uptime_seconds(),
            Some(((1u64 << 32) + 9_000) as f64 / 100.0)
        );
    }

    #[test]
    fn a_monitor_restart_carries_the_wraps_over() {
        let wrap = (1u64 << 32) as f64 / 100.0;
        // Published before the restart: 2 wraps and 1,000 s; an hour down.
        let last = 2.0 * wrap + 1_000.0;
        let hour = Duration::from_secs(3_600);
        let mut r = InterfaceRates::new();
        r.resume_uptime(last, hour);
        let (reboot, uptime) = r.observe_uptime(Instant::now(), 460_000);
        assert!(reboot.is_none());
        assert_eq!(uptime, 2.0 * wrap + 4_600.0, "two wraps, 4,600 s");
        // It restarted while the monitor was away: the agent's own value.
        let mut r = InterfaceRates::new();
        r.resume_uptime(last, hour);
        assert_eq!(r.observe_uptime(Instant::now(), 90_000).1, 900.0);
        // Never wrapped: nothing to carry.
        let mut r = InterfaceRates::new();
        r.resume_uptime(1_000.0, hour);
        assert_eq!(r.observe_uptime(Instant::now(), 460_000).1, 4_600.0);
        // Nonsense published before changes nothing.
        for bad in [f64::NAN, -1.0, f64::INFINITY, 1e300] {
            let mut r = InterfaceRates::new();
            r.resume_uptime(bad, hour);
            assert_eq!(r.observe_uptime(Instant::now(), 100).1, 1.0, "{bad}");
        }
    }

    #[test]
    fn a_reboot_after_a_wrap_starts_the_uptime_again() {
        let t0 = Instant::now();
        let mut r = InterfaceRates::new();
        r.observe_uptime(t0, NEAR_WRAP);
        let (reboot, wrapped) = r.observe_uptime(secs(t0, 60), 3_000);
        assert!(reboot.is_none() && wrapped > f64::from(u32::MAX) / 100.0);
        // Ten minutes on it says 20 s: it restarted, the wrap is history.
        let (reboot, uptime) = r.observe_uptime(secs(t0, 660), 2_000);
        assert!(reboot.is_some());
        assert_eq!(uptime, 20.0);
        let (reboot, uptime) = r.observe_uptime(secs(t0, 720), 8_000);
        assert!(reboot.is_none());
        assert_eq!(uptime, 80.0);
    }

    #[test]
    fn a_reboot_is_a_reboot_and_its_uptime_is_the_agents() {
        let t0 = Instant::now();
        let mut r = InterfaceRates::new();
        assert_eq!(r.observe_uptime(t0, 500_000), (None, 5_000.0));
        let (reboot, uptime) = r.observe_uptime(secs(t0, 60), 1_000);
        assert_eq!(
            reboot,
            Some(Reboot {
                previous_uptime_ticks: 500_000,
                uptime_ticks: 1_000
            })
        );
        assert_eq!(uptime, 10.0);
    }

    #[test]
    fn a_reboot_is_seen_at_a_poll_whose_interface_walk_failed() {
        let t0 = Instant::now();
        let row = |octets: u64| crate::poll::IfRow {
            index: 1,
            in_octets: octets,
            octets_width: CounterWidth::Bits64,
            ..Default::default()
        };
        let mut r = InterfaceRates::new();
        r.observe_uptime(t0, 500_000);
        r.interfaces(t0, &[row(1_000_000)]);
        // The device restarted; this poll read sysUpTime but no interfaces.
        let (reboot, _) = r.observe_uptime(secs(t0, 60), 1_000);
        assert!(reboot.is_some());
        // The next rows are not compared with the ones before the restart
        // (1,000,010 - 1,000,000 would pass for a rate)...
        r.observe_uptime(secs(t0, 70), 2_000);
        assert_eq!(
            r.interfaces(secs(t0, 70), &[row(1_000_010)])[0].in_bps,
            None
        );
        // ...and rates resume from them.
        r.observe_uptime(secs(t0, 80), 3_000);
        let rates = r.interfaces(secs(t0, 80), &[row(1_001_010)]);
        assert_eq!(rates[0].in_bps, Some(800.0));
    }

    #[test]
    fn utilisation_against_speed() {
        assert_eq!(utilisation(50_000_000.0, 100_000_000), Some(0.5));
        assert_eq!(utilisation(1.0, 0), None);
        assert_eq!(octets_ceiling(8_000), Some(1_000.0));
    }

    #[test]
    fn interface_rates_over_polls() {
        use crate::poll::IfRow;
        let t0 = Instant::now();
        let row = |octets: u64, errors: u32| IfRow {
            index: 2,
            speed_bps: 1_000_000_000,
            in_octets: octets,
            out_octets: octets * 2,
            octets_width: CounterWidth::Bits64,
            in_errors: errors,
            ..IfRow::default()
        };
        let mut r = InterfaceRates::new();
        let (reboot, rates) = r.update(t0, 100, &[row(1_000, 0)]);
        assert!(reboot.is_none() && rates[0].in_bps.is_none());
        let (_, rates) = r.update(secs(t0, 10), 1_100, &[row(1_251_000, 5)]);
        assert_eq!(rates[0].in_bps, Some(1_000_000.0));
        assert_eq!(rates[0].out_bps, Some(2_000_000.0));
        assert_eq!(rates[0].in_utilisation, Some(0.001));
        assert_eq!(rates[0].in_errors_per_s, Some(0.5));
        // Reboot: everything restarts, no rate, reported once.
        let (reboot, rates) = r.update(secs(t0, 20), 300, &[row(10, 0)]);
        assert!(reboot.is_some());
        assert!(rates[0].in_bps.is_none() && rates[0].in_errors_per_s.is_none());
    }
}

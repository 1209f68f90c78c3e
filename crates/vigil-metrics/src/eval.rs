//! Turning a series' sorted points into the points a chart asks for.
//!
//! - No step: the stored points in `[from, to]`.
//! - With a step: one point at each `from + k·step ≤ to`, the last sample
//!   in `(t − step, t]`; none when the step is empty.
//! - `rate(..[range])`: at each step, the per-second increase over the
//!   samples in `(t − range, t]` (at least two), `increase / (t_last −
//!   t_first)`. A drop is a counter reset: the counter restarted from zero,
//!   so the increase across it is the new value, never negative. No
//!   extrapolation to the window's edges (Prometheus extrapolates; this
//!   gives the rate of what was seen).

//! - `sum|avg|min|max|count by (labels)`: the series' step points grouped
//!   by those labels' values, combined at each step time (NaN values
//!   included: a NaN makes a sum NaN; min and max skip it).

use crate::selector::AggOp;
use crate::series::SeriesKey;
use crate::Series;
use std::collections::BTreeMap;

/// One `(time ms, value)` per point.
pub type Points = Vec<(i64, f64)>;

/// The stored points in `[from, to]`.
pub fn raw(points: &[(i64, f64)], from: i64, to: i64) -> Points {
    let start = points.partition_point(|p| p.0 < from);
    let end = points.partition_point(|p| p.0 <= to);
    points[start..end].to_vec()
}

/// Calls `each(t, window)` for every step time with the points in
/// `(t − lookback, t]`.
fn steps(
    points: &[(i64, f64)],
    from: i64,
    to: i64,
    step: i64,
    lookback: i64,
    mut each: impl FnMut(i64, &[(i64, f64)]),
) {
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut t = from;
    loop {
        while hi < points.len() && points[hi].0 <= t {
            hi += 1;
        }
        let start = t.saturating_sub(lookback);
        while lo < hi && points[lo].0 <= start {
            lo += 1;
        }
        each(t, &points[lo..hi]);
        match t.checked_add(step) {
            Some(next) if next <= to => t = next,
            _ => break,
        }
    }
}

/// The last sample of each step.
pub fn last_per_step(points: &[(i64, f64)], from: i64, to: i64, step: i64) -> Points {
    let mut out = Vec::new();
    steps(points, from, to, step, step, |t, window| {
        if let Some(&(_, v)) = window.last() {
            out.push((t, v));
        }
    });
    out
}

/// Per-second rate of a counter at each step.
pub fn rate(points: &[(i64, f64)], from: i64, to: i64, step: i64, range: i64) -> Points {
    let mut out = Vec::new();
    steps(points, from, to, step, range, |t, window| {
        if let Some(r) = window_rate(window) {
            out.push((t, r));
        }
    });
    out
}

fn window_rate(window: &[(i64, f64)]) -> Option<f64> {
    let (first, last) = (window.first()?, window.last()?);
    if window.len() < 2 || last.0 <= first.0 {
        return None;
    }
    let mut increase = 0.0;
    for pair in window.windows(2) {
        let (prev, cur) = (pair[0].1, pair[1].1);
        increase += if cur >= prev { cur - prev } else { cur };
    }
    Some(increase * 1000.0 / (last.0 - first.0) as f64)
}

/// Per step time: sum, count, min, max.
type Accumulators = BTreeMap<i64, [f64; 4]>;

/// Combines series (their points on the same step times) by the values
/// of the `by` labels.
pub fn aggregate(op: AggOp, by: &[String], series: Vec<Series>) -> Vec<Series> {
    let mut groups: BTreeMap<Vec<(String, String)>, Accumulators> = BTreeMap::new();
    for s in series {
        let labels = by
            .iter()
            .filter_map(|l| s.key.get(l).map(|v| (l.clone(), v.to_string())))
            .collect();
        let group = groups.entry(labels).or_default();
        for (t, v) in s.points {
            let acc = group.entry(t).or_insert([0.0, 0.0, f64::NAN, f64::NAN]);
            acc[0] += v;
            acc[1] += 1.0;
            acc[2] = acc[2].min(v);
            acc[3] = acc[3].max(v);
        }
    }
    groups
        .into_iter()
        .map(|(labels, points)| Series {
            key: SeriesKey::without_name(labels),
            points: points
                .into_iter()
                .map(|(t, [sum, count, min, max])| {
                    let v = match op {
                        AggOp::Sum => sum,
                        AggOp::Avg => sum / count,
                        AggOp::Min => min,
                        AggOp::Max => max,
                        AggOp::Count => count,
                    };
                    (t, v)
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_take_the_last_sample() {
        let points = [(0, 1.0), (10, 2.0), (15, 3.0), (40, 4.0)];
        assert_eq!(
            last_per_step(&points, 0, 40, 10),
            vec![(0, 1.0), (10, 2.0), (20, 3.0), (40, 4.0)]
        );
        assert_eq!(raw(&points, 5, 15), vec![(10, 2.0), (15, 3.0)]);
        assert!(last_per_step(&[], 0, 100, 10).is_empty());
        assert_eq!(last_per_step(&points, i64::MAX - 5, i64::MAX, 10), vec![]);
    }

    #[test]
    fn rate_handles_counter_resets() {
        // 10/s, then a reset to 5 at 3 s: increase 10 + 10 + 5 + 10 over 4 s.
        let points = [
            (0, 100.0),
            (1000, 110.0),
            (2000, 120.0),
            (3000, 5.0),
            (4000, 15.0),
        ];
        let r = rate(&points, 4000, 4000, 1000, 5000);
        assert_eq!(r, vec![(4000, 35.0 / 4.0)]);
        let all = rate(&points, 0, 4000, 1000, 2000);
        assert!(all.iter().all(|&(_, v)| v >= 0.0), "{all:?}");
        assert_eq!(all[0..2], [(1000, 10.0), (2000, 10.0)]);
        // One sample in the window: no rate.
        assert!(rate(&points, 0, 0, 1000, 1000).is_empty());
    }
}

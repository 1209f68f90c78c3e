//! What a NOC alert says: titles' check names, descriptions and
//! resolutions, composed from what the engine knows (pure, no clock of its
//! own: every text takes `now`).
//!
//! An operator reading a page must learn without opening anything else
//! which asset, which check (its kind and target, never an internal
//! number), what went wrong (the check's own reason, or the value against
//! the threshold), since when and how often; a resolution says after how
//! long. Times are UTC, with the date only when it is not today's.

use crate::span::Span;
use crate::spec::{show, Condition, Deviation};
use chrono::DateTime;

/// A check as people name it: `HTTPS check https://web01.example/health`,
/// `TCP check db01:5432`, `ICMP check 10.0.0.1`.
pub fn check_name(kind: &str, target: &str) -> String {
    match target.is_empty() {
        true => format!("{} check", kind_label(kind, target)),
        false => format!("{} check {target}", kind_label(kind, target)),
    }
}

/// What one run of the check does: `HTTPS GET https://…`, `ping 10.0.0.1`.
pub fn check_action(kind: &str, target: &str) -> String {
    let label = kind_label(kind, target);
    let action = match kind {
        "icmp" => "ping".to_string(),
        "http" => format!("{label} GET"),
        "tcp" => "TCP connect to".to_string(),
        "dns" => "DNS lookup of".to_string(),
        "snmp" => "SNMP poll of".to_string(),
        "prometheus" => "Prometheus scrape of".to_string(),
        _ => format!("{label} check of"),
    };
    match target.is_empty() {
        true => format!("{label} check"),
        false => format!("{action} {target}"),
    }
}

/// `icmp` → `ICMP`; an `http` check of an `https://` URL is `HTTPS`.
fn kind_label(kind: &str, target: &str) -> String {
    let https = target
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    match kind {
        "http" if https => "HTTPS".to_string(),
        "prometheus" => "Prometheus".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

/// `HTTPS GET https://… failed 3 times in a row since 14:02:10 UTC
/// (2 min): connection refused`.
pub fn check_failing(
    kind: &str,
    target: &str,
    fails: u32,
    since: i64,
    now: i64,
    reason: &str,
) -> String {
    let times = match fails {
        1 => "once".to_string(),
        n => format!("{n} times in a row"),
    };
    let head = format!(
        "{} failed {times} {}",
        check_action(kind, target),
        since_for(since, now)
    );
    match reason.trim().is_empty() {
        true => head,
        false => format!("{head}: {}", reason.trim()),
    }
}

/// `cleared: HTTPS check … up again after 7 min 12 s (down since
/// 14:02:10 UTC, 9 failed runs)`.
pub fn check_back_up(kind: &str, target: &str, since: Option<i64>, now: i64, fails: u32) -> String {
    let name = check_name(kind, target);
    let runs = match fails {
        1 => "1 failed run".to_string(),
        n => format!("{n} failed runs"),
    };
    match since {
        Some(since) => format!(
            "cleared: {name} up again after {} (down since {}, {runs})",
            duration(now - since),
            at(since, now)
        ),
        None => format!("cleared: {name} up again ({runs})"),
    }
}

/// A clear reason with how long the condition held: `cleared: 3% < 5%
/// after 12 min (since 14:02:10 UTC)`.
pub fn cleared_after(reason: &str, since: Option<i64>, now: i64) -> String {
    match since {
        Some(since) if now >= since => format!(
            "{reason} after {} (since {})",
            duration(now - since),
            at(since, now)
        ),
        _ => reason.to_string(),
    }
}

/// What a metric rule saw, naming the series, the value and the
/// threshold: `vigil_icmp_loss_percent on web01 is 35%, threshold > 20%
/// for 2m (clears below 5%), since 14:02:10 UTC (3 min)`.
pub struct MetricFacts<'a> {
    pub condition: &'a Condition,
    /// `metric{label="v"}`.
    pub series: &'a str,
    pub asset: &'a str,
    pub unit: &'a str,
    pub value: f64,
    /// `hours` (prediction), `expected` (baseline), `silent` (no data).
    pub extra: &'a dyn Fn(&str) -> Option<String>,
    pub since: Option<i64>,
    pub now: i64,
}

pub fn metric_breach(f: &MetricFacts<'_>) -> String {
    let (series, asset, unit) = (f.series, f.asset, f.unit);
    let value = format!("{}{unit}", show(f.value));
    let what = match f.condition {
        Condition::Threshold(t) => {
            let mut s = format!(
                "{series} on {asset} is {value}, threshold {} {}{unit}",
                t.op,
                show(t.value)
            );
            if !t.for_.is_zero() {
                s.push_str(&format!(" for {}", t.for_));
            }
            if let Some(r) = t.resolve_value.filter(|r| *r != t.value) {
                s.push_str(&format!(" (clears at {}{unit})", show(r)));
            }
            if let Some(g) = &t.when {
                s.push_str(&format!(" while {} {} {}", g.metric, g.op, show(g.value)));
            }
            s
        }
        Condition::RateOfChange(r) => format!(
            "{series} on {asset} changed by {value} per {}, threshold {} {}{unit}",
            r.per,
            r.op,
            show(r.value)
        ),
        Condition::PredictFull(p) => {
            let hours = (f.extra)("hours").unwrap_or_else(|| show(f.value));
            format!(
                "{series} on {asset} is full in about {hours} h at its trend over the last {} (alert within {} h)",
                p.window,
                show(p.within_hours)
            )
        }
        Condition::NoData(n) => {
            let silent = (f.extra)("silent").unwrap_or_else(|| n.after.to_string());
            format!(
                "no data for {series} on {asset} for {silent} (alert after {})",
                n.after
            )
        }
        Condition::Baseline(b) => {
            let expected = (f.extra)("expected").unwrap_or_else(|| "?".into());
            let band = match b.deviation {
                Deviation::Sigma(s) => format!("{} standard deviations", show(s)),
                Deviation::Ratio(r) => format!("a ratio of {}", show(r)),
            };
            format!(
                "{series} on {asset} is {value}, usually about {expected}{unit} at this hour of the week (alert beyond {band})"
            )
        }
        Condition::ConsecutiveFailures(c) => {
            format!("{asset}: {} failures in a row", c.n)
        }
    };
    match f.since {
        Some(since) => format!("{what}, {}", since_for(since, f.now)),
        None => what,
    }
}

/// `check ping 10.0.0.1 changed state 5 times in 10m (since 14:02:10 UTC
/// (6 min))`, with what ends it.
pub fn flapping(action: &str, changes: &str, window: Span, since: Option<i64>, now: i64) -> String {
    let mut s = format!("{action} changed state {changes} times in {window}");
    if let Some(since) = since {
        s.push_str(&format!(", flapping {}", since_for(since, now)));
    }
    s.push_str(&format!(
        "; its down alerts are held back until it stays down longer than any down spell in the last {window} (and at least its failure count), or the window calms"
    ));
    s
}

/// `since 14:02:10 UTC (2 min)`.
pub fn since_for(since: i64, now: i64) -> String {
    format!("since {} ({})", at(since, now), duration(now - since))
}

/// `14:02:10 UTC`, or `2026-12-07 14:02:10 UTC` when not on `now`'s day.
pub fn at(time: i64, now: i64) -> String {
    let (Some(t), Some(n)) = (
        DateTime::from_timestamp_millis(time),
        DateTime::from_timestamp_millis(now),
    ) else {
        return format!("{time} ms");
    };
    match t.date_naive() == n.date_naive() {
        true => t.format("%H:%M:%S UTC").to_string(),
        false => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

/// `45 s`, `7 min 12 s`, `3 h 5 min`, `2 d 4 h` (two units at most: the
/// exact figure is in the times).
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let pair = |a: i64, ua: &str, b: i64, ub: &str| match b {
        0 => format!("{a} {ua}"),
        _ => format!("{a} {ua} {b} {ub}"),
    };
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => pair(m, "min", s, "s"),
        (0, _, _) => pair(h, "h", m, "min"),
        _ => pair(d, "d", h, "h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Op, Threshold};
    use std::collections::BTreeMap;

    /// 2026-12-08 14:02:10 UTC.
    const T: i64 = 1_796_738_530_000;

    #[test]
    fn checks_are_named_by_kind_and_target() {
        let url = "https://web01.example/health";
        assert_eq!(check_name("http", url), format!("HTTPS check {url}"));
        assert_eq!(check_name("http", "http://a/"), "HTTP check http://a/");
        assert_eq!(check_name("tcp", "db01:5432"), "TCP check db01:5432");
        assert_eq!(check_name("icmp", ""), "ICMP check");
        assert_eq!(check_action("icmp", "10.0.0.1"), "ping 10.0.0.1");
        assert_eq!(check_action("http", url), format!("HTTPS GET {url}"));
    }

    #[test]
    fn a_failing_check_says_what_since_when_how_often_and_why() {
        let text = check_failing(
            "http",
            "https://web01.example/health",
            3,
            T,
            T + 2 * 60_000 + 5_000,
            "connection refused (tcp connect 192.0.2.10:443)",
        );
        assert_eq!(
            text,
            "HTTPS GET https://web01.example/health failed 3 times in a row since 14:02:10 UTC \
             (2 min 5 s): connection refused (tcp connect 192.0.2.10:443)"
        );
        // Once, no reason: no dangling colon.
        assert_eq!(
            check_failing("icmp", "h", 1, T, T, " "),
            "ping h failed once since 14:02:10 UTC (0 s)"
        );
    }

    #[test]
    fn back_up_says_after_how_long_and_how_many_runs() {
        let text = check_back_up("tcp", "db01:5432", Some(T), T + 432_000, 9);
        assert_eq!(
            text,
            "cleared: TCP check db01:5432 up again after 7 min 12 s \
             (down since 14:02:10 UTC, 9 failed runs)"
        );
        // Down since yesterday: the date is written.
        let text = check_back_up("tcp", "db01:5432", Some(T), T + 86_400_000, 1);
        assert!(
            text.contains("after 1 d (down since 2026-12-08 14:02:10 UTC, 1 failed run)"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(duration(-5), "0 s");
        assert_eq!(duration(59_999), "59 s");
        assert_eq!(duration(120_000), "2 min");
        assert_eq!(duration(3_900_000), "1 h 5 min");
        assert_eq!(duration(2 * 86_400_000 + 4 * 3_600_000 + 1), "2 d 4 h");
        assert_eq!(at(i64::MAX, T), format!("{} ms", i64::MAX));
    }

    #[test]
    fn a_threshold_breach_names_series_value_and_threshold() {
        let condition = Condition::Threshold(Threshold {
            metric: "vigil_icmp_loss_percent".into(),
            labels: BTreeMap::new(),
            op: Op::Gt,
            value: 20.0,
            resolve_value: Some(5.0),
            for_: Span::from_mins(2),
            when: None,
            transform: None,
        });
        let none = |_: &str| None;
        let text = metric_breach(&MetricFacts {
            condition: &condition,
            series: "vigil_icmp_loss_percent",
            asset: "web01",
            unit: "%",
            value: 35.0,
            extra: &none,
            since: Some(T),
            now: T + 180_000,
        });
        assert_eq!(
            text,
            "vigil_icmp_loss_percent on web01 is 35%, threshold > 20% for 2m (clears at 5%), \
             since 14:02:10 UTC (3 min)"
        );
        let no_data = Condition::NoData(crate::spec::NoData {
            metric: "node_load1".into(),
            labels: BTreeMap::new(),
            after: Span::from_mins(10),
        });
        let silent = |name: &str| (name == "silent").then(|| "12m".to_string());
        let text = metric_breach(&MetricFacts {
            condition: &no_data,
            series: "node_load1",
            asset: "db01",
            unit: "",
            value: 720.0,
            extra: &silent,
            since: Some(T),
            now: T + 720_000,
        });
        assert_eq!(
            text,
            "no data for node_load1 on db01 for 12m (alert after 10m), since 14:02:10 UTC (12 min)"
        );
        assert_eq!(
            cleared_after("cleared: 3% < 5%", Some(T), T + 720_000),
            "cleared: 3% < 5% after 12 min (since 14:02:10 UTC)"
        );
    }
}

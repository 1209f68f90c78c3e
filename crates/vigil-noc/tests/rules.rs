//! Every rule kind, with its edges.

mod common;

use common::*;
use serde_json::json;
use vigil_noc::{builtin_rules, AlertEvent, Engine, Observation, Severity};

fn saturation(for_: &str) -> Engine {
    engine(vec![rule_json(json!({
        "id": "sat", "severity": "high", "unit": "%",
        "title": "{asset}: link {ifName} at {value}{unit}",
        "condition": {"kind": "threshold", "metric": "util", "op": ">", "value": 90,
                      "resolve_value": 80, "for": for_}
    }))])
}

#[test]
fn threshold_hysteresis_exactly_at_the_bounds() {
    let mut e = saturation("0s");
    let l = [("ifName", "ge-0/0/1")];
    assert!(
        sample(&mut e, "util", "r1", &l, 0, 90.0).is_empty(),
        "90 is not > 90"
    );
    let ev = sample(&mut e, "util", "r1", &l, 1, 90.5);
    assert_eq!(count(&ev, "fired"), 1);
    assert_eq!(title(&ev[0]), "r1: link ge-0/0/1 at 90.5%");
    assert!(
        sample(&mut e, "util", "r1", &l, 2, 95.0).is_empty(),
        "no repeat"
    );
    assert!(
        sample(&mut e, "util", "r1", &l, 3, 85.0).is_empty(),
        "in the band"
    );
    assert!(
        sample(&mut e, "util", "r1", &l, 4, 80.0).is_empty(),
        "exactly 80 holds"
    );
    let ev = sample(&mut e, "util", "r1", &l, 5, 72.0);
    assert_eq!(count(&ev, "resolved"), 1);
    assert_eq!(
        reason(&ev[0]),
        "cleared: 72% < 80% after 0 s (since 00:00:00 UTC)"
    );
    assert!(
        sample(&mut e, "util", "r1", &l, 6, 85.0).is_empty(),
        "band does not refire"
    );
    assert_eq!(
        count(&sample(&mut e, "util", "r1", &l, 7, 91.0), "fired"),
        1
    );
}

#[test]
fn threshold_for_interrupted_restarts_the_wait() {
    let mut e = saturation("5m");
    let l = [("ifName", "x")];
    assert!(sample(&mut e, "util", "r1", &l, 0, 95.0).is_empty());
    assert!(sample(&mut e, "util", "r1", &l, MIN, 95.0).is_empty());
    assert!(
        sample(&mut e, "util", "r1", &l, 2 * MIN, 85.0).is_empty(),
        "interrupt"
    );
    assert!(sample(&mut e, "util", "r1", &l, 3 * MIN, 95.0).is_empty());
    assert!(
        e.tick(5 * MIN).is_empty(),
        "the first breach no longer counts"
    );
    assert!(sample(&mut e, "util", "r1", &l, 6 * MIN, 95.0).is_empty());
    assert!(e.tick(8 * MIN - 1).is_empty());
    assert_eq!(
        count(&e.tick(8 * MIN), "fired"),
        1,
        "5m after the restart, on a tick"
    );
    assert!(e.tick(9 * MIN).is_empty());
}

#[test]
fn threshold_for_is_not_completed_by_a_stale_sample() {
    let mut e = saturation("5m");
    assert!(sample(&mut e, "util", "r1", &[], 0, 95.0).is_empty());
    // No sample for 20 minutes: the series stopped, not "still high".
    assert!(e.tick(20 * MIN).is_empty());
    // A fresh breaching sample: it has held since 0 by the samples seen.
    assert_eq!(
        count(&sample(&mut e, "util", "r1", &[], 21 * MIN, 95.0), "fired"),
        1
    );
}

#[test]
fn threshold_without_resolve_clears_past_the_value() {
    let mut e = engine(vec![rule_json(json!({
        "id": "rtt", "severity": "low", "title": "{asset} slow", "unit": " ms",
        "condition": {"kind": "threshold", "metric": "rtt", "op": ">=", "value": 200}
    }))]);
    assert_eq!(
        count(&sample(&mut e, "rtt", "h", &[], 0, 200.0), "fired"),
        1,
        ">= fires at the value"
    );
    let ev = sample(&mut e, "rtt", "h", &[], 1, 199.0);
    assert_eq!(
        reason(&ev[0]),
        "cleared: 199 ms < 200 ms after 0 s (since 00:00:00 UTC)"
    );
}

#[test]
fn certificate_days_until_and_renewal() {
    let mut e = engine(builtin_rules());
    let now = MONDAY;
    let expiry = (now + 10 * DAY) / 1000;
    let l = [("instance", "https://shop.example")];
    let ev = sample(
        &mut e,
        "probe_ssl_earliest_cert_expiry",
        "web1",
        &l,
        now,
        expiry as f64,
    );
    assert_eq!(count(&ev, "fired"), 1);
    assert_eq!(
        title(&ev[0]),
        "web1: certificate of https://shop.example expires in 10 days"
    );
    let renewed = (now + 90 * DAY) / 1000;
    let ev = sample(
        &mut e,
        "probe_ssl_earliest_cert_expiry",
        "web1",
        &l,
        now + HOUR,
        renewed as f64,
    );
    assert_eq!(count(&ev, "resolved"), 1);
    assert!(
        reason(&ev[0]).starts_with("cleared: 89.96 days > 14 days"),
        "{ev:?}"
    );
}

#[test]
fn interface_down_only_while_admin_up() {
    let mut e = engine(builtin_rules());
    let l = [("ifIndex", "3"), ("ifName", "eth2")];
    sample(&mut e, "ifAdminStatus", "sw1", &l, 0, 2.0);
    sample(&mut e, "ifOperStatus", "sw1", &l, 0, 2.0);
    assert!(
        e.tick(5 * MIN).is_empty(),
        "admin down: a shut port is not an outage"
    );
    sample(&mut e, "ifAdminStatus", "sw1", &l, 6 * MIN, 1.0);
    assert!(sample(&mut e, "ifOperStatus", "sw1", &l, 6 * MIN, 2.0).is_empty());
    let ev = sample(&mut e, "ifOperStatus", "sw1", &l, 7 * MIN, 2.0);
    assert_eq!(count(&ev, "fired"), 1);
    assert_eq!(title(&ev[0]), "sw1: interface eth2 down");
    let ev = sample(&mut e, "ifOperStatus", "sw1", &l, 8 * MIN, 1.0);
    assert_eq!(
        reason(&ev[0]),
        "cleared: 1 == 1 after 2 min (since 00:06:00 UTC)"
    );
}

#[test]
fn label_matchers_select_series() {
    let mut e = engine(vec![rule_json(json!({
        "id": "m", "severity": "low", "title": "t",
        "condition": {"kind": "threshold", "metric": "x", "op": ">", "value": 1,
                      "labels": {"fstype": "!tmpfs|overlay", "mountpoint": "*"}}
    }))]);
    assert!(sample(
        &mut e,
        "x",
        "h",
        &[("fstype", "tmpfs"), ("mountpoint", "/run")],
        0,
        5.0
    )
    .is_empty());
    assert!(
        sample(&mut e, "x", "h", &[("fstype", "ext4")], 0, 5.0).is_empty(),
        "no mountpoint"
    );
    assert_eq!(
        count(
            &sample(
                &mut e,
                "x",
                "h",
                &[("fstype", "ext4"), ("mountpoint", "/")],
                0,
                5.0
            ),
            "fired"
        ),
        1
    );
    assert_eq!(
        count(
            &sample(&mut e, "x", "h", &[("mountpoint", "/srv")], 0, 5.0),
            "fired"
        ),
        1,
        "absent label is not tmpfs"
    );
}

#[test]
fn consecutive_failures_count_in_a_row_and_never_repeat() {
    let mut e = engine(builtin_rules());
    let mut t = 0;
    let mut step = |e: &mut Engine, up: bool| {
        t += MIN;
        check(e, "ping:h1", "icmp", "h1", t, up)
    };
    assert!(step(&mut e, false).is_empty());
    assert!(step(&mut e, false).is_empty());
    assert!(step(&mut e, true).is_empty(), "streak broken");
    assert!(step(&mut e, false).is_empty());
    assert!(step(&mut e, false).is_empty());
    let ev = step(&mut e, false);
    assert_eq!(count(&ev, "fired"), 1);
    match &ev[0] {
        AlertEvent::Fired {
            rule,
            severity,
            key,
            ..
        } => {
            assert_eq!(rule, "host-down");
            assert_eq!(*severity, Severity::Critical);
            assert_eq!(key, "host-down|h1|ping:h1");
        }
        other => panic!("{other:?}"),
    }
    for _ in 0..10 {
        assert!(step(&mut e, false).is_empty(), "no repeat while down");
    }
    let ev = step(&mut e, true);
    assert_eq!(count(&ev, "resolved"), 1);
    assert_eq!(reason(&ev[0]), "cleared: ICMP check h1.example up again after 13 min (down since 00:04:00 UTC, 13 failed runs)");
}

#[test]
fn check_kinds_pick_the_rule() {
    let mut e = engine(builtin_rules());
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(&mut e, "https:shop", "http", "web1", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 1);
    // Named by kind and target, never by the check's id.
    assert_eq!(title(&ev[0]), "web1: HTTP check web1.example down");
}

#[test]
fn a_check_alert_says_what_why_since_when_and_for_how_long() {
    let mut e = engine(builtin_rules());
    let url = "https://web01.example/health";
    let mut observe = |t: i64, up: bool, reason: &str| {
        e.observe(&Observation::CheckState {
            check: "6".into(),
            kind: "http".into(),
            asset: "web01".into(),
            time_ms: MONDAY + t,
            up,
            reason: reason.into(),
            target: url.into(),
        })
    };
    let refused = "connection refused (tcp connect 192.0.2.10:443)";
    assert!(observe(0, false, "timeout").is_empty());
    assert!(observe(MIN, false, refused).is_empty());
    let ev = observe(2 * MIN + 10_000, false, refused);
    let AlertEvent::Fired {
        title, description, ..
    } = &ev[0]
    else {
        panic!("a page: {ev:?}")
    };
    assert_eq!(title, &format!("web01: HTTPS check {url} down"));
    assert_eq!(
        description,
        &format!(
            "HTTPS GET {url} failed 3 times in a row since 00:00:00 UTC (2 min 10 s): {refused}"
        )
    );
    for i in 3..9 {
        assert!(observe(i * MIN, false, refused).is_empty());
    }
    let ev = observe(9 * MIN + 12_000, true, "");
    assert_eq!(
        reason(&ev[0]),
        format!(
            "cleared: HTTPS check {url} up again after 9 min 12 s (down since 00:00:00 UTC, 9 failed runs)"
        )
    );
}

#[test]
fn a_metric_alert_names_series_value_and_threshold() {
    let mut e = engine(builtin_rules());
    let labels = [("target", "192.0.2.1")];
    let loss = "vigil_icmp_loss_percent";
    let mut ev = Vec::new();
    for i in 0..4 {
        ev.extend(sample(
            &mut e,
            loss,
            "web01",
            &labels,
            MONDAY + i * MIN,
            40.0,
        ));
    }
    let AlertEvent::Fired {
        title, description, ..
    } = &fired(&ev)[0]
    else {
        panic!("a page: {ev:?}")
    };
    assert_eq!(title, "web01: packet loss 40%");
    assert_eq!(
        description,
        "vigil_icmp_loss_percent{target=\"192.0.2.1\"} on web01 is 40%, threshold > 20% for 2m \
         (clears at 5%), since 00:00:00 UTC (2 min)"
    );
}

#[test]
fn reboot_is_an_uptime_decrease_held_for_30m() {
    let mut e = engine(builtin_rules());
    assert!(
        sample(&mut e, "vigil_uptime_seconds", "h", &[], 0, 1_000.0).is_empty(),
        "first sample"
    );
    assert!(sample(&mut e, "vigil_uptime_seconds", "h", &[], MIN, 1_060.0).is_empty());
    let ev = sample(&mut e, "vigil_uptime_seconds", "h", &[], 2 * MIN, 20.0);
    assert_eq!(count(&ev, "fired"), 1);
    assert_eq!(title(&ev[0]), "h: rebooted");
    assert!(
        sample(&mut e, "vigil_uptime_seconds", "h", &[], 3 * MIN, 80.0).is_empty(),
        "held"
    );
    assert!(e.tick(31 * MIN).is_empty());
    let ev = e.tick(32 * MIN);
    assert_eq!(count(&ev, "resolved"), 1);
    assert_eq!(
        reason(&ev[0]),
        "cleared: no breach for 30m after 30 min (since 00:02:00 UTC)"
    );
    // Out of order or repeated times are not a rate.
    assert!(sample(&mut e, "vigil_uptime_seconds", "h", &[], 3 * MIN, 0.0).is_empty());
}

#[test]
fn rate_without_hold_clears_on_the_next_sample() {
    let mut e = engine(vec![rule_json(json!({
        "id": "growth", "severity": "low", "title": "t", "unit": "/h",
        "condition": {"kind": "rate_of_change", "metric": "queue", "per": "1h", "op": ">", "value": 100}
    }))]);
    sample(&mut e, "queue", "mx", &[], 0, 0.0);
    let ev = sample(&mut e, "queue", "mx", &[], 30 * MIN, 60.0);
    assert_eq!(count(&ev, "fired"), 1, "60 in 30m is 120/h");
    let ev = sample(&mut e, "queue", "mx", &[], 60 * MIN, 80.0);
    assert_eq!(
        reason(&ev[0]),
        "cleared: rate 40/h <= 100/h after 30 min (since 00:30:00 UTC)"
    );
}

fn free_bytes(
    e: &mut Engine,
    from_h: i64,
    to_h: i64,
    start: f64,
    per_hour: f64,
) -> Vec<AlertEvent> {
    let mut ev = Vec::new();
    for i in from_h * 6..=to_h * 6 {
        let t = MONDAY + i * 10 * MIN;
        let v = start - per_hour * (i as f64 / 6.0);
        ev.extend(sample(
            e,
            "node_filesystem_avail_bytes",
            "db1",
            &[("mountpoint", "/var"), ("fstype", "xfs")],
            t,
            v,
        ));
    }
    ev
}

#[test]
fn filesystem_full_within_24h_after_min_history() {
    let mut e = engine(builtin_rules());
    // 100 GB free, losing 5 GB an hour: full in 20 hours.
    let gb = 1e9;
    let ev = free_bytes(&mut e, 0, 0, 100.0 * gb, 5.0 * gb);
    assert!(ev.is_empty(), "less than an hour of history");
    let ev = free_bytes(&mut e, 1, 2, 100.0 * gb, 5.0 * gb);
    assert_eq!(count(&ev, "fired"), 1, "{ev:?}");
    assert_eq!(title(&ev[0]), "db1: filesystem /var full within 19h");
}

#[test]
fn prediction_with_negative_or_flat_slope_is_never_full() {
    let mut e = engine(builtin_rules());
    // Free space growing: never full.
    let ev = free_bytes(&mut e, 0, 10, 1e9, -1e8);
    assert!(ev.is_empty());
    let mut e = engine(vec![rule_json(json!({
        "id": "ratio", "severity": "low", "title": "{asset} full in {hours}h",
        "condition": {"kind": "predict_full", "metric": "used", "fill": "used_ratio",
                      "within_hours": 24, "min_history": "1h"}
    }))]);
    for i in 0..20 {
        // Usage falling after a cleanup, then flat at 0.9.
        let v = if i < 10 { 0.95 - 0.005 * i as f64 } else { 0.9 };
        assert!(sample(&mut e, "used", "h", &[], i * 10 * MIN, v).is_empty());
    }
}

#[test]
fn prediction_used_ratio_and_used_with_size() {
    let mut e = engine(vec![rule_json(json!({
        "id": "ratio", "severity": "low", "title": "{asset} full in {hours}h",
        "condition": {"kind": "predict_full", "metric": "used", "fill": "used_ratio",
                      "within_hours": 24, "min_history": "1h"}
    }))]);
    let mut ev = Vec::new();
    for i in 0..=6 {
        ev.extend(sample(
            &mut e,
            "used",
            "h",
            &[],
            i * 10 * MIN,
            0.5 + 0.05 * i as f64 / 6.0,
        ));
    }
    assert_eq!(count(&ev, "fired"), 1, "0.05 an hour from 0.55: full in 9h");
    assert_eq!(title(&ev[0]), "h full in 9h");

    let mut e = engine(vec![rule_json(json!({
        "id": "bytes", "severity": "low", "title": "{asset} {hours}h",
        "condition": {"kind": "predict_full", "metric": "used_b", "fill": "used", "size_metric": "size_b",
                      "within_hours": 2, "min_history": "30m"}
    }))]);
    let mut ev = Vec::new();
    for i in 0..=3 {
        ev.extend(sample(
            &mut e,
            "used_b",
            "h",
            &[("dev", "a")],
            i * 10 * MIN,
            900.0 + 10.0 * i as f64,
        ));
    }
    assert!(ev.is_empty(), "no size known yet");
    sample(&mut e, "size_b", "h", &[("dev", "a")], 40 * MIN, 1000.0);
    let ev = sample(&mut e, "used_b", "h", &[("dev", "a")], 40 * MIN, 940.0);
    assert_eq!(count(&ev, "fired"), 1, "60 left at 60/h: 1h");
    // Already full: 0 hours.
    let ev = sample(&mut e, "used_b", "h", &[("dev", "a")], 50 * MIN, 1000.0);
    assert!(ev.is_empty(), "still firing, no repeat");
}

#[test]
fn no_data_fires_after_silence_and_clears_on_data() {
    let mut e = engine(vec![rule_json(json!({
        "id": "nodata", "severity": "medium", "title": "{asset}: no {metric} for {silent}",
        "condition": {"kind": "no_data", "metric": "cpu", "after": "10m"}
    }))]);
    assert!(
        e.tick(-HOUR).is_empty(),
        "a series never seen is not missing"
    );
    sample(&mut e, "cpu", "h", &[], 0, 0.5);
    assert!(e.tick(10 * MIN - 1).is_empty());
    let ev = e.tick(10 * MIN);
    assert_eq!(count(&ev, "fired"), 1);
    assert_eq!(title(&ev[0]), "h: no cpu for 10m");
    assert!(e.tick(20 * MIN).is_empty());
    let ev = sample(&mut e, "cpu", "h", &[], 21 * MIN, 0.7);
    assert_eq!(
        reason(&ev[0]),
        "cleared: data again (0.7) after 21 min (since 00:00:00 UTC)"
    );
}

#[test]
fn no_data_after_restart_counts_from_the_restart() {
    let rule = rule_json(json!({
        "id": "nodata", "severity": "medium", "title": "t",
        "condition": {"kind": "no_data", "metric": "cpu", "after": "10m"}
    }));
    let mut e = engine(vec![rule.clone()]);
    sample(&mut e, "cpu", "h", &[], 0, 0.5);
    let snap = e.snapshot();
    let (mut e, closed) = Engine::restore(vec![rule], Default::default(), &snap).expect("restores");
    assert!(closed.is_empty());
    // Vigil was down for an hour: the series' silence is ours.
    assert!(e.tick(HOUR).is_empty());
    assert!(e.tick(HOUR + 9 * MIN).is_empty());
    assert_eq!(count(&e.tick(HOUR + 10 * MIN), "fired"), 1);
}

fn baseline_engine() -> Engine {
    engine(vec![rule_json(json!({
        "id": "traffic", "severity": "medium", "title": "{asset}: {value} vs {expected}",
        "condition": {"kind": "baseline", "metric": "bps", "deviation": {"sigma": 3},
                      "min_weeks": 2, "alpha": 0.5}
    }))])
}

#[test]
fn baseline_learns_before_it_alerts() {
    let mut e = baseline_engine();
    // Mondays 09:00: about 100, a little noise.
    let at = |week: i64, min: i64| MONDAY + week * 7 * DAY + 9 * HOUR + min * MIN;
    let mut ev = Vec::new();
    for week in 0..2 {
        for (i, v) in [98.0, 102.0, 100.0, 99.0, 101.0].iter().enumerate() {
            ev.extend(sample(
                &mut e,
                "bps",
                "r1",
                &[],
                at(week, i as i64 * 10),
                *v,
            ));
        }
    }
    // An outlier still in the learning period: silent.
    ev.extend(sample(&mut e, "bps", "r1", &[], at(1, 55), 500.0));
    assert!(ev.is_empty(), "{ev:?}");
    // Week three: learned (two whole weeks seen).
    assert!(sample(&mut e, "bps", "r1", &[], at(2, 0), 101.0).is_empty());
    let ev = sample(&mut e, "bps", "r1", &[], at(2, 10), 900.0);
    assert_eq!(count(&ev, "fired"), 1, "{ev:?}");
    // Another hour of the week has not learned anything: silent.
    assert!(sample(&mut e, "bps", "r1", &[], at(2, 60), 5.0).is_empty());
}

#[test]
fn baseline_ratio_and_direction() {
    let mut e = engine(vec![rule_json(json!({
        "id": "drop", "severity": "medium", "title": "t",
        "condition": {"kind": "baseline", "metric": "bps", "deviation": {"ratio": 0.5},
                      "min_weeks": 1, "direction": "below", "utc_offset": "+01:00"}
    }))]);
    sample(&mut e, "bps", "r1", &[], MONDAY, 100.0);
    let next = MONDAY + 7 * DAY;
    assert!(
        sample(&mut e, "bps", "r1", &[], next, 400.0).is_empty(),
        "above does not count"
    );
    let mut e2 = engine(e.rules().cloned().collect());
    sample(&mut e2, "bps", "r1", &[], MONDAY, 100.0);
    assert_eq!(
        count(&sample(&mut e2, "bps", "r1", &[], next, 40.0), "fired"),
        1
    );
}

#[test]
fn disk_health_and_packet_loss_builtins() {
    let mut e = engine(builtin_rules());
    let ev = sample(
        &mut e,
        "smartmon_device_smart_healthy",
        "nas",
        &[("disk", "/dev/sda")],
        0,
        0.0,
    );
    assert_eq!(title(&ev[0]), "nas: disk /dev/sda failing (SMART health)");
    assert!(sample(&mut e, "vigil_icmp_loss_percent", "h", &[], 0, 30.0).is_empty());
    let ev = sample(&mut e, "vigil_icmp_loss_percent", "h", &[], 2 * MIN, 25.0);
    assert_eq!(title(&ev[0]), "h: packet loss 25%");
    assert!(
        sample(&mut e, "vigil_icmp_loss_percent", "h", &[], 3 * MIN, 10.0).is_empty(),
        "10 > 5 holds"
    );
    let ev = sample(&mut e, "vigil_icmp_loss_percent", "h", &[], 4 * MIN, 0.0);
    assert_eq!(
        reason(&ev[0]),
        "cleared: 0% < 5% after 4 min (since 00:00:00 UTC)"
    );
}

#[test]
fn non_finite_samples_are_ignored() {
    let mut e = saturation("0s");
    assert!(sample(&mut e, "util", "r1", &[], 0, f64::NAN).is_empty());
    assert!(sample(&mut e, "util", "r1", &[], 0, f64::INFINITY).is_empty());
}

#[test]
fn extreme_times_are_ignored_without_overflow() {
    let mut e = saturation("5m");
    assert!(sample(&mut e, "util", "r1", &[], i64::MIN, 95.0).is_empty());
    assert!(sample(
        &mut e,
        "util",
        "r1",
        &[],
        -vigil_noc::engine::MAX_TIME_MS,
        95.0
    )
    .is_empty());
    // Held from one end of time to the other: well over 5m.
    let ev = sample(
        &mut e,
        "util",
        "r1",
        &[],
        vigil_noc::engine::MAX_TIME_MS,
        95.0,
    );
    assert_eq!(count(&ev, "fired"), 1);
    assert!(e.tick(i64::MAX).is_empty());
    let mut e = engine(builtin_rules());
    for t in [i64::MIN, i64::MAX, 0] {
        assert!(check(&mut e, "ping:h", "icmp", "h", t, false).is_empty());
    }
}

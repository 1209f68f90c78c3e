//! Noise control: parents, flapping, maintenance windows.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use vigil_noc::{
    builtin_rules, AlertEvent, Engine, EngineConfig, MaintenanceWindow, Schedule, Scope, Span,
    SuppressedBy, Topology,
};

fn star(router: &str, hosts: usize) -> Topology {
    let parents = (0..hosts)
        .map(|i| (format!("h{i}"), router.to_string()))
        .collect();
    Topology::new(parents).expect("acyclic")
}

/// One round of pings: the router first, then each host.
fn round(e: &mut Engine, t: i64, router_up: bool, hosts_up: bool, hosts: usize) -> Vec<AlertEvent> {
    let mut ev = check(e, "ping:r1", "icmp", "r1", t, router_up);
    for i in 0..hosts {
        ev.extend(check(
            e,
            &format!("ping:h{i}"),
            "icmp",
            &format!("h{i}"),
            t,
            hosts_up,
        ));
    }
    ev
}

#[test]
fn router_down_gives_one_page_and_recovery_pages_nobody_else() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 20));
    let mut ev = Vec::new();
    for i in 0..10 {
        ev.extend(round(&mut e, i * MIN, false, false, 20));
        ev.extend(e.tick(i * MIN + 30_000));
    }
    assert_eq!(count(&ev, "fired"), 1, "{:?}", fired(&ev));
    assert_eq!(fired(&ev)[0].key(), "host-down|r1|ping:r1");
    assert_eq!(count(&ev, "suppressed"), 20);
    let notes: BTreeSet<_> = ev
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Suppressed { by, note, .. } => Some((by.clone(), note.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        BTreeSet::from([(
            SuppressedBy::Parent("r1".into()),
            "behind r1, which is down".to_string()
        )])
    );
    // Recovery: everything comes back together.
    let mut ev = Vec::new();
    for i in 10..20 {
        ev.extend(round(&mut e, i * MIN, true, true, 20));
        ev.extend(e.tick(i * MIN + 30_000));
    }
    assert_eq!(count(&ev, "resolved"), 1);
    assert_eq!(count(&ev, "fired"), 0);
    assert_eq!(
        count(&ev, "withdrawn"),
        20,
        "the held-back alerts are closed silently"
    );
    assert!(e.active().is_empty());
}

#[test]
fn a_child_still_down_after_the_grace_pages() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 2));
    for i in 0..4 {
        round(&mut e, i * MIN, false, false, 2);
    }
    // The router comes back, h1 comes back, h0 stays down.
    let mut ev = check(&mut e, "ping:r1", "icmp", "r1", 4 * MIN, true);
    ev.extend(check(&mut e, "ping:h0", "icmp", "h0", 4 * MIN, false));
    ev.extend(check(&mut e, "ping:h1", "icmp", "h1", 4 * MIN, true));
    assert_eq!(count(&ev, "resolved"), 1);
    assert_eq!(count(&ev, "withdrawn"), 1);
    let mut ev = e.tick(5 * MIN);
    assert!(
        ev.iter().all(|e| !matches!(e, AlertEvent::Fired { .. })),
        "within the grace: {ev:?}"
    );
    ev.extend(e.tick(6 * MIN));
    let pages = fired(&ev);
    assert_eq!(pages.len(), 1);
    match pages[0] {
        AlertEvent::Fired { key, note, .. } => {
            assert_eq!(key, "host-down|h0|ping:h0");
            assert_eq!(note.as_deref(), Some("held back before: behind r1"));
        }
        _ => unreachable!(),
    }
}

#[test]
fn grandparents_count_and_the_nearest_down_ancestor_is_named() {
    let parents = BTreeMap::from([
        ("h".to_string(), "sw".to_string()),
        ("sw".to_string(), "r".to_string()),
    ]);
    let mut e = engine(builtin_rules());
    e.set_topology(Topology::new(parents).expect("acyclic"));
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(&mut e, "ping:r", "icmp", "r", i * MIN, false));
        ev.extend(check(&mut e, "ping:sw", "icmp", "sw", i * MIN, false));
        ev.extend(check(&mut e, "ping:h", "icmp", "h", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 1);
    let by: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Suppressed { asset, by, .. } => Some((asset.as_str(), by.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        by,
        [
            ("sw", SuppressedBy::Parent("r".into())),
            ("h", SuppressedBy::Parent("sw".into()))
        ]
    );
}

#[test]
fn a_page_already_sent_is_not_taken_back_by_a_parent() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 1);
    for i in 3..6 {
        ev.extend(check(&mut e, "ping:r1", "icmp", "r1", i * MIN, false));
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 2, "the router's own page");
    assert_eq!(count(&ev, "suppressed"), 0);
}

fn flapping_round(e: &mut Engine, minutes: std::ops::Range<i64>) -> Vec<AlertEvent> {
    let mut ev = Vec::new();
    for m in minutes {
        // Down, down, down, up...: the host-down rule would page each time.
        let up = m % 4 == 3;
        ev.extend(check(e, "ping:h", "icmp", "h", m * MIN, up));
        ev.extend(e.tick(m * MIN + 1));
    }
    ev
}

#[test]
fn flapping_check_gives_one_alert_not_a_page_per_change() {
    let mut e = engine(builtin_rules());
    let ev = flapping_round(&mut e, 0..40);
    // Flapping can only be called once the check has changed 5 times in
    // 10 minutes; pages before that stand. After it: one flapping alert and
    // no page per streak.
    let flap_at = ev
        .iter()
        .position(|e| e.key() == "flapping|h|ping:h")
        .expect("flapping alert");
    assert!(matches!(ev[flap_at], AlertEvent::Fired { .. }));
    assert!(fired(&ev[..flap_at]).len() <= 3, "{ev:?}");
    assert_eq!(fired(&ev[flap_at + 1..]).len(), 0, "{ev:?}");
    let held = ev[flap_at..]
        .iter()
        .filter(|e| {
            matches!(
                e,
                AlertEvent::Suppressed {
                    by: SuppressedBy::Flapping,
                    ..
                }
            )
        })
        .count();
    assert!(held >= 5, "later streaks are held back as flapping: {ev:?}");
    // Stable (up) for ten minutes: the flapping alert resolves.
    let mut ev = Vec::new();
    for m in 40..60 {
        ev.extend(check(&mut e, "ping:h", "icmp", "h", m * MIN, true));
        ev.extend(e.tick(m * MIN + 1));
    }
    let resolved: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e, AlertEvent::Resolved { .. }))
        .collect();
    assert_eq!(resolved.len(), 1, "{ev:?}");
    assert_eq!(resolved[0].key(), "flapping|h|ping:h");
    assert_eq!(
        reason(resolved[0]),
        "cleared: stable, 1 state change in 10m after 35 min (since 00:11:00 UTC)"
    );
    assert_eq!(count(&ev, "fired"), 0);
}

#[test]
fn flapping_alert_title_and_a_real_outage_after_it() {
    let mut e = engine(builtin_rules());
    let ev = flapping_round(&mut e, 0..40);
    let flap = ev
        .iter()
        .find(|e| e.key() == "flapping|h|ping:h")
        .expect("flapping alert");
    assert_eq!(
        title(flap),
        "h: ICMP check h.example is flapping (5 state changes in 10m)"
    );
    // Now it stays down. It flapped as spells of 3 failures (those stay
    // held back); the 4th failure in a row is longer than any: flapping
    // ends and the host-down alert pages then, not when the window empties.
    let mut ev = Vec::new();
    for m in 40..60 {
        ev.extend(check(&mut e, "ping:h", "icmp", "h", m * MIN, false));
        ev.extend(e.tick(m * MIN + 1));
    }
    let pages: Vec<_> = fired(&ev)
        .iter()
        .map(|p| match p {
            AlertEvent::Fired {
                key, time, note, ..
            } => (key.as_str(), *time, note.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        pages,
        [(
            "host-down|h|ping:h",
            43 * MIN,
            Some("held back before: flapping".to_string())
        )],
        "{ev:?}"
    );
    let resolved: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e, AlertEvent::Resolved { .. }))
        .collect();
    assert_eq!(resolved.len(), 1, "the flapping alert: {ev:?}");
    assert_eq!(resolved[0].key(), "flapping|h|ping:h");
    assert!(
        reason(resolved[0]).starts_with(
            "cleared: no longer flapping, down 4 times in a row (longer than any down spell in the last 10m)"
        ),
        "{ev:?}"
    );
}

#[test]
fn a_check_that_flapped_then_stays_down_pages_at_its_failure_count() {
    let mut e = engine(builtin_rules());
    let mut ev = Vec::new();
    // Up and down every minute: flapping, nothing pages (no 3 in a row).
    for m in 0..8 {
        ev.extend(check(&mut e, "ping:h", "icmp", "h", m * MIN, m % 2 == 0));
        ev.extend(e.tick(m * MIN + 1));
    }
    assert_eq!(count(&ev, "fired"), 1, "only the flapping alert: {ev:?}");
    // Down from minute 8 on (7 was down too: 3 in a row at minute 9).
    let mut ev = Vec::new();
    for m in 8..20 {
        ev.extend(check(&mut e, "ping:h", "icmp", "h", m * MIN, false));
        ev.extend(e.tick(m * MIN + 1));
    }
    let pages: Vec<_> = fired(&ev).iter().map(|p| p.key()).collect();
    assert_eq!(pages, ["host-down|h|ping:h"], "{ev:?}");
    let at = ev
        .iter()
        .find_map(|p| match p {
            AlertEvent::Fired { time, .. } => Some(*time),
            _ => None,
        })
        .expect("page");
    assert_eq!(at, 9 * MIN, "the 3rd failure in a row, not 10 minutes on");
    assert_eq!(count(&ev, "resolved"), 1, "the flapping alert closes");
}

fn window(id: &str, scope: Scope, schedule: Schedule) -> MaintenanceWindow {
    MaintenanceWindow {
        id: id.into(),
        note: "firmware upgrade".into(),
        scope,
        schedule,
    }
}

fn tagged(asset: &str, tag: &str) -> Topology {
    let tags = BTreeMap::from([(asset.to_string(), BTreeSet::from([tag.to_string()]))]);
    Topology::default().with_tags(tags)
}

#[test]
fn maintenance_suppresses_then_fires_what_still_holds() {
    let mut e = engine(builtin_rules());
    e.set_topology(tagged("sw1", "core"));
    let scope = Scope {
        tags: vec!["core".into()],
        ..Scope::default()
    };
    let once = Schedule::Once {
        start_ms: 0,
        end_ms: 30 * MIN,
    };
    e.set_windows(vec![window("fw", scope, once)])
        .expect("valid");
    let mut ev = Vec::new();
    for i in 0..5 {
        ev.extend(check(&mut e, "ping:sw1", "icmp", "sw1", i * MIN, false));
        ev.extend(check(&mut e, "https:sw1", "http", "sw1", i * MIN, i > 2));
    }
    assert_eq!(count(&ev, "fired"), 0);
    assert_eq!(count(&ev, "suppressed"), 2);
    match &ev[0] {
        AlertEvent::Suppressed { by, note, .. } => {
            assert_eq!(*by, SuppressedBy::Maintenance("fw".into()));
            assert_eq!(note, "in maintenance window fw: firmware upgrade");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        count(&ev, "withdrawn"),
        1,
        "the web check came back inside the window"
    );
    assert!(e.tick(30 * MIN - 1).is_empty());
    let ev = e.tick(30 * MIN);
    assert_eq!(fired(&ev).len(), 1, "still down when the window closed");
    assert_eq!(ev[0].key(), "host-down|sw1|ping:sw1");
}

#[test]
fn maintenance_does_not_touch_other_assets_or_sent_pages() {
    let mut e = engine(builtin_rules());
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(&mut e, "ping:a", "icmp", "a", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 1);
    let scope = Scope {
        assets: vec!["a".into()],
        ..Scope::default()
    };
    let sched = Schedule::Once {
        start_ms: 3 * MIN,
        end_ms: HOUR,
    };
    e.set_windows(vec![window("w", scope, sched)])
        .expect("valid");
    let mut ev = e.tick(4 * MIN);
    for i in 4..7 {
        ev.extend(check(&mut e, "ping:a", "icmp", "a", i * MIN, false));
        ev.extend(check(&mut e, "ping:b", "icmp", "b", i * MIN, false));
    }
    let keys: Vec<_> = ev.iter().map(|e| e.key()).collect();
    assert_eq!(
        keys,
        ["host-down|b|ping:b"],
        "a stays fired, b is not in scope"
    );
}

#[test]
fn recurring_window_across_midnight_in_a_fixed_offset() {
    let mut e = engine(builtin_rules());
    // Sundays 23:00 at +02:00 for 2 hours: Sunday 21:00 to 23:00 UTC.
    let sunday_21_utc = MONDAY + 6 * DAY + 21 * HOUR;
    let sched = Schedule::Weekly {
        days: vec![chrono::Weekday::Sun],
        start: "23:00".into(),
        duration: Span::from_hours(2),
        utc_offset: Some("+02:00".into()),
    };
    let scope = Scope {
        all: true,
        ..Scope::default()
    };
    e.set_windows(vec![window("nightly", scope, sched)])
        .expect("valid");
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(
            &mut e,
            "ping:x",
            "icmp",
            "x",
            sunday_21_utc + 30 * MIN + i * MIN,
            false,
        ));
    }
    assert_eq!(count(&ev, "suppressed"), 1, "local 23:30 Sunday is inside");
    assert!(
        e.tick(sunday_21_utc + 2 * HOUR - 1).is_empty(),
        "local 00:59 Monday still inside"
    );
    assert_eq!(count(&e.tick(sunday_21_utc + 2 * HOUR), "fired"), 1);
}

#[test]
fn windows_are_validated() {
    let mut e = engine(builtin_rules());
    let bad = window(
        "w",
        Scope::default(),
        Schedule::Once {
            start_ms: 0,
            end_ms: 1,
        },
    );
    assert!(e.set_windows(vec![bad]).is_err());
}

#[test]
fn engine_config_is_checked() {
    let mut config = EngineConfig::default();
    config.flapping.start_changes = 1;
    assert!(Engine::new(builtin_rules(), config).is_err());
}

#[test]
fn a_check_moved_to_another_asset_releases_the_old_one() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:x", "icmp", "r1", 0, false);
    check(&mut e, "ping:x", "icmp", "other", MIN, true);
    let mut ev = e.tick(10 * MIN);
    for i in 10..13 {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", i * MIN, false));
    }
    assert_eq!(count(&ev, "fired"), 1, "r1 is no longer down: {ev:?}");
}

#[test]
fn a_new_reason_to_hold_back_is_one_more_suppressed_event() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(round(&mut e, i * MIN, false, false, 1));
    }
    let scope = Scope {
        assets: vec!["h0".into()],
        ..Scope::default()
    };
    let sched = Schedule::Once {
        start_ms: 5 * MIN,
        end_ms: HOUR,
    };
    e.set_windows(vec![window("w", scope, sched)])
        .expect("valid");
    ev.extend(e.tick(5 * MIN));
    ev.extend(e.tick(6 * MIN));
    let by: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Suppressed { by, .. } => Some(by.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        by,
        [
            SuppressedBy::Parent("r1".into()),
            SuppressedBy::Maintenance("w".into())
        ],
        "maintenance comes first, and is told once"
    );
}

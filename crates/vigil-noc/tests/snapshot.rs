//! State across restarts.

mod common;

use common::*;
use serde_json::json;
use vigil_noc::{builtin_rules, AlertEvent, Engine, EngineConfig, EngineError, Topology};

#[test]
fn a_firing_alert_survives_a_restart_and_resolves_once() {
    let mut e = engine(builtin_rules());
    for i in 0..3 {
        check(&mut e, "ping:h", "icmp", "h", i * MIN, false);
    }
    let snap = e.snapshot();
    let (mut e, closed) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    assert!(closed.is_empty());
    assert!(
        check(&mut e, "ping:h", "icmp", "h", 3 * MIN, false).is_empty(),
        "no second page"
    );
    let ev = check(&mut e, "ping:h", "icmp", "h", 4 * MIN, true);
    assert_eq!(count(&ev, "resolved"), 1);
}

#[test]
fn pending_for_and_learned_state_carry_over() {
    let mut e = engine(builtin_rules());
    sample(&mut e, "vigil_if_utilization_percent", "r", &[], 0, 95.0);
    sample(
        &mut e,
        "vigil_if_utilization_percent",
        "r",
        &[],
        3 * MIN,
        95.0,
    );
    let snap = e.snapshot();
    let (mut e, _) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    let ev = sample(
        &mut e,
        "vigil_if_utilization_percent",
        "r",
        &[],
        5 * MIN,
        95.0,
    );
    assert_eq!(count(&ev, "fired"), 1, "the 5m started before the restart");
}

#[test]
fn a_snapshot_is_stable_json_and_restores_to_the_same_snapshot() {
    let mut e = engine(builtin_rules());
    e.set_topology(Topology::default());
    for i in 0..5 {
        check(&mut e, "ping:h", "icmp", "h", i * MIN, i % 2 == 0);
        sample(
            &mut e,
            "vigil_uptime_seconds",
            "h",
            &[],
            i * MIN,
            100.0 * i as f64,
        );
    }
    let snap = e.snapshot();
    let text = serde_json::to_string(&snap).expect("json");
    let back: serde_json::Value = serde_json::from_str(&text).expect("json");
    let (e2, _) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &back).expect("restores");
    assert_eq!(e2.snapshot(), snap);
}

#[test]
fn changed_or_removed_rules_close_their_alerts_and_others_keep_state() {
    let mut e = engine(builtin_rules());
    for i in 0..3 {
        check(&mut e, "ping:h", "icmp", "h", i * MIN, false);
        check(&mut e, "tcp:h:22", "tcp", "h", i * MIN, false);
    }
    assert_eq!(e.active().len(), 2);
    let snap = e.snapshot();
    // host-down: only the title changed (keeps state); service-down: n
    // changed (its state no longer applies).
    let mut rules = builtin_rules();
    for rule in &mut rules {
        match rule.id.as_str() {
            "host-down" => rule.title = "{asset} unreachable".into(),
            "service-down" => {
                if let vigil_noc::Condition::ConsecutiveFailures(c) = &mut rule.condition {
                    c.n = 5;
                }
            }
            _ => {}
        }
    }
    let (mut e, closed) = Engine::restore(rules, EngineConfig::default(), &snap).expect("restores");
    assert_eq!(closed.len(), 1);
    match &closed[0] {
        AlertEvent::Resolved { key, reason, .. } => {
            assert_eq!(key, "service-down|h|tcp:h:22");
            assert_eq!(reason, "cleared: rule service-down was removed or changed");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.active().len(), 1);
    assert!(check(&mut e, "ping:h", "icmp", "h", 3 * MIN, false).is_empty());
}

#[test]
fn bad_snapshots_are_refused_clearly() {
    let err = Engine::restore(
        builtin_rules(),
        EngineConfig::default(),
        &json!({"version": 99}),
    )
    .expect_err("refused");
    assert!(matches!(err, EngineError::Snapshot(_)), "{err}");
    let mut snap = engine(builtin_rules()).snapshot();
    snap["version"] = json!(2);
    let err =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "engine snapshot: version 2 (this engine reads version 1)"
    );
}

#[test]
fn parent_state_survives_a_restart() {
    let parents = [("h".to_string(), "r".to_string())].into_iter().collect();
    let mut e = engine(builtin_rules());
    e.set_topology(Topology::new(parents).expect("acyclic"));
    check(&mut e, "ping:r", "icmp", "r", 0, false);
    let snap = e.snapshot();
    let (mut e2, _) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    e2.set_topology(
        Topology::new([("h".to_string(), "r".to_string())].into_iter().collect()).expect("ok"),
    );
    let mut ev = Vec::new();
    for i in 0..3 {
        ev.extend(check(&mut e2, "ping:h", "icmp", "h", i * MIN, false));
    }
    assert_eq!(count(&ev, "suppressed"), 1);
    assert_eq!(count(&ev, "fired"), 0);
}

#[test]
fn quiet_series_leave_no_state_behind() {
    let mut e = engine(builtin_rules());
    for i in 0..100 {
        let asset = format!("h{i}");
        sample(
            &mut e,
            "vigil_if_utilization_percent",
            &asset,
            &[("ifName", "x")],
            0,
            10.0,
        );
        check(&mut e, &format!("ping:{asset}"), "icmp", &asset, 0, true);
    }
    sample(&mut e, "vigil_if_utilization_percent", "busy", &[], 0, 95.0);
    e.tick(MIN);
    let snap = e.snapshot();
    let tracks = snap["tracks"].as_object().expect("tracks");
    assert_eq!(tracks.len(), 1, "only the pending one: {tracks:?}");
    // The pending one still completes its `for`.
    assert_eq!(
        count(
            &sample(
                &mut e,
                "vigil_if_utilization_percent",
                "busy",
                &[],
                5 * MIN,
                95.0
            ),
            "fired"
        ),
        1
    );
}

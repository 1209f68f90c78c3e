//! Waiting for a parent's answer: checks run on their own schedules, so a
//! host behind a dead router can fail three times before the router's own
//! check has run once. Its page waits (at most `dependency_wait`) for a
//! reachability result of the router from after the host began failing.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use vigil_noc::{
    builtin_rules, AlertEvent, Engine, EngineConfig, MaintenanceWindow, Observation, Schedule,
    Scope, Span, SuppressedBy, Topology,
};

const SEC: i64 = 1_000;

fn star(router: &str, hosts: usize) -> Topology {
    let parents = (0..hosts)
        .map(|i| (format!("h{i}"), router.to_string()))
        .collect();
    Topology::new(parents).expect("acyclic")
}

/// The `by` of each suppressed event of a key, in order.
fn held_by(events: &[AlertEvent], key: &str) -> Vec<SuppressedBy> {
    events
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Suppressed { key: k, by, .. } if k == key => Some(by.clone()),
            _ => None,
        })
        .collect()
}

fn note_of(event: &AlertEvent) -> Option<&str> {
    match event {
        AlertEvent::Fired { note, .. } => note.as_deref(),
        AlertEvent::Suppressed { note, .. } => Some(note),
        _ => None,
    }
}

/// The router answers at 0 (up) and dies at 5s; the hosts ping every 10s
/// and fail from 10s on, the router's own ping runs every minute.
fn router_dies_hosts_fail_first(e: &mut Engine, hosts: usize) -> Vec<AlertEvent> {
    let mut ev = check(e, "ping:r1", "icmp", "r1", 0, true);
    for i in 0..hosts {
        ev.extend(check(
            e,
            &format!("ping:h{i}"),
            "icmp",
            &format!("h{i}"),
            0,
            true,
        ));
    }
    for s in (10..=50).step_by(10) {
        for i in 0..hosts {
            let (name, asset) = (format!("ping:h{i}"), format!("h{i}"));
            ev.extend(check(e, &name, "icmp", &asset, s * SEC + i as i64, false));
        }
        ev.extend(e.tick(s * SEC + 5 * SEC));
    }
    ev
}

#[test]
fn hosts_failing_before_their_router_is_checked_wait_and_never_page() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 5));
    let mut ev = router_dies_hosts_fail_first(&mut e, 5);
    assert_eq!(
        count(&ev, "fired"),
        0,
        "nobody pages before r1 answers: {ev:?}"
    );
    assert_eq!(count(&ev, "suppressed"), 5);
    let waiting = ev
        .iter()
        .find(|e| e.key() == "host-down|h0|ping:h0")
        .expect("h0 held");
    assert_eq!(
        note_of(waiting),
        Some("behind r1: waiting up to 1m30s for r1's reachability check")
    );
    // The router's check runs: down. The hosts stay held, behind it.
    for m in 1..4 {
        ev.extend(check(&mut e, "ping:r1", "icmp", "r1", m * MIN, false));
        for i in 0..5 {
            let (name, asset) = (format!("ping:h{i}"), format!("h{i}"));
            ev.extend(check(&mut e, &name, "icmp", &asset, m * MIN + SEC, false));
        }
        ev.extend(e.tick(m * MIN + 30 * SEC));
    }
    let keys: Vec<_> = fired(&ev).iter().map(|p| p.key()).collect();
    assert_eq!(keys, ["host-down|r1|ping:r1"], "one page, the router's");
    assert_eq!(
        held_by(&ev, "host-down|h3|ping:h3"),
        [
            SuppressedBy::AwaitingParent("r1".into()),
            SuppressedBy::Parent("r1".into())
        ]
    );
    for (key, by) in e.active() {
        if key != "host-down|r1|ping:r1" {
            assert_eq!(by, Some(&SuppressedBy::Parent("r1".into())), "{key}");
        }
    }
}

#[test]
fn a_router_that_answers_up_releases_the_page_with_a_note() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    let mut ev = Vec::new();
    for s in [10, 20, 30] {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false));
    }
    assert_eq!(count(&ev, "suppressed"), 1);
    assert_eq!(count(&ev, "fired"), 0);
    // An answer from before the host began failing does not count.
    assert!(check(&mut e, "ping:r1", "icmp", "r1", 5 * SEC, true).is_empty());
    let ev = check(&mut e, "ping:r1", "icmp", "r1", 70 * SEC, true);
    let pages = fired(&ev);
    assert_eq!(pages.len(), 1, "{ev:?}");
    assert_eq!(pages[0].key(), "host-down|h0|ping:h0");
    assert_eq!(
        note_of(pages[0]),
        Some("fired after waiting 40s for r1's reachability check (r1 is up)")
    );
}

#[test]
fn a_tick_releases_the_page_when_the_wait_runs_out() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    for s in [10, 20, 30] {
        check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false);
    }
    assert!(e.tick(30 * SEC + 90 * SEC - 1).is_empty(), "still waiting");
    let ev = e.tick(30 * SEC + 90 * SEC);
    let pages = fired(&ev);
    assert_eq!(pages.len(), 1, "{ev:?}");
    assert_eq!(
        note_of(pages[0]),
        Some("fired after waiting 1m30s for r1's reachability check (no result)")
    );
}

#[test]
fn no_wait_without_a_checked_ancestor_or_when_turned_off() {
    let three_failures = |e: &mut Engine| {
        let mut ev = Vec::new();
        for s in [10, 20, 30] {
            ev.extend(check(e, "ping:h0", "icmp", "h0", s * SEC, false));
        }
        ev
    };
    // r1 has no reachability check (only a web check): nothing to wait for.
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "https:r1", "http", "r1", 0, true);
    let ev = three_failures(&mut e);
    assert_eq!(count(&ev, "fired"), 1, "{ev:?}");
    assert_eq!(note_of(fired(&ev)[0]), None);
    // No parent at all.
    let mut e = engine(builtin_rules());
    assert_eq!(count(&three_failures(&mut e), "fired"), 1);
    // r1's ping stopped reporting long ago (a removed check): not waited for.
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", -HOUR, true);
    assert_eq!(count(&three_failures(&mut e), "fired"), 1);
    // dependency_wait = 0 turns it off.
    let config = EngineConfig {
        dependency_wait: Span::ZERO,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(builtin_rules(), config).expect("valid");
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    assert_eq!(count(&three_failures(&mut e), "fired"), 1);
}

#[test]
fn a_watched_router_is_waited_for_before_its_first_result() {
    // A fresh start: r1's ping is configured but has not run yet.
    let topology = star("r1", 1).with_watched(["r1".to_string()].into());
    let mut e = engine(builtin_rules());
    e.set_topology(topology);
    let mut ev = Vec::new();
    for s in [1, 2, 3] {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false));
    }
    assert_eq!(count(&ev, "fired"), 0, "{ev:?}");
    assert_eq!(
        held_by(&ev, "host-down|h0|ping:h0"),
        [SuppressedBy::AwaitingParent("r1".into())]
    );
    // Its first result: down. The host never pages.
    ev = check(&mut e, "ping:r1", "icmp", "r1", 20 * SEC, false);
    assert_eq!(
        held_by(&ev, "host-down|h0|ping:h0"),
        [SuppressedBy::Parent("r1".into())]
    );
    // Unwatched and never seen: no wait, as before.
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    let mut ev = Vec::new();
    for s in [1, 2, 3] {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false));
    }
    assert_eq!(count(&ev, "fired"), 1, "{ev:?}");
    // Watched but silent: the wait still runs out.
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1).with_watched(["r1".to_string()].into()));
    for s in [1, 2, 3] {
        check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false);
    }
    let ev = e.tick(3 * SEC + 90 * SEC);
    assert_eq!(count(&ev, "fired"), 1, "{ev:?}");
}

#[test]
fn dependency_wait_reads_from_config_and_defaults() {
    let config: EngineConfig =
        serde_json::from_value(serde_json::json!({"dependency_wait": "2m"})).expect("config");
    assert_eq!(config.dependency_wait, Span::from_mins(2));
    let config: EngineConfig = serde_json::from_value(serde_json::json!({})).expect("config");
    assert_eq!(config.dependency_wait, Span::from_secs(90));
}

#[test]
fn a_held_alert_that_clears_is_withdrawn_without_a_page() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    let mut ev = Vec::new();
    for s in [10, 20, 30] {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false));
    }
    ev.extend(check(&mut e, "ping:h0", "icmp", "h0", 40 * SEC, true));
    ev.extend(e.tick(5 * MIN));
    assert_eq!(count(&ev, "fired"), 0, "{ev:?}");
    assert_eq!(count(&ev, "withdrawn"), 1);
    assert!(e.active().is_empty());
}

#[test]
fn grandparents_are_waited_for_too_and_the_nearest_unanswered_is_named() {
    let parents = BTreeMap::from([
        ("h".to_string(), "sw".to_string()),
        ("sw".to_string(), "r".to_string()),
    ]);
    let mut e = engine(builtin_rules());
    e.set_topology(Topology::new(parents).expect("acyclic"));
    check(&mut e, "ping:r", "icmp", "r", 0, true);
    check(&mut e, "ping:sw", "icmp", "sw", 0, true);
    let mut ev = Vec::new();
    for s in [10, 20, 30] {
        ev.extend(check(&mut e, "ping:h", "icmp", "h", s * SEC, false));
    }
    // The switch answers up, the router has not: still held, now for r.
    ev.extend(check(&mut e, "ping:sw", "icmp", "sw", 40 * SEC, true));
    assert_eq!(count(&ev, "fired"), 0);
    // The router is the one that died.
    ev.extend(check(&mut e, "ping:r", "icmp", "r", 50 * SEC, false));
    assert_eq!(
        held_by(&ev, "host-down|h|ping:h"),
        [
            SuppressedBy::AwaitingParent("sw".into()),
            SuppressedBy::AwaitingParent("r".into()),
            SuppressedBy::Parent("r".into())
        ]
    );
    assert_eq!(count(&ev, "fired"), 0);
}

#[test]
fn a_held_page_in_a_snapshot_waits_again_after_the_restart() {
    let setup = |e: &mut Engine| e.set_topology(star("r1", 1));
    let mut e = engine(builtin_rules());
    setup(&mut e);
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    for s in [10, 20, 30] {
        check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false);
    }
    let snap = e.snapshot();
    // Down for 10 minutes: more than the wait, but nobody could answer.
    let (mut e, closed) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    assert!(closed.is_empty());
    setup(&mut e);
    assert!(e.tick(10 * MIN).is_empty(), "waits again from here");
    assert_eq!(
        e.active(),
        [(
            "host-down|h0|ping:h0",
            Some(&SuppressedBy::AwaitingParent("r1".into()))
        )]
    );
    let ev = check(&mut e, "ping:r1", "icmp", "r1", 10 * MIN + 20 * SEC, false);
    assert_eq!(
        held_by(&ev, "host-down|h0|ping:h0"),
        [SuppressedBy::Parent("r1".into())]
    );
    // Or, in another run, the wait runs out after the restart.
    let (mut e, _) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    setup(&mut e);
    e.tick(10 * MIN);
    assert!(e.tick(10 * MIN + 89 * SEC).is_empty());
    assert_eq!(count(&e.tick(10 * MIN + 90 * SEC), "fired"), 1);
}

#[test]
fn an_old_snapshot_without_the_new_fields_restores() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    for s in [0, 10, 20] {
        check(&mut e, "ping:r1", "icmp", "r1", s * SEC, false);
        check(&mut e, "ping:h0", "icmp", "h0", s * SEC + 1, false);
    }
    let mut snap = e.snapshot();
    // As written before the wait existed: no `last`, `began`,
    // `waiting_since`.
    for memo in snap["checks"].as_object_mut().expect("checks").values_mut() {
        memo.as_object_mut().expect("memo").remove("last");
    }
    for track in snap["tracks"].as_object_mut().expect("tracks").values_mut() {
        let track = track.as_object_mut().expect("track");
        track.remove("began");
        track.remove("waiting_since");
    }
    let (mut e, closed) =
        Engine::restore(builtin_rules(), EngineConfig::default(), &snap).expect("restores");
    assert!(closed.is_empty());
    e.set_topology(star("r1", 1));
    assert!(e.tick(MIN).is_empty());
    assert_eq!(
        e.active(),
        [
            (
                "host-down|h0|ping:h0",
                Some(&SuppressedBy::Parent("r1".into()))
            ),
            ("host-down|r1|ping:r1", None)
        ]
    );
}

#[test]
fn maintenance_comes_before_the_wait_and_an_answer_during_it_counts() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    check(&mut e, "ping:r1", "icmp", "r1", 0, true);
    let mut ev = Vec::new();
    for s in [10, 20, 30] {
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", s * SEC, false));
    }
    let window = MaintenanceWindow {
        id: "w".into(),
        note: String::new(),
        scope: Scope {
            assets: vec!["h0".into()],
            ..Scope::default()
        },
        schedule: Schedule::Once {
            start_ms: 40 * SEC,
            end_ms: 10 * MIN,
        },
    };
    e.set_windows(vec![window]).expect("valid");
    ev.extend(e.tick(40 * SEC));
    // The router answers up during the window: nothing left to wait for.
    ev.extend(check(&mut e, "ping:r1", "icmp", "r1", 60 * SEC, true));
    ev.extend(e.tick(10 * MIN));
    assert_eq!(
        held_by(&ev, "host-down|h0|ping:h0"),
        [
            SuppressedBy::AwaitingParent("r1".into()),
            SuppressedBy::Maintenance("w".into())
        ]
    );
    let pages = fired(&ev);
    assert_eq!(pages.len(), 1, "fires as the window closes: {ev:?}");
    assert_eq!(
        note_of(pages[0]),
        Some("held back before: maintenance window w")
    );
}

#[test]
fn a_flapping_child_check_stays_held_as_flapping_not_waiting() {
    let mut e = engine(builtin_rules());
    e.set_topology(star("r1", 1));
    let mut ev = Vec::new();
    // The host's ping flaps (down, down, down, up...); the router answers
    // up every minute, 29s after the host's result.
    for m in 0..30 {
        let up = m % 4 == 3;
        ev.extend(check(&mut e, "ping:h0", "icmp", "h0", m * MIN + SEC, up));
        ev.extend(check(
            &mut e,
            "ping:r1",
            "icmp",
            "r1",
            m * MIN + 30 * SEC,
            true,
        ));
        ev.extend(e.tick(m * MIN + 45 * SEC));
    }
    let flap_at = ev
        .iter()
        .position(|e| e.key() == "flapping|h0|ping:h0" && matches!(e, AlertEvent::Fired { .. }))
        .expect("flapping alert");
    // Streaks before it: r1 answered (up) since each began, before its
    // third failure, so they page at once.
    let before = fired(&ev[..flap_at]);
    assert!(!before.is_empty());
    assert!(before.iter().all(|p| note_of(p).is_none()), "{before:?}");
    // The flapping alert began with the host's result and waits 29s for r1.
    assert_eq!(
        note_of(&ev[flap_at]),
        Some("fired after waiting 29s for r1's reachability check (r1 is up)")
    );
    assert!(fired(&ev[flap_at + 1..]).is_empty(), "{ev:?}");
    // After it, host-down streaks are held as flapping: waiting for r1
    // would say nothing more.
    let later = held_by(&ev[flap_at..], "host-down|h0|ping:h0");
    assert!(!later.is_empty(), "{ev:?}");
    assert!(
        later.iter().all(|by| *by == SuppressedBy::Flapping),
        "{later:?}"
    );
}

// Random interleavings of a real outage: the router dies at some moment,
// every result from then on is a failure (the hosts are behind it). The
// checks run on their own intervals and phases, with jitter, ticks come
// every 5-30 s, and the engine may restart (losing what came while it was
// down, up to a minute each time). Whatever the order, at most one page,
// the router's. (The router has answered once before it dies: the engine
// cannot wait for a parent it has never seen a reachability result of.)

/// (check, kind, asset)
const OUTAGE_CHECKS: [(&str, &str, &str); 6] = [
    ("ping:r", "icmp", "r"),
    ("ping:h1", "icmp", "h1"),
    ("ping:h2", "icmp", "h2"),
    ("ping:h3", "icmp", "h3"),
    ("tcp:h1:22", "tcp", "h1"),
    ("http:h3", "http", "h3"),
];

#[derive(Debug, Clone)]
struct Outage {
    down_at: i64,
    /// Interval and phase (thousandths of the interval) per check.
    schedules: Vec<(i64, i64)>,
    tick_every: i64,
    /// When the engine restarts, and how long it is down.
    restarts: Vec<(i64, i64)>,
    seed: u64,
}

fn outage() -> impl Strategy<Value = Outage> {
    (
        2 * MIN..12 * MIN,
        proptest::collection::vec((5 * SEC..80 * SEC, 0..1000i64), OUTAGE_CHECKS.len()),
        5 * SEC..30 * SEC,
        proptest::collection::vec((90 * SEC..30 * MIN, 0..60 * SEC), 0..3),
        any::<u64>(),
    )
        .prop_map(|(down_at, schedules, tick_every, restarts, seed)| Outage {
            down_at,
            schedules,
            tick_every,
            restarts,
            seed,
        })
}

#[derive(Debug, Clone, Copy)]
enum Feed {
    Check(usize),
    Tick,
    Restart(i64),
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Every result, tick and restart in time order (ties in a random order).
fn timeline(o: &Outage, end: i64) -> Vec<(i64, u64, Feed)> {
    let mut rng = o.seed | 1;
    let mut feed = Vec::new();
    for (i, &(interval, phase)) in o.schedules.iter().enumerate() {
        let mut t = interval * phase / 1000;
        while t < end {
            // Up to 5s of jitter: the router answers at most 85s apart.
            let jitter = (xorshift(&mut rng) % 5_000) as i64;
            feed.push((t + jitter, xorshift(&mut rng), Feed::Check(i)));
            t += interval;
        }
    }
    let mut t = (xorshift(&mut rng) % o.tick_every as u64) as i64;
    while t < end {
        feed.push((t, xorshift(&mut rng), Feed::Tick));
        t += o.tick_every;
    }
    for &(at, gap) in &o.restarts {
        feed.push((at, xorshift(&mut rng), Feed::Restart(gap)));
    }
    feed.sort_by_key(|&(t, order, _)| (t, order));
    feed
}

fn outage_setup(e: &mut Engine) {
    let parents: BTreeMap<String, String> = [("h1", "r"), ("h2", "r"), ("h3", "h2")]
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    e.set_topology(Topology::new(parents).expect("acyclic"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_router_really_down_pages_once_whatever_the_interleaving(o in outage()) {
        let end = o.down_at + 20 * MIN;
        let mut e = engine(builtin_rules());
        outage_setup(&mut e);
        let mut events = Vec::new();
        let mut blind_until = i64::MIN;
        for (t, _, feed) in timeline(&o, end) {
            if t < blind_until {
                continue;
            }
            match feed {
                Feed::Check(i) => {
                    let (check, kind, asset) = OUTAGE_CHECKS[i];
                    events.extend(e.observe(&Observation::CheckState {
                        check: check.into(),
                        kind: kind.into(),
                        asset: asset.into(),
                        time_ms: t,
                        up: t < o.down_at,
                        reason: String::new(),
                        target: String::new(),
                    }));
                }
                Feed::Tick => events.extend(e.tick(t)),
                Feed::Restart(gap) => {
                    let snap = e.snapshot();
                    let (restored, closed) =
                        Engine::restore(builtin_rules(), EngineConfig::default(), &snap)
                            .map_err(|err| TestCaseError::fail(err.to_string()))?;
                    e = restored;
                    outage_setup(&mut e);
                    events.extend(closed);
                    blind_until = t + gap;
                }
            }
        }
        let pages: Vec<&str> = fired(&events).iter().map(|p| p.key()).collect();
        prop_assert!(pages.len() <= 1, "{:?}\n{:?}", pages, events);
        prop_assert!(
            pages.iter().all(|k| *k == "host-down|r|ping:r"),
            "{:?}\n{:?}", pages, events
        );
        if o.restarts.is_empty() {
            prop_assert_eq!(pages, ["host-down|r|ping:r"]);
        }
        // Everything behind the router ends held back behind a down parent.
        let mut behind: HashMap<&str, Option<&SuppressedBy>> = e.active().into_iter().collect();
        behind.remove("host-down|r|ping:r");
        for (key, by) in behind {
            prop_assert!(matches!(by, Some(SuppressedBy::Parent(_))), "{} {:?}", key, by);
        }
    }
}

//! Whatever the observations, each key's events follow its life cycle:
//! never two pages without a resolve between them.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use vigil_noc::{
    builtin_rules, AlertEvent, Engine, EngineConfig, MaintenanceWindow, Observation, Schedule,
    Scope, SeriesRef, Topology,
};

#[derive(Debug, Clone)]
enum Step {
    Check {
        asset: usize,
        kind: usize,
        up: bool,
    },
    Sample {
        asset: usize,
        metric: usize,
        value: f64,
    },
    Tick,
    Restart,
}

const ASSETS: [&str; 4] = ["r", "h1", "h2", "h3"];
const KINDS: [&str; 3] = ["icmp", "http", "tcp"];
const METRICS: [&str; 4] = [
    "vigil_if_utilization_percent",
    "vigil_uptime_seconds",
    "vigil_icmp_loss_percent",
    "cpu",
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..4usize, 0..3usize, any::<bool>()).prop_map(|(asset, kind, up)| Step::Check { asset, kind, up }),
        4 => (0..4usize, 0..4usize, 0.0..120.0f64).prop_map(|(asset, metric, value)| Step::Sample { asset, metric, value }),
        2 => Just(Step::Tick),
        1 => Just(Step::Restart),
    ]
}

fn rules() -> Vec<vigil_noc::RuleSpec> {
    let mut rules = builtin_rules();
    rules.push(rule_json(serde_json::json!({
        "id": "nodata", "severity": "low", "title": "t",
        "condition": {"kind": "no_data", "metric": "cpu", "after": "3m"}
    })));
    rules
}

fn setup(e: &mut Engine) {
    let parents: BTreeMap<String, String> = [("h1", "r"), ("h2", "r"), ("h3", "h2")]
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    e.set_topology(Topology::new(parents).expect("acyclic"));
    let w = MaintenanceWindow {
        id: "m".into(),
        note: String::new(),
        scope: Scope {
            assets: vec!["h2".into()],
            ..Scope::default()
        },
        schedule: Schedule::Once {
            start_ms: 20 * MIN,
            end_ms: 40 * MIN,
        },
    };
    e.set_windows(vec![w]).expect("valid");
}

/// What was shown per key, from the events alone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Nothing,
    Fired,
    Suppressed,
}

fn follow(seen: &mut HashMap<String, Seen>, ev: &AlertEvent) -> Result<(), String> {
    let state = seen.entry(ev.key().to_string()).or_insert(Seen::Nothing);
    let next = match (*state, ev) {
        (Seen::Nothing | Seen::Suppressed, AlertEvent::Fired { .. }) => Seen::Fired,
        (Seen::Nothing | Seen::Suppressed, AlertEvent::Suppressed { .. }) => Seen::Suppressed,
        (Seen::Fired, AlertEvent::Resolved { .. }) => Seen::Nothing,
        (Seen::Suppressed, AlertEvent::Withdrawn { .. }) => Seen::Nothing,
        (s, e) => return Err(format!("{e:?} after {s:?}")),
    };
    *state = next;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_two_pages_without_a_resolve(steps in proptest::collection::vec(step(), 1..300)) {
        let mut e = engine(rules());
        setup(&mut e);
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut uptime: HashMap<usize, f64> = HashMap::new();
        let mut t = 0;
        for step in steps {
            t += 20_000;
            let events = match step {
                Step::Check { asset, kind, up } => e.observe(&Observation::CheckState {
                    check: format!("{}:{}", KINDS[kind], ASSETS[asset]),
                    kind: KINDS[kind].into(),
                    asset: ASSETS[asset].into(),
                    time_ms: t,
                    up,
                    reason: String::new(),
                    target: String::new(),
                }),
                Step::Sample { asset, metric, value } => {
                    let value = if metric == 1 {
                        // Uptime mostly grows, sometimes resets.
                        let u = uptime.entry(asset).or_insert(0.0);
                        *u = if value < 10.0 { 0.0 } else { *u + value };
                        *u
                    } else {
                        value
                    };
                    e.observe(&Observation::Sample {
                        series: SeriesRef::new(METRICS[metric], ASSETS[asset], &[("ifName", "x")]),
                        time_ms: t,
                        value,
                    })
                }
                Step::Tick => e.tick(t),
                Step::Restart => {
                    let snap = e.snapshot();
                    let (restored, closed) = Engine::restore(rules(), EngineConfig::default(), &snap)
                        .map_err(|err| TestCaseError::fail(err.to_string()))?;
                    e = restored;
                    setup(&mut e);
                    closed
                }
            };
            for ev in &events {
                follow(&mut seen, ev).map_err(TestCaseError::fail)?;
            }
        }
        // What the engine says is active agrees with what it told.
        for (key, by) in e.active() {
            let expect = if by.is_some() { Seen::Suppressed } else { Seen::Fired };
            prop_assert_eq!(seen.get(key).copied(), Some(expect), "{}", key);
        }
    }
}

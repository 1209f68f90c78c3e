//! NOC rule and maintenance-window files on arbitrary input: parsing and
//! validation never panic; rules that are accepted build an engine that
//! runs; a duration that parses renders to text that parses back the same;
//! a valid window answers `is_open` for any instant.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_noc::{Engine, EngineConfig, MaintenanceWindow, Observation, SeriesRef, Span};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(span) = input.parse::<Span>() {
        assert_eq!(span.to_string().parse::<Span>(), Ok(span), "{input:?}");
    }
    if let Ok(window) = serde_json::from_str::<MaintenanceWindow>(input) {
        if window.validate().is_ok() {
            for t in [i64::MIN, -1, 0, 1_794_787_200_000, i64::MAX] {
                let _ = window.is_open(t);
            }
        }
    }
    let Ok(rules) = vigil_noc::spec::rules_from_json(input) else {
        return;
    };
    let mut engine = Engine::new(rules, EngineConfig::default()).expect("validated rules build an engine");
    let metrics: Vec<String> = engine.rules().flat_map(|r| r.metrics()).map(str::to_string).collect();
    for (i, metric) in metrics.iter().enumerate() {
        let t = i as i64 * 60_000;
        engine.observe(&Observation::Sample {
            series: SeriesRef::new(metric, "a", &[("x", "y")]),
            time_ms: t,
            value: i as f64,
        });
        engine.observe(&Observation::CheckState {
            check: "c".into(),
            kind: "icmp".into(),
            asset: "a".into(),
            time_ms: t,
            up: i % 2 == 0,
            reason: String::new(),
            target: String::new(),
        });
        engine.tick(t + 30_000);
    }
    let snapshot = engine.snapshot();
    let rules = engine.rules().cloned().collect();
    Engine::restore(rules, EngineConfig::default(), &snapshot).expect("own snapshot restores");
});

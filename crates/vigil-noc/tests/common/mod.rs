//! Helpers shared by the integration tests.
#![allow(dead_code)]

use vigil_noc::{AlertEvent, Engine, EngineConfig, Observation, RuleSpec, SeriesRef};

pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;
/// Monday 2026-11-16 00:00 UTC.
pub const MONDAY: i64 = 1_794_787_200_000;

pub fn engine(rules: Vec<RuleSpec>) -> Engine {
    Engine::new(rules, EngineConfig::default()).expect("valid rules")
}

pub fn rule_json(json: serde_json::Value) -> RuleSpec {
    let rule: RuleSpec = serde_json::from_value(json).expect("rule parses");
    rule.validate().expect("rule is valid");
    rule
}

pub fn sample(
    e: &mut Engine,
    metric: &str,
    asset: &str,
    labels: &[(&str, &str)],
    t: i64,
    v: f64,
) -> Vec<AlertEvent> {
    e.observe(&Observation::Sample {
        series: SeriesRef::new(metric, asset, labels),
        time_ms: t,
        value: v,
    })
}

pub fn check(
    e: &mut Engine,
    check: &str,
    kind: &str,
    asset: &str,
    t: i64,
    up: bool,
) -> Vec<AlertEvent> {
    e.observe(&Observation::CheckState {
        check: check.into(),
        kind: kind.into(),
        asset: asset.into(),
        time_ms: t,
        up,
        reason: if up { String::new() } else { "timeout".into() },
        target: format!("{asset}.example"),
    })
}

pub fn fired(events: &[AlertEvent]) -> Vec<&AlertEvent> {
    events
        .iter()
        .filter(|e| matches!(e, AlertEvent::Fired { .. }))
        .collect()
}

pub fn count(events: &[AlertEvent], kind: &str) -> usize {
    events
        .iter()
        .filter(|e| match e {
            AlertEvent::Fired { .. } => kind == "fired",
            AlertEvent::Resolved { .. } => kind == "resolved",
            AlertEvent::Suppressed { .. } => kind == "suppressed",
            AlertEvent::Withdrawn { .. } => kind == "withdrawn",
        })
        .count()
}

pub fn title(event: &AlertEvent) -> &str {
    match event {
        AlertEvent::Fired { title, .. } | AlertEvent::Suppressed { title, .. } => title,
        other => panic!("no title in {other:?}"),
    }
}

pub fn reason(event: &AlertEvent) -> &str {
    match event {
        AlertEvent::Resolved { reason, .. } | AlertEvent::Withdrawn { reason, .. } => reason,
        other => panic!("no reason in {other:?}"),
    }
}

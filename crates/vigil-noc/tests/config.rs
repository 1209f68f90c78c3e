//! Rules and windows as written in files: TOML and JSON, and their errors.

mod common;

use common::*;
use vigil_noc::spec::{rules_from_json, validate_all};
use vigil_noc::{MaintenanceWindow, RuleSpec, SpecError};

#[derive(serde::Deserialize)]
struct File {
    rule: Vec<RuleSpec>,
    #[serde(default)]
    window: Vec<MaintenanceWindow>,
}

const TOML: &str = r#"
[[rule]]
id = "link-saturated"
severity = "high"
title = "{asset}: link {ifName} saturated ({value}%)"
unit = "%"
[rule.condition]
kind = "threshold"
metric = "vigil_if_utilization_percent"
op = ">"
value = 90
resolve_value = 80
for = "5m"

[[rule]]
id = "fs"
severity = "high"
title = "{asset}: filesystem {mountpoint} full within {hours}h"
[rule.condition]
kind = "predict_full"
metric = "node_filesystem_avail_bytes"
fill = "free"
within_hours = 24
min_history = "1h"
labels = { fstype = "!tmpfs" }

[[rule]]
id = "anomaly"
severity = "medium"
title = "{asset}: traffic {value} (usually {expected})"
[rule.condition]
kind = "baseline"
metric = "bps"
deviation = { sigma = 3 }
utc_offset = "+01:00"

[[window]]
id = "patch-tuesday"
note = "monthly patches"
scope = { tags = ["windows-servers"] }
schedule = { kind = "weekly", days = ["Tue"], start = "22:00", duration = "3h", utc_offset = "+01:00" }
"#;

#[test]
fn rules_and_windows_read_from_toml() {
    let file: File = toml::from_str(TOML).expect("parses");
    assert_eq!(validate_all(&file.rule), Ok(()));
    assert_eq!(file.rule.len(), 3);
    assert_eq!(file.window.len(), 1);
    assert_eq!(file.window[0].validate(), Ok(()));
    let mut e = engine(file.rule);
    e.set_windows(file.window).expect("valid");
    let ev = sample(
        &mut e,
        "vigil_if_utilization_percent",
        "r",
        &[("ifName", "xe-0")],
        0,
        99.0,
    );
    assert!(ev.is_empty(), "waits 5m");
}

fn problem(json: &str) -> String {
    match rules_from_json(json) {
        Err(e) => e.to_string(),
        Ok(rules) => panic!("accepted {rules:?}"),
    }
}

#[test]
fn mistakes_are_refused_with_clear_errors() {
    let base = |cond: &str| {
        format!(r#"[{{"id": "r", "severity": "low", "title": "t", "condition": {cond}}}]"#)
    };
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "m", "op": ">", "value": 90, "resolve_value": 95}"#,
    ));
    assert_eq!(
        msg,
        r#"rule "r": resolve_value 95 must be at or below value 90 for op >"#
    );
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "m", "op": "<", "value": 14, "resolve_value": 7}"#,
    ));
    assert!(msg.contains("at or above"), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "m", "op": ">", "value": 1, "for": "5 minutes"}"#,
    ));
    assert!(msg.contains("invalid duration \"5 minutes\""), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "m", "op": ">", "value": 1, "fro": "5m"}"#,
    ));
    assert!(msg.contains("unknown field `fro`"), "{msg}");
    let msg = problem(&base(r#"{"kind": "thresold", "metric": "m"}"#));
    assert!(msg.contains("unknown variant `thresold`"), "{msg}");
    let msg = problem(&base(r#"{"kind": "consecutive_failures", "n": 0}"#));
    assert_eq!(msg, r#"rule "r": n must be at least 1"#);
    let msg = problem(&base(
        r#"{"kind": "no_data", "metric": "m", "after": "0s"}"#,
    ));
    assert_eq!(msg, r#"rule "r": after must be longer than 0s"#);
    let msg = problem(&base(
        r#"{"kind": "predict_full", "metric": "m", "fill": "used", "within_hours": 24, "min_history": "1h"}"#,
    ));
    assert!(msg.contains("needs size_metric"), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "predict_full", "metric": "m", "fill": "free", "within_hours": 24, "min_history": "12h"}"#,
    ));
    assert!(msg.contains("longer than the window 6h"), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "baseline", "metric": "m", "deviation": {"sigma": -1}}"#,
    ));
    assert!(msg.contains("deviation must be positive"), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "baseline", "metric": "m", "deviation": {"ratio": 0.5}, "utc_offset": "CET"}"#,
    ));
    assert!(msg.contains("utc offset \"CET\""), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "9m", "op": ">", "value": 1}"#,
    ));
    assert!(msg.contains("not a valid name"), "{msg}");
    let msg = problem(&base(
        r#"{"kind": "threshold", "metric": "m", "op": ">", "value": 1, "labels": {"a": "x||y"}}"#,
    ));
    assert!(msg.contains("empty alternative"), "{msg}");
    let two = r#"[{"id": "r", "severity": "low", "title": "t", "condition": {"kind": "consecutive_failures", "n": 1}},
                  {"id": "r", "severity": "low", "title": "t", "condition": {"kind": "consecutive_failures", "n": 2}}]"#;
    assert_eq!(
        rules_from_json(two),
        Err(SpecError::DuplicateId("r".into()))
    );
    assert!(problem("{").starts_with("rule file: "));
}

#[test]
fn builtin_rules_serialise_to_toml_and_back() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Rules {
        rule: Vec<RuleSpec>,
    }
    let rules = vigil_noc::builtin_rules();
    let text = toml::to_string(&Rules {
        rule: rules.clone(),
    })
    .expect("toml");
    let back: Rules = toml::from_str(&text).expect("parses back");
    assert_eq!(back.rule, rules);
}

#[test]
fn events_serialise_for_the_alerts_api() {
    let mut e = engine(vigil_noc::builtin_rules());
    let mut events = Vec::new();
    for i in 0..3 {
        events.extend(check(&mut e, "ping:h", "icmp", "h", i * MIN, false));
    }
    let json = serde_json::to_value(&events[0]).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "event": "fired", "key": "host-down|h|ping:h", "rule": "host-down", "asset": "h",
            "team": "noc", "severity": "critical", "title": "h: host down (ICMP check h.example: no reply 3 times in a row)",
            "description": "ping h.example failed 3 times in a row since 00:00:00 UTC (2 min): timeout", "value": 3.0, "time": 2 * MIN, "note": null
        })
    );
    let by = serde_json::to_value(vigil_noc::SuppressedBy::Parent("r1".into())).expect("json");
    assert_eq!(by, serde_json::json!({"parent": "r1"}));
}

//! How a tenant tunes its NOC: maintenance windows and alert rules.
//!
//! Both are JSON documents in the inventory store (`DefinitionKind`), made
//! through `/api/v1/maintenance-windows` and `/api/v1/noc-rules` or the
//! config's `[[maintenance_windows]]` and `[[noc_rules]]` tables. This
//! module reads them: what a document may say, and what the tenant's engine
//! runs as a result.
//!
//! Rules: every tenant starts from the built-ins. A rule of the tenant's
//! with a built-in's id replaces it (a stricter latency bound for one
//! client); any other id adds a rule; `{"id": "reboot-detected",
//! "enabled": false}` switches a built-in off, and `"enabled": false` on a
//! whole rule keeps it without running it.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use vigil_core::{TenantId, Timestamp};
use vigil_noc::{MaintenanceWindow, RuleSpec};
use vigil_store::state::{DefinitionKind, InventoryStore};

/// A tenant's rule document, read.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDocument {
    pub id: String,
    pub enabled: bool,
    /// `None`: a built-in switched off.
    pub rule: Option<RuleSpec>,
}

impl RuleDocument {
    /// The document as stored: the rule's own JSON, and `enabled`.
    pub fn to_json(&self) -> Value {
        let mut doc = match self.rule.as_ref().map(serde_json::to_value) {
            Some(Ok(Value::Object(map))) => map,
            _ => Map::from_iter([("id".to_string(), Value::from(self.id.clone()))]),
        };
        doc.insert("enabled".into(), self.enabled.into());
        Value::Object(doc)
    }

    /// Whether it stands in for a built-in of the same id.
    pub fn replaces_builtin(&self) -> bool {
        builtin_ids().contains(&self.id)
    }
}

fn builtin_ids() -> BTreeSet<String> {
    vigil_noc::builtin_rules()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Reads a rule document: a whole rule (`vigil_noc::RuleSpec`'s fields)
/// with an optional `enabled`, or an id and `"enabled": false` to switch a
/// built-in off. Every reason it cannot be used is in the error.
pub fn rule_from_json(mut doc: Map<String, Value>) -> Result<RuleDocument, String> {
    let enabled = match doc.remove("enabled") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(format!("enabled must be true or false, not {other}")),
    };
    let id = match doc.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        _ => return Err("a rule needs an id (a non-empty string)".into()),
    };
    if id == vigil_noc::engine::FLAPPING_RULE {
        return Err(format!(
            "the id {id:?} is the engine's own (flapping alerts); choose another"
        ));
    }
    if doc.len() == 1 {
        if enabled {
            return Err(format!(
                "rule {id:?} has nothing but its id: give a whole rule, or \"enabled\": false to switch a built-in off"
            ));
        }
        if !builtin_ids().contains(&id) {
            return Err(format!("there is no built-in rule {id:?} to switch off"));
        }
        return Ok(RuleDocument {
            id,
            enabled,
            rule: None,
        });
    }
    let rule: RuleSpec =
        serde_json::from_value(Value::Object(doc)).map_err(|e| format!("rule {id:?}: {e}"))?;
    rule.validate().map_err(|e| e.to_string())?;
    Ok(RuleDocument {
        id,
        enabled,
        rule: Some(rule),
    })
}

/// The rules an engine runs for these documents: the built-ins, each
/// replaced by the document of its id, plus the tenant's own, less those
/// switched off. Built-ins keep their order, so an unchanged set compares
/// equal from one reading to the next.
pub fn effective_rules(documents: &[RuleDocument]) -> Vec<RuleSpec> {
    let mut rules = vigil_noc::builtin_rules();
    for doc in documents {
        let place = rules.iter().position(|r| r.id == doc.id);
        match (&doc.rule, place) {
            (Some(rule), Some(i)) => rules[i] = rule.clone(),
            (Some(rule), None) => rules.push(rule.clone()),
            (None, _) => {}
        }
    }
    let off: BTreeSet<&str> = documents
        .iter()
        .filter(|d| !d.enabled)
        .map(|d| d.id.as_str())
        .collect();
    rules.retain(|r| !off.contains(r.id.as_str()));
    rules
}

/// Reads a maintenance window document: `vigil_noc::MaintenanceWindow`'s
/// fields, where a one-off window's times may also be given as `start` and
/// `end` (RFC 3339, epoch seconds, `now`, `now+2h`), kept as milliseconds.
pub fn window_from_json(
    mut doc: Map<String, Value>,
    now: Timestamp,
) -> Result<MaintenanceWindow, String> {
    let one_off = |s: &Map<String, Value>| s.get("kind").and_then(Value::as_str) == Some("once");
    if let Some(Value::Object(schedule)) = doc
        .get_mut("schedule")
        .filter(|s| s.as_object().is_some_and(one_off))
    {
        for (given, kept) in [("start", "start_ms"), ("end", "end_ms")] {
            let Some(value) = schedule.remove(given) else {
                continue;
            };
            let ms = match value {
                Value::String(text) => {
                    crate::api::parse_time(given, &text, now)
                        .map_err(|e| e.message)?
                        .micros()
                        / 1000
                }
                other => return Err(format!("{given} must be a time as text, not {other}")),
            };
            schedule.insert(kept.into(), ms.into());
        }
    }
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let window: MaintenanceWindow = serde_json::from_value(Value::Object(doc))
        .map_err(|e| format!("maintenance window {id:?}: {e}"))?;
    window.validate().map_err(|e| e.to_string())?;
    Ok(window)
}

/// What a tenant's engine should run: its rules and its windows. A stored
/// document that no longer reads (a rule's metric syntax changed in an
/// upgrade) is left out with a warning rather than stopping the NOC.
pub async fn tenant_tuning(
    inventory: &dyn InventoryStore,
    tenant: TenantId,
) -> anyhow::Result<(Vec<RuleSpec>, Vec<MaintenanceWindow>)> {
    let mut documents = Vec::new();
    for def in inventory
        .list_definitions(tenant, DefinitionKind::Rule)
        .await?
    {
        match object(def.spec).and_then(rule_from_json) {
            Ok(doc) => documents.push(doc),
            Err(e) => {
                tracing::warn!(tenant = %tenant, rule = %def.name, error = %e, "stored NOC rule skipped")
            }
        }
    }
    let mut windows = Vec::new();
    for def in inventory
        .list_definitions(tenant, DefinitionKind::Window)
        .await?
    {
        match object(def.spec).and_then(|doc| window_from_json(doc, Timestamp::now())) {
            Ok(window) => windows.push(window),
            Err(e) => {
                tracing::warn!(tenant = %tenant, window = %def.name, error = %e, "stored maintenance window skipped")
            }
        }
    }
    Ok((effective_rules(&documents), windows))
}

/// A document must be a JSON object.
pub fn object(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Map<String, Value> {
        object(value).expect("an object")
    }

    fn latency_rule(id: &str, bound: f64) -> Value {
        json!({
            "id": id, "severity": "high", "title": "{asset}: latency {value} ms",
            "condition": {"kind": "threshold", "metric": "vigil_icmp_rtt_ms",
                          "op": ">", "value": bound, "for": "1m"}
        })
    }

    #[test]
    fn a_tenant_rule_replaces_the_builtin_of_its_id_in_place() {
        let tuned = rule_from_json(doc(latency_rule("high-latency", 50.0))).unwrap();
        assert!(tuned.replaces_builtin());
        let rules = effective_rules(&[tuned]);
        assert_eq!(rules.len(), vigil_noc::builtin_rules().len());
        let latency = rules.iter().find(|r| r.id == "high-latency").unwrap();
        assert_eq!(latency.severity, vigil_noc::Severity::High);
    }

    #[test]
    fn new_rules_add_and_switched_off_ones_go() {
        let own = rule_from_json(doc(latency_rule("lab-latency", 5.0))).unwrap();
        let off = rule_from_json(doc(json!({"id": "reboot-detected", "enabled": false}))).unwrap();
        assert_eq!(off.rule, None);
        let kept_off = rule_from_json(doc(json!({"enabled": false, "id": "x", "severity": "low",
                "title": "t", "condition": {"kind": "consecutive_failures", "n": 2}})))
        .unwrap();
        let rules = effective_rules(&[own, off, kept_off]);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert!(ids.contains(&"lab-latency"));
        assert!(!ids.contains(&"reboot-detected"));
        assert!(!ids.contains(&"x"));
        assert_eq!(rules.len(), vigil_noc::builtin_rules().len());
    }

    #[test]
    fn rule_documents_say_what_is_wrong() {
        let cases = [
            (json!({"severity": "low"}), "needs an id"),
            (json!({"id": "host-down"}), "nothing but its id"),
            (json!({"id": "nope", "enabled": false}), "no built-in rule"),
            (json!({"id": "flapping", "enabled": false}), "engine's own"),
            (json!({"id": "a", "enabled": "no"}), "true or false"),
            (
                json!({"id": "a", "severity": "loud", "title": "t",
                       "condition": {"kind": "consecutive_failures", "n": 2}}),
                "rule \"a\"",
            ),
        ];
        for (value, expected) in cases {
            let err = rule_from_json(doc(value.clone())).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn stored_rule_documents_read_back_the_same() {
        for value in [
            latency_rule("high-latency", 50.0),
            json!({"id": "reboot-detected", "enabled": false}),
        ] {
            let read = rule_from_json(doc(value)).unwrap();
            let again = rule_from_json(doc(read.to_json())).unwrap();
            assert_eq!(again, read);
        }
    }

    #[test]
    fn one_off_windows_take_readable_times() {
        let now = Timestamp(1_800_000_000_000_000);
        let window = window_from_json(
            doc(json!({"id": "swap", "scope": {"assets": ["core-router"]},
                "schedule": {"kind": "once", "start": "now", "end": "now+2h"}})),
            now,
        )
        .unwrap();
        assert_eq!(
            window.schedule,
            vigil_noc::Schedule::Once {
                start_ms: 1_800_000_000_000,
                end_ms: 1_800_000_000_000 + 7_200_000
            }
        );
        let err = window_from_json(
            doc(json!({"id": "w", "scope": {"all": true},
                "schedule": {"kind": "once", "start": "now+2h", "end": "now"}})),
            now,
        )
        .unwrap_err();
        assert!(err.contains("not after start"), "{err}");
        let err = window_from_json(
            doc(json!({"id": "w", "schedule": {"kind": "once", "start": "soon", "end": "now"}})),
            now,
        )
        .unwrap_err();
        assert!(err.contains("is not a time"), "{err}");
        let weekly = window_from_json(
            doc(
                json!({"id": "w", "scope": {"tags": ["dc1"]}, "schedule": {"kind": "weekly",
                "days": ["sun"], "start": "22:00", "duration": "4h"}}),
            ),
            now,
        );
        assert!(
            weekly.is_ok(),
            "a weekly start is a time of day: {weekly:?}"
        );
    }
}

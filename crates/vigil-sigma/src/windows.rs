//! Windows events into the view Sigma rules are written against.
//!
//! Accepts the two JSON shapes Windows events arrive in: the EVTX shape
//! (`{"Event": {"System": {..}, "EventData": {..}}}`, what EVTX parsers
//! emit) and the flat shape shippers send (`EventID`, `Channel` and the
//! event data at the top level). Either way the result is one flat object:
//! the event data fields under their own names (`Image`, `CommandLine`),
//! the system fields (`EventID`, `Channel`, `Computer`, `Provider_Name`...),
//! and an [`EventSource`] from the mapping file (`mappings/windows.yml`).

use crate::logsource::EventSource;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The embedded default mapping.
pub const DEFAULT_MAPPING: &str = include_str!("../mappings/windows.yml");

/// Channels to services, and provider/event ids to categories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsMapping {
    #[serde(default)]
    services: HashMap<String, String>,
    #[serde(default)]
    categories: Vec<CategoryEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    provider: Option<String>,
    channel: Option<String>,
    event_id: i64,
    category: String,
    /// Event field → the name the category's rules use.
    #[serde(default)]
    fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid Windows mapping: {0}")]
pub struct MappingError(String);

impl WindowsMapping {
    pub fn from_yaml(text: &str) -> Result<Self, MappingError> {
        yaml_serde::from_str(text).map_err(|e| MappingError(e.to_string()))
    }

    /// The mapping shipped with Vigil.
    pub fn embedded() -> Self {
        // Checked by a test: the embedded file always parses.
        Self::from_yaml(DEFAULT_MAPPING).unwrap_or(WindowsMapping {
            services: HashMap::new(),
            categories: Vec::new(),
        })
    }

    /// The Sigma view of a Windows event, or `None` if `event` is not one
    /// (no event id).
    pub fn normalize(&self, event: &Value) -> Option<(EventSource, Map<String, Value>)> {
        let mut fields = match event.get("Event") {
            Some(Value::Object(inner)) => flatten_evtx(inner),
            _ => event.as_object()?.clone(),
        };
        let event_id = fields.get("EventID").and_then(number)?;
        fields.insert("EventID".into(), Value::from(event_id));
        let channel = text(&fields, &["Channel"]);
        let provider = text(&fields, &["Provider_Name", "ProviderName", "SourceName"]);
        let mut source = EventSource {
            product: Some("windows".into()),
            categories: Vec::new(),
            service: channel
                .as_deref()
                .and_then(|c| self.services.get(c).cloned()),
        };
        for entry in &self.categories {
            let provider_ok = entry
                .provider
                .as_deref()
                .is_none_or(|p| provider.as_deref() == Some(p));
            let channel_ok = entry
                .channel
                .as_deref()
                .is_none_or(|c| channel.as_deref() == Some(c));
            if entry.event_id == event_id && provider_ok && channel_ok {
                source.categories.push(entry.category.clone());
                for (from, to) in &entry.fields {
                    if let Some(value) = fields.get(from).cloned() {
                        fields.entry(to.clone()).or_insert(value);
                    }
                }
            }
        }
        Some((source, fields))
    }
}

/// `{"System": .., "EventData": ..}` into one flat object.
fn flatten_evtx(event: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(system)) = event.get("System") {
        for (key, value) in system {
            match (key.as_str(), value) {
                ("Provider", Value::Object(p)) => {
                    copy_attributes(p, "Provider_", &mut out);
                }
                ("TimeCreated", Value::Object(t)) => {
                    if let Some(time) = attributes(t).and_then(|a| a.get("SystemTime")) {
                        out.insert("TimeCreated".into(), time.clone());
                    }
                }
                ("Execution" | "Security" | "Correlation", Value::Object(o)) => {
                    copy_attributes(o, "", &mut out);
                }
                (_, value) => {
                    out.insert(key.clone(), scalar(value));
                }
            }
        }
    }
    for section in ["EventData", "UserData"] {
        if let Some(Value::Object(data)) = event.get(section) {
            flatten_data(data, &mut out);
        }
    }
    out
}

/// Event data: named fields as they are; an object holding only other
/// fields (UserData's wrapper element) is opened.
fn flatten_data(data: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (key, value) in data {
        if key == "#attributes" {
            continue;
        }
        match value {
            Value::Object(inner) if !inner.contains_key("#text") => flatten_data(inner, out),
            other => {
                out.insert(key.clone(), scalar(other));
            }
        }
    }
}

fn attributes(object: &Map<String, Value>) -> Option<&Map<String, Value>> {
    object.get("#attributes")?.as_object()
}

fn copy_attributes(object: &Map<String, Value>, prefix: &str, out: &mut Map<String, Value>) {
    if let Some(attrs) = attributes(object) {
        for (key, value) in attrs {
            out.insert(format!("{prefix}{key}"), value.clone());
        }
    }
}

/// `{"#text": x, "#attributes": ..}` is x.
fn scalar(value: &Value) -> Value {
    match value {
        Value::Object(o) => o.get("#text").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    }
}

fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("#text").and_then(number),
        _ => None,
    }
}

fn text(fields: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| fields.get(*n).and_then(Value::as_str))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_mapping_parses() {
        let mapping = WindowsMapping::from_yaml(DEFAULT_MAPPING).expect("embedded mapping");
        assert!(mapping.categories.len() > 30);
    }

    #[test]
    fn evtx_shape_sysmon_event() {
        let event = json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 13, "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "dc1", "TimeCreated": {"#attributes": {"SystemTime": "2025-10-24T23:41:00Z"}}},
            "EventData": {"TargetObject": "HKLM\\x", "Details": "DWORD (0x00000001)"}}});
        let (source, fields) = WindowsMapping::embedded()
            .normalize(&event)
            .expect("a windows event");
        assert_eq!(source.categories, vec!["registry_set", "registry_event"]);
        assert_eq!(source.service.as_deref(), Some("sysmon"));
        assert_eq!(fields["EventID"], json!(13));
        assert_eq!(fields["TargetObject"], json!("HKLM\\x"));
        assert_eq!(fields["Provider_Name"], json!("Microsoft-Windows-Sysmon"));
        assert_eq!(fields["Computer"], json!("dc1"));
        assert_eq!(fields["TimeCreated"], json!("2025-10-24T23:41:00Z"));
    }

    #[test]
    fn flat_security_4688_gets_sysmon_names() {
        let event = json!({"EventID": "4688", "Channel": "Security", "ProviderName": "Microsoft-Windows-Security-Auditing",
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all"});
        let (source, fields) = WindowsMapping::embedded()
            .normalize(&event)
            .expect("a windows event");
        assert_eq!(source.categories, vec!["process_creation"]);
        assert_eq!(source.service.as_deref(), Some("security"));
        assert_eq!(fields["Image"], json!("C:\\Windows\\System32\\whoami.exe"));
        assert_eq!(fields["EventID"], json!(4688));
    }

    #[test]
    fn not_a_windows_event() {
        assert!(WindowsMapping::embedded()
            .normalize(&json!({"message": "hi"}))
            .is_none());
        assert!(WindowsMapping::embedded()
            .normalize(&json!([1, 2]))
            .is_none());
    }
}

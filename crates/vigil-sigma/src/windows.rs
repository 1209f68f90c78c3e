//! Windows events into the view Sigma rules are written against.
//!
//! Accepts the two JSON shapes Windows events arrive in: the EVTX shape
//! (`{"Event": {"System": {..}, "EventData": {..}}}`, what EVTX parsers
//! emit) and the flat shape shippers send (`EventID`, `Channel` and the
//! event data at the top level). Either way the result is one flat object:
//! the system fields (`EventID`, `Channel`, `Computer`, `Provider_Name`...),
//! the event data fields under their own names (`Image`, `CommandLine`),
//! an [`EventSource`] from the mapping file (`mappings/windows.yml`), and
//! the common names of [`common`] (`host.name`, `user.name`...) beside them.
//!
//! A system field is never overwritten by event data: an event data field
//! whose name is taken keeps its path (`UserData.LogFileCleared.Channel`,
//! the cleared log of event 104, beside the event's own `Channel`).

pub mod common;

use crate::logsource::EventSource;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The embedded default mapping.
pub const DEFAULT_MAPPING: &str = include_str!("../mappings/windows.yml");

/// Channels to services, and provider/event ids to categories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsMapping {
    /// Channel → service, as written in the file.
    #[serde(default)]
    services: HashMap<String, String>,
    /// The same keyed by the lowercased channel: Windows compares channel
    /// names without case (`Microsoft-Windows-SmbClient/Security` is the
    /// `SMBClient` channel).
    #[serde(skip)]
    by_channel: HashMap<String, String>,
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
    fields: BTreeMap<String, String>,
    /// Fields whose value is looked up in a table (`MandatoryLabel`'s SID
    /// → `IntegrityLevel`'s level); the first that gives a value sets it.
    #[serde(default)]
    derived: Vec<Derived>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Derived {
    from: String,
    to: String,
    /// Raw value (compared without case) → the value rules compare.
    values: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid Windows mapping: {0}")]
pub struct MappingError(String);

impl WindowsMapping {
    pub fn from_yaml(text: &str) -> Result<Self, MappingError> {
        let mut mapping: WindowsMapping =
            yaml_serde::from_str(text).map_err(|e| MappingError(e.to_string()))?;
        mapping.by_channel = mapping
            .services
            .iter()
            .map(|(channel, service)| (channel.to_lowercase(), service.clone()))
            .collect();
        Ok(mapping)
    }

    /// The mapping shipped with Vigil.
    pub fn embedded() -> Self {
        // Checked by a test: the embedded file always parses.
        Self::from_yaml(DEFAULT_MAPPING).unwrap_or(WindowsMapping {
            services: HashMap::new(),
            by_channel: HashMap::new(),
            categories: Vec::new(),
        })
    }

    /// The Sigma service of events of `channel` (any case).
    pub fn service_of(&self, channel: &str) -> Option<&str> {
        self.by_channel
            .get(&channel.to_lowercase())
            .map(String::as_str)
    }

    /// Every channel with its service, as the file names them.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.services
            .iter()
            .map(|(channel, service)| (channel.as_str(), service.as_str()))
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
                .and_then(|c| self.service_of(c))
                .map(str::to_string),
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
                rename(&entry.fields, &mut fields);
                derive(&entry.derived, &mut fields);
            }
        }
        common::add_common_names(&mut fields);
        Some((source, fields))
    }
}

/// Copies each `from` field under its `to` name, reading the event as it
/// came (4688: `ProcessId` → `ParentProcessId` and `NewProcessId` →
/// `ProcessId` both read the original `ProcessId`, the creator's). A name
/// already present is replaced only when its own value moves on to a name
/// that was free, so no value is lost and mapping an event twice changes
/// nothing.
fn rename(renames: &BTreeMap<String, String>, fields: &mut Map<String, Value>) {
    let moved_on = |name: &str| {
        renames
            .get(name)
            .is_some_and(|to| to != name && !fields.contains_key(to))
    };
    // A field that already holds the value renamed into it (mapped before)
    // does not move on again.
    let copied = |name: &str| {
        renames
            .iter()
            .any(|(from, to)| to == name && from != name && fields.get(from) == fields.get(name))
    };
    let writes: Vec<(String, Value)> = renames
        .iter()
        .filter(|(from, _)| !copied(from))
        .filter(|(_, to)| !fields.contains_key(*to) || moved_on(to))
        .filter_map(|(from, to)| Some((to.clone(), fields.get(from)?.clone())))
        .collect();
    for (to, value) in writes {
        fields.insert(to, value);
    }
}

/// Sets each `to` field absent from the event from the first of its
/// `from` fields whose value is in the table.
fn derive(derived: &[Derived], fields: &mut Map<String, Value>) {
    for d in derived {
        if fields.contains_key(&d.to) {
            continue;
        }
        let Some(raw) = fields.get(&d.from).and_then(Value::as_str) else {
            continue;
        };
        let raw = raw.trim();
        if let Some((_, value)) = d.values.iter().find(|(k, _)| k.eq_ignore_ascii_case(raw)) {
            fields.insert(d.to.clone(), Value::from(value.as_str()));
        }
    }
}

/// `{"System": .., "EventData": ..}` into one flat object: the system
/// fields first, then the event data where its names are free.
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
            flatten_data(data, section, &mut out);
        }
    }
    out
}

/// Event data: named fields under their own names; an object holding only
/// other fields (UserData's wrapper element) is opened. A name already
/// taken (a system field, or an earlier field of the same name) is not
/// overwritten: the field keeps its path (`UserData.LogFileCleared.Channel`).
fn flatten_data(data: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
    for (key, value) in data {
        if key == "#attributes" {
            continue;
        }
        let here = format!("{path}.{key}");
        match value {
            Value::Object(inner) if !inner.contains_key("#text") => {
                flatten_data(inner, &here, out);
            }
            other => {
                let name = if out.contains_key(key) {
                    here
                } else {
                    key.clone()
                };
                out.entry(name).or_insert_with(|| scalar(other));
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

/// `{"#text": x, "#attributes": ..}` is x (an object there, which no
/// EVTX renders, as its JSON text: a field is never an object).
fn scalar(value: &Value) -> Value {
    match value {
        Value::Object(o) => match o.get("#text") {
            Some(Value::Object(inner)) => Value::from(Value::Object(inner.clone()).to_string()),
            Some(text) => text.clone(),
            None => Value::Null,
        },
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

    /// A 4688 as EVTX renders it (Windows 10: with the mandatory label).
    fn evtx_4688(label: Option<&str>, elevation: &str) -> Value {
        let mut data = json!({"SubjectUserSid": "S-1-5-21-1-2-3-1001", "SubjectUserName": "alice",
            "SubjectDomainName": "CORP", "SubjectLogonId": "0x3e7", "NewProcessId": "0x1a2c",
            "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "TokenElevationType": elevation,
            "ProcessId": "0x0f10", "CommandLine": "cmd /c whoami", "TargetUserName": "-",
            "ParentProcessName": "C:\\Windows\\explorer.exe"});
        if let Some(label) = label {
            data["MandatoryLabel"] = json!(label);
        }
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4688, "Channel": "Security", "Computer": "ws1.corp.local",
            "Keywords": "0x8020000000000000"},
            "EventData": data}})
    }

    #[test]
    fn security_4688_follows_the_sysmon_view() {
        let mapping = WindowsMapping::embedded();
        let (source, fields) = mapping
            .normalize(&evtx_4688(Some("S-1-16-12288"), "%%1936"))
            .expect("a windows event");
        assert_eq!(source.categories, vec!["process_creation"]);
        assert_eq!(fields["Image"], "C:\\Windows\\System32\\cmd.exe");
        assert_eq!(fields["ParentImage"], "C:\\Windows\\explorer.exe");
        // The new process's id, and the creator's as the parent's.
        assert_eq!(fields["ProcessId"], "0x1a2c");
        assert_eq!(fields["ParentProcessId"], "0x0f10");
        assert_eq!(fields["IntegrityLevel"], "High");
        assert_eq!(fields["User"], "alice");
        assert_eq!(fields["LogonId"], "0x3e7");
        // The originals stay: security rules compare them (and `%%` values).
        assert_eq!(fields["NewProcessId"], "0x1a2c");
        assert_eq!(fields["MandatoryLabel"], "S-1-16-12288");
        assert_eq!(fields["TokenElevationType"], "%%1936");
        assert_eq!(fields["process.pid"], 0x1a2c);
        assert_eq!(fields["process.parent.pid"], 0x0f10);
        assert_eq!(fields["process.name"], "cmd.exe");
        assert_eq!(fields["process.parent.name"], "explorer.exe");
        assert_eq!(fields["user.name"], "alice");
        assert_eq!(fields["user.domain"], "CORP");
        assert_eq!(fields["event.action"], "created-process");
        // Mapping the view again changes nothing (an exported event sent back).
        let (_, again) = mapping
            .normalize(&Value::Object(fields.clone()))
            .expect("a windows event");
        assert_eq!(again, fields);
        for (label, level) in [
            ("S-1-16-4096", "Low"),
            ("S-1-16-8192", "Medium"),
            ("S-1-16-16384", "System"),
        ] {
            let (_, f) = mapping
                .normalize(&evtx_4688(Some(label), "%%1937"))
                .expect("event");
            assert_eq!(f["IntegrityLevel"], level, "{label}");
        }
        // A 4688 without the creator's id: mapping twice moves nothing on.
        let mut event = evtx_4688(None, "%%1936");
        event["Event"]["EventData"]
            .as_object_mut()
            .expect("data")
            .remove("ProcessId");
        let (_, once) = mapping.normalize(&event).expect("event");
        assert!(!once.contains_key("ParentProcessId"));
        let (_, twice) = mapping
            .normalize(&Value::Object(once.clone()))
            .expect("event");
        assert_eq!(twice, once);
        // Without a label: the elevation type where it says a level.
        for (elevation, level) in [
            ("%%1937", Some("High")),
            ("%%1938", Some("Medium")),
            ("%%1936", None),
        ] {
            let (_, f) = mapping
                .normalize(&evtx_4688(None, elevation))
                .expect("event");
            assert_eq!(
                f.get("IntegrityLevel").and_then(Value::as_str),
                level,
                "{elevation}"
            );
        }
    }

    /// Event 104 names the cleared log in its UserData `Channel`: the
    /// event's own channel (System) stays, and so does its service.
    #[test]
    fn event_data_never_overwrites_system_fields() {
        let event = json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}},
            "EventID": 104, "Channel": "System", "Computer": "dc1"},
            "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "x"},
                "SubjectUserName": "bob", "SubjectDomainName": "CORP",
                "Channel": "Microsoft-Windows-Sysmon/Operational", "BackupPath": ""}}}});
        let (source, fields) = WindowsMapping::embedded().normalize(&event).expect("event");
        assert_eq!(source.service.as_deref(), Some("system"));
        assert_eq!(fields["Channel"], "System");
        assert_eq!(
            fields["UserData.LogFileCleared.Channel"],
            "Microsoft-Windows-Sysmon/Operational"
        );
        assert_eq!(fields["SubjectUserName"], "bob");
        assert_eq!(fields["user.name"], "bob");
        assert_eq!(fields["event.action"], "log-cleared");
        assert_eq!(fields["host.name"], "dc1");
        assert!(!fields.contains_key("xmlns"));
    }

    #[test]
    fn channels_compare_without_case() {
        let mapping = WindowsMapping::embedded();
        assert_eq!(
            mapping.service_of("microsoft-windows-smbclient/security"),
            Some("smbclient-security")
        );
        assert_eq!(mapping.service_of("SECURITY"), Some("security"));
        assert_eq!(mapping.service_of("Nope"), None);
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

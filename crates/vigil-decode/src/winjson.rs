//! Windows events as JSON from Winlogbeat and NXLog, into the flat shape
//! Sigma rules are written against.
//!
//! - Winlogbeat: `winlog.event_id`, `winlog.channel`,
//!   `winlog.provider_name`, `winlog.computer_name`, `winlog.record_id`,
//!   `winlog.event_data.*` (and `winlog.user_data.*`), as nested objects
//!   or flat dotted keys.
//! - NXLog (and other flat shippers): `EventID`, `Channel`,
//!   `SourceName`/`ProviderName`, `Hostname`, event data at the top level.
//! - The EVTX-parser shape (`{"Event": {"System": .., "EventData": ..}}`)
//!   is only tagged: the server's Windows mapping reads it as it is.
//!
//! Added (never replacing a key the event already has): `EventID` (a
//! number), `Channel`, `Provider_Name`, `Computer`, `EventRecordID`, and
//! the event data fields under their own names (`CommandLine`,
//! `TargetUserName`...) where those names are free: a Winlogbeat event
//! data field named like a system field (`Channel` of event 104, the
//! cleared log) stays only under its own path (`winlog.user_data.Channel`).
//! The common names (`host.name`, `user.name`, `event.outcome`...) come
//! after, from vigil-sigma's Windows mapping, for every Windows shape
//! alike (`vigil_sigma::windows::common`).
//!
//! Log source: product `windows` only; the server derives categories and
//! the service from the channel and provider (vigil-sigma's mapping).
//! Time: `@timestamp`, `TimeCreated`, `EventTime`, `EventReceivedTime`.

use crate::record::{first_time, value_u64, LogSourceTag, Record};
use serde_json::{Map, Value};

/// Whether `doc` is a Windows event this module knows.
pub fn is_windows(doc: &Map<String, Value>) -> bool {
    winlogbeat_id(doc).is_some() || nxlog(doc) || evtx_shape(doc)
}

fn winlogbeat_id(doc: &Map<String, Value>) -> Option<u64> {
    path(doc, "winlog", "event_id").and_then(value_u64)
}

fn nxlog(doc: &Map<String, Value>) -> bool {
    doc.get("EventID").and_then(value_u64).is_some()
        && ["Channel", "SourceName", "ProviderName", "Provider_Name"]
            .iter()
            .any(|k| doc.get(*k).is_some_and(Value::is_string))
}

fn evtx_shape(doc: &Map<String, Value>) -> bool {
    doc.get("Event")
        .and_then(|e| e.get("System"))
        .is_some_and(Value::is_object)
}

/// `section.key` as a nested object member or a flat dotted key.
fn path<'a>(doc: &'a Map<String, Value>, section: &str, key: &str) -> Option<&'a Value> {
    doc.get(section)
        .and_then(|s| s.get(key))
        .or_else(|| doc.get(&format!("{section}.{key}")))
}

/// Adds the Sigma shape and ECS names (see the module doc).
pub fn decode_windows(mut doc: Map<String, Value>) -> Record {
    let time = first_time(
        &doc,
        &[
            "@timestamp",
            "TimeCreated",
            "EventTime",
            "EventReceivedTime",
        ],
    );
    let tag = LogSourceTag::new(Some("windows"), None, None);
    if winlogbeat_id(&doc).is_none() && !nxlog(&doc) {
        // EVTX shape: as it is.
        return Record {
            time,
            ..Record::new(doc, tag)
        };
    }
    if let Some(id) = winlogbeat_id(&doc) {
        let mut add = Map::new();
        add.insert("EventID".into(), Value::from(id));
        for (from, to) in [
            ("channel", "Channel"),
            ("provider_name", "Provider_Name"),
            ("computer_name", "Computer"),
            ("record_id", "EventRecordID"),
            ("task", "Task"),
            ("opcode", "Opcode"),
        ] {
            if let Some(v) = path(&doc, "winlog", from).filter(|v| !v.is_object()) {
                add.insert(to.into(), v.clone());
            }
        }
        // System fields first: event data never takes their names.
        for section in ["event_data", "user_data"] {
            if let Some(Value::Object(data)) = path(&doc, "winlog", section) {
                for (k, v) in data {
                    add.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let prefix = format!("winlog.{section}.");
            for (k, v) in &doc {
                if let Some(name) = k.strip_prefix(&prefix) {
                    add.entry(name.to_string()).or_insert_with(|| v.clone());
                }
            }
        }
        for (k, v) in add {
            doc.entry(k).or_insert(v);
        }
    } else {
        if let Some(id) = doc.get("EventID").and_then(value_u64) {
            doc.insert("EventID".into(), Value::from(id));
        }
        for (from, to) in [
            ("ProviderName", "Provider_Name"),
            ("SourceName", "Provider_Name"),
            ("Hostname", "Computer"),
            ("RecordNumber", "EventRecordID"),
        ] {
            if let Some(v) = doc.get(from).cloned() {
                doc.entry(to).or_insert(v);
            }
        }
    }
    Record {
        time,
        ..Record::new(doc, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::decode_json_record;
    use serde_json::json;
    use vigil_core::Timestamp;

    fn win(v: Value) -> Record {
        let doc = v.as_object().cloned().unwrap_or_default();
        assert!(is_windows(&doc), "not windows: {doc:?}");
        decode_json_record(doc)
    }

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    #[test]
    fn winlogbeat_nested_logon_failure() {
        let r = win(json!({"@timestamp": "2024-05-01T12:00:00.000Z",
            "winlog": {"event_id": "4625", "channel": "Security", "provider_name": "Microsoft-Windows-Security-Auditing",
                       "computer_name": "DC1.corp.local", "record_id": 99,
                       "event_data": {"TargetUserName": "administrator", "TargetDomainName": "CORP",
                                      "IpAddress": "::ffff:198.51.100.4", "IpPort": "51234", "LogonType": "3",
                                      "Status": "0xc000006d"}},
            "host": {"name": "dc1"}, "message": "An account failed to log on."}));
        assert_eq!(get(&r, "EventID"), &json!(4625));
        assert_eq!(get(&r, "Channel"), "Security");
        assert_eq!(
            get(&r, "Provider_Name"),
            "Microsoft-Windows-Security-Auditing"
        );
        assert_eq!(get(&r, "Computer"), "DC1.corp.local");
        assert_eq!(get(&r, "TargetUserName"), "administrator");
        assert_eq!(get(&r, "LogonType"), "3");
        assert_eq!(get(&r, "message"), "An account failed to log on.");
        assert_eq!(r.source, LogSourceTag::new(Some("windows"), None, None));
        assert_eq!(r.time, Some(Timestamp(1_714_564_800_000_000)));
    }

    #[test]
    fn winlogbeat_flat_keys_sysmon() {
        let r = win(
            json!({"@timestamp": "2024-05-01T12:00:00Z", "winlog.event_id": 1,
            "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
            "winlog.provider_name": "Microsoft-Windows-Sysmon", "winlog.computer_name": "ws1",
            "winlog.event_data.CommandLine": "powershell -enc AAAA", "winlog.event_data.Image": "C:\\Windows\\powershell.exe",
            "winlog.event_data.ProcessId": "4242", "winlog.event_data.User": "CORP\\bob"}),
        );
        assert_eq!(get(&r, "EventID"), &json!(1));
        assert_eq!(get(&r, "CommandLine"), "powershell -enc AAAA");
    }

    #[test]
    fn nxlog_flat_events() {
        let r = win(
            json!({"@timestamp": "2020-10-22T02:21:34.391Z", "EventID": 4624, "SourceName": "Microsoft-Windows-Security-Auditing",
            "Hostname": "WORKSTATION5", "Channel": "Security", "TargetUserName": "wardog", "IpAddress": "-",
            "SubjectUserName": "WORKSTATION5$", "ProcessId": "0x1eb8"}),
        );
        assert_eq!(
            get(&r, "Provider_Name"),
            "Microsoft-Windows-Security-Auditing"
        );
        assert_eq!(get(&r, "Computer"), "WORKSTATION5");
        let r = win(
            json!({"EventID": "4776", "Channel": "Security", "Status": "0x0", "TargetUserName": "x"}),
        );
        assert_eq!(get(&r, "EventID"), &json!(4776));
        let r =
            win(json!({"EventID": 4771, "ProviderName": "Microsoft-Windows-Security-Auditing"}));
        assert_eq!(get(&r, "EventID"), &json!(4771));
    }

    /// Event 104's user data names the cleared log `Channel`: the event's
    /// own channel keeps the name, the data keeps its path.
    #[test]
    fn event_data_never_takes_a_system_name() {
        let r = win(json!({"winlog": {"event_id": 104, "channel": "System",
            "provider_name": "Microsoft-Windows-Eventlog",
            "user_data": {"Channel": "Security", "SubjectUserName": "bob"}}}));
        assert_eq!(get(&r, "Channel"), "System");
        assert_eq!(get(&r, "SubjectUserName"), "bob");
        assert_eq!(r.doc["winlog"]["user_data"]["Channel"], "Security");
    }

    #[test]
    fn evtx_shape_is_tagged_only() {
        let v = json!({"Event": {"System": {"EventID": 1}, "EventData": {"Image": "x"}}});
        let r = win(v.clone());
        assert_eq!(Value::Object(r.doc), v);
        assert_eq!(r.source.product.as_deref(), Some("windows"));
    }

    #[test]
    fn windows_json_corpus() {
        let Some(dir) = std::env::var_os("VIGIL_CORPORA") else {
            return;
        };
        let dir = std::path::Path::new(&dir).join("windows-json");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("windows-json corpus") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            for line in text.lines() {
                let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let r = decode_json_record(doc);
                assert_eq!(r.source.product.as_deref(), Some("windows"), "{line}");
                assert!(r.doc.get("EventID").is_some_and(Value::is_u64), "{line}");
                assert!(r.time.is_some(), "{line}");
                n += 1;
            }
        }
        assert!(n > 1000, "{n}");
    }
}

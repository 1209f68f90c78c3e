//! The Windows mapping (vigil-sigma `windows`: EVTX and flat shapes into
//! Sigma's view, with the common names) on arbitrary JSON: it must never
//! panic, never change a system field of the EVTX shape, and mapping its
//! own view again must change nothing (an exported event sent back).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use vigil_sigma::windows::WindowsMapping;

fn check(mapping: &WindowsMapping, event: &Value) {
    let Some((source, fields)) = mapping.normalize(event) else {
        return;
    };
    if let Some(channel) = event.pointer("/Event/System/Channel").filter(|c| c.is_string()) {
        assert_eq!(fields.get("Channel"), Some(channel), "system field overwritten");
    }
    let (again_source, again) = mapping
        .normalize(&Value::Object(fields.clone()))
        .expect("the view of a Windows event is one");
    assert_eq!(again, fields, "mapping twice changed the view");
    assert_eq!(again_source.categories, source.categories);
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mapping = WindowsMapping::embedded();
    check(&mapping, &v);
    let skeletons = [
        json!({"Event": {"System": {"EventID": 4688, "Channel": "Security",
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}},
            "EventData": v}}),
        json!({"Event": {"System": {"EventID": 104, "Channel": "System",
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}}},
            "UserData": {"LogFileCleared": v}}}),
        json!({"EventID": 4624, "Channel": "Security", "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "TargetUserName": v, "IpAddress": v, "IpPort": v, "ProcessId": v, "Keywords": v}),
        json!({"EventID": 3, "Provider_Name": "Microsoft-Windows-Sysmon", "User": v,
            "SourceIp": v, "DestinationPort": v, "Image": v}),
    ];
    for s in &skeletons {
        check(&mapping, s);
    }
});

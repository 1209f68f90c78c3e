//! The JSON record decoder (Suricata EVE, Zeek, Winlogbeat, NXLog) on
//! arbitrary JSON: it must never panic, be deterministic, and never drop a
//! key of the object it was given. Any JSON value is also placed inside
//! skeletons of the recognised shapes so that the fuzzer reaches their
//! field mappings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use vigil_decode::decode_json_record;

fn check(doc: Map<String, Value>) {
    let record = decode_json_record(doc.clone());
    assert_eq!(record, decode_json_record(doc.clone()));
    for key in doc.keys() {
        assert!(record.doc.contains_key(key), "{key} dropped");
    }
    // Ports the decoder sets (a key the input has is the input's own).
    for k in ["source.port", "destination.port"] {
        if doc.contains_key(k) {
            continue;
        }
        assert!(record
            .doc
            .get(k)
            .is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Value::Object(doc) = &value {
        check(doc.clone());
    }
    let v = value;
    let skeletons = [
        json!({"timestamp": "2024-05-01T12:00:00.1+0000", "event_type": "alert", "src_ip": "10.0.0.1",
               "src_port": v, "alert": v, "dns": v, "http": v, "tls": v, "flow": v, "fileinfo": v}),
        json!({"timestamp": v, "event_type": "dns", "src_ip": v, "dest_ip": "::1", "proto": v,
               "dns": {"queries": v, "answers": v, "grouped": v, "rrname": v, "type": "answer", "rdata": v}}),
        json!({"ts": v, "uid": "C1", "id.orig_h": v, "id_resp_p": v, "query": v, "answers": v, "TTLs": v,
               "uri": v, "host": v, "method": v, "resp_mime_types": v, "version": v, "duration": v}),
        json!({"_path": "ssl", "ts": 1.5, "uid": "C1", "id": {"orig_h": "10.0.0.1", "orig_p": v},
               "version": v, "server_name": v}),
        json!({"@timestamp": v, "winlog": {"event_id": 4625, "channel": v, "event_data": v, "user_data": v},
               "winlog.event_data.IpAddress": v}),
        json!({"EventID": "4776", "Channel": "Security", "Status": v, "IpPort": v, "ProcessId": v,
               "TargetUserName": v, "IpAddress": v, "TimeCreated": v}),
    ];
    for s in skeletons {
        if let Value::Object(doc) = s {
            check(doc);
        }
    }
});

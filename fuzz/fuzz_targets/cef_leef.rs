//! The CEF and LEEF decoders on arbitrary text: they must never panic, be
//! deterministic, give the header fields of every message they accept, and
//! read back escaped CEF header fields and extension values as written.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::cef::{decode_cef, decode_leef};

fn escape_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for text in [
        line.to_string(),
        format!("CEF:0|{line}"),
        format!("LEEF:2.0|{line}"),
    ] {
        let cef = decode_cef(&text);
        assert_eq!(cef, decode_cef(&text));
        if let Ok(f) = &cef {
            for k in [
                "cef.version",
                "cef.device_vendor",
                "cef.name",
                "cef.severity",
                "log.level",
            ] {
                assert!(f.contains_key(k), "{k} missing for {text:?}");
            }
            for k in ["source.port", "destination.port"] {
                assert!(f
                    .get(k)
                    .is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
            }
        }
        let leef = decode_leef(&text);
        assert_eq!(leef, decode_leef(&text));
        if let Ok(f) = &leef {
            for k in ["leef.version", "leef.device_vendor", "leef.event_id"] {
                assert!(f.contains_key(k), "{k} missing for {text:?}");
            }
        }
    }

    // Round trip: header fields and one value, escaped as the spec says.
    let mut parts = line.splitn(3, '\u{1}');
    let (vendor, name, value) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    // Trailing spaces and CR/LF of a value are not kept by design.
    let value = value.trim_end_matches([' ', '\r', '\n']);
    let built = format!(
        "CEF:0|{}|P|1|42|{}|5|msg={} act=x",
        escape_header(vendor),
        escape_header(name),
        escape_value(value)
    );
    let f = decode_cef(&built).unwrap_or_else(|e| panic!("{built:?}: {e}"));
    assert_eq!(f["cef.device_vendor"], vendor, "{built:?}");
    assert_eq!(f["cef.name"], name, "{built:?}");
    assert_eq!(f["act"], "x", "{built:?}");
    assert_eq!(f["msg"], value, "{built:?}");
});

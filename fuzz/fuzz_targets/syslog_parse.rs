//! The syslog parser on arbitrary text: it must never panic, every borrowed
//! field (message, hostname, app, pid, msg id) must be a slice of the input,
//! PRI parts must be in range, and an Unknown message carries no header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::Timestamp;
use vigil_decode::{parse_syslog, SyslogFormat};

fn is_slice_of(part: &str, whole: &str) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes (when there are) pick `now`, the rest is the line,
    // converted lossily as the inputs do.
    let (now, body) = match data.split_first_chunk::<8>() {
        Some((now, body)) => (Timestamp(i64::from_le_bytes(*now)), body),
        None => (Timestamp(1_714_564_800_000_000), data),
    };
    let line = String::from_utf8_lossy(body);
    let m = parse_syslog(&line, now);

    assert!(is_slice_of(m.message, &line), "message not from input");
    assert!(line.contains(m.message));
    for field in [m.hostname, m.app_name, m.app_module, m.proc_id, m.msg_id]
        .into_iter()
        .flatten()
    {
        assert!(is_slice_of(field, &line), "{field:?} not from input");
        assert!(!field.is_empty());
    }
    assert!(m.facility.is_none_or(|f| f <= 23));
    assert!(m.severity.is_none_or(|s| s <= 7));
    assert_eq!(m.facility.is_some(), m.severity.is_some());
    match m.format {
        SyslogFormat::Unknown => {
            assert!(m.timestamp.is_none() && m.hostname.is_none() && m.app_name.is_none());
            assert!(m.structured_data.is_empty());
            assert!(line.ends_with(m.message) || line.trim_end_matches(['\r', '\n', '\0']).ends_with(m.message));
        }
        SyslogFormat::Rfc3164 => assert!(m.msg_id.is_none() && m.structured_data.is_empty()),
        SyslogFormat::Rfc5424 => assert!(m.facility.is_some()),
    }
    // Deterministic.
    assert_eq!(parse_syslog(&line, now), m);
});

//! The pipeline's syslog entry point on arbitrary text: it must never panic,
//! be deterministic, give ports only as numbers within u16, repeat counts only
//! as numbers ≥ 1 (`message repeated N times`), and never give an audit part
//! without product `linux`, service `auditd` and the audit time.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::Timestamp;
use vigil_decode::decode_syslog_record;

/// 2024-05-01T12:00:00Z
const NOW: Timestamp = Timestamp(1_714_564_800_000_000);

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for text in [
        line.to_string(),
        format!("<14>May  1 11:00:00 host app[1]: {line}"),
        format!("<86>May  1 11:00:00 host sshd(pam_unix)[1]: {line}"),
        format!("May  1 11:00:00 host sshd[1]: message repeated {line}"),
        format!("<14>1 2024-05-01T11:00:00Z host audit - - - {line}"),
    ] {
        let record = decode_syslog_record(&text, NOW);
        assert_eq!(record, decode_syslog_record(&text, NOW));
        if let Some(part) = &record.audit {
            assert_eq!(record.source.product.as_deref(), Some("linux"));
            assert_eq!(record.source.service.as_deref(), Some("auditd"));
            assert_eq!(record.time, Some(part.time));
        }
        // A repetition stands for at least one event.
        assert!(record
            .doc
            .get("event.repeat_count")
            .is_none_or(|n| n.as_u64().is_some_and(|n| n >= 1)));
        for k in ["source.port", "destination.port"] {
            assert!(record
                .doc
                .get(k)
                .is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
        }
    }
});

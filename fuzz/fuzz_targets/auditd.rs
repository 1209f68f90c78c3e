//! The audit record decoder and the event assembler on arbitrary text: they
//! must never panic, be deterministic, keep at most `MAX_PENDING` unfinished
//! events, give out no more events than they were given records, and give
//! every event out exactly once (by EOE, by the cap, or by a flush).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::Timestamp;
use vigil_decode::auditd::decode_audit;
use vigil_decode::AuditAssembler;

const MAX_PENDING: usize = 4;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut assembler = AuditAssembler::new(MAX_PENDING);
    let mut given = 0usize;
    let mut out = 0usize;
    for (i, line) in text.lines().enumerate() {
        // The line as it is, and its body behind a valid header, so that
        // the fuzzer reaches the field parser without finding the header.
        let serial = i % 3;
        for candidate in [
            line.to_string(),
            format!("type=SYSCALL msg=audit(1700000000.123:{serial}): {line}"),
            format!("type=EXECVE msg=audit(1700000000.123:{serial}): {line}"),
            format!("type=USER_CMD msg=audit(1700000000.123:{serial}): msg='{line}'"),
        ] {
            let record = decode_audit(&candidate);
            assert_eq!(record, decode_audit(&candidate));
            if let Some(record) = record {
                let part = record.audit.clone().expect("audit part");
                assert!(record.time == Some(part.time));
                for k in ["source.port", "destination.port"] {
                    assert!(record
                        .doc
                        .get(k)
                        .is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
                }
                given += 1;
                let group = if i % 2 == 0 { "a" } else { "b" };
                out += assembler.push(group, record, Timestamp(i as i64)).len();
                assert!(assembler.pending() <= MAX_PENDING);
            }
        }
        if i % 7 == 6 {
            out += assembler.flush(Timestamp(i as i64 - 3)).len();
        }
    }
    out += assembler.flush_all().len();
    assert_eq!(assembler.pending(), 0);
    assert!(out <= given, "{out} events out of {given} records");
});

//! The DNS response parser of the checks on arbitrary bytes: it must never
//! panic or loop (compression pointers), never give a name over 255 bytes
//! in wire form, nor more records than the limit, and a response it reads
//! must keep its id.

#![no_main]

// The wire module is pure (no crate-internal imports), so it is compiled
// here on its own: depending on vigil-checks would build its TLS stack
// under the sanitizer for nothing.
#[path = "../../crates/vigil-checks/src/dns/wire.rs"]
#[allow(dead_code)]
mod wire;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(response) = wire::parse_response(data) else {
        return;
    };
    assert_eq!(Some(response.id), wire::message_id(data));
    assert!(response.answers.len() <= wire::MAX_RECORDS);
    let names = response
        .answers
        .iter()
        .map(|r| r.name.as_str())
        .chain(response.question.as_ref().map(|(n, _)| n.as_str()));
    for name in names {
        // Escapes (\ddd) at most quadruple a byte of a label.
        assert!(name.len() <= 4 * 255, "{} bytes", name.len());
    }
    for record in &response.answers {
        let _ = record.data.text();
    }
});

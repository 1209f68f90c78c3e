//! The HTTP response head parser of the checks on arbitrary bytes: never a
//! panic, at most the header limit, a status in 100-599, and the framing
//! of any head it reads is decided without a panic either.

#![no_main]

#[path = "../../crates/vigil-checks/src/http/head.rs"]
#[allow(dead_code)]
mod head;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(head) = head::parse_head(data) else {
        return;
    };
    assert!((100..=599).contains(&head.status));
    assert!(head.headers.len() <= head::MAX_HEADERS);
    assert!(head
        .headers
        .iter()
        .all(|(name, _)| !name.is_empty() && name.bytes().all(|b| !b.is_ascii_uppercase())));
    let _ = head.framing();
    let _ = head.header("location");
});

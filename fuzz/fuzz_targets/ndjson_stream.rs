//! The streaming NDJSON decoder (`POST /api/v1/ingest` as it arrives) on
//! arbitrary bytes cut into arbitrary chunks: it must never panic, and it
//! must keep and refuse exactly the lines the one-shot decoder does on the
//! whole body, with the same numbers and reasons, whatever the cuts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::{TenantId, Timestamp};
use vigil_decode::{decode_ndjson, NdjsonOptions, NdjsonStream, StreamLimits};

/// Small, so that the fuzzer reaches the over-long-line path.
const MAX_LINE_BYTES: usize = 64;

fuzz_target!(|data: &[u8]| {
    // The first byte seeds the chunk sizes; the rest is the body.
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let mut stream = NdjsonStream::new(StreamLimits {
        max_line_bytes: MAX_LINE_BYTES,
        max_body_bytes: usize::MAX,
        max_lines: usize::MAX,
        max_listed_rejections: usize::MAX,
    });
    let mut rest = body;
    let mut step = usize::from(seed % 17) + 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        stream.push(&rest[..n]).expect("no limit to reach");
        rest = &rest[n..];
        step = (step * 7 + 3) % 23 + 1;
    }
    let lines = stream.finish().expect("no limit to reach");

    let whole = decode_ndjson(
        body,
        TenantId(1),
        Timestamp(0),
        NdjsonOptions {
            max_line_bytes: MAX_LINE_BYTES,
        },
    );
    assert_eq!(lines.len(), whole.events.len());
    for (i, event) in whole.events.iter().enumerate() {
        assert_eq!(lines.line(i), event.raw, "good line {i}");
    }
    assert_eq!(lines.rejected(), &whole.rejected[..]);
    assert_eq!(lines.rejected_count(), whole.rejected.len());
    // Every kept line parses back to an event.
    let events = lines.events(0..lines.len(), TenantId(1), Timestamp(0));
    assert_eq!(events.len(), lines.len());
    for (ours, theirs) in events.iter().zip(&whole.events) {
        assert_eq!(ours.doc, theirs.doc);
        assert_eq!(ours.time, theirs.time);
    }
});

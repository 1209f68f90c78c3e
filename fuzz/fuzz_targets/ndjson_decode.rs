//! The NDJSON decoder (the body of `POST /api/v1/ingest`) on arbitrary bytes:
//! it must never panic, every non-blank line must come out as exactly one
//! event or one rejection (in line order, rejections numbered from 1), and
//! each event's `raw` text must parse back to its `doc`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vigil_core::{TenantId, Timestamp};
use vigil_decode::{decode_ndjson, ndjson::event_time, NdjsonOptions};

/// Small, so that the fuzzer reaches the over-long-line path.
const MAX_LINE_BYTES: usize = 4096;

fuzz_target!(|body: &[u8]| {
    let batch = decode_ndjson(
        body,
        TenantId(1),
        Timestamp(0),
        NdjsonOptions {
            max_line_bytes: MAX_LINE_BYTES,
        },
    );

    // The same split the decoder documents: on '\n', one trailing '\r'
    // dropped, a line of ASCII whitespace only is blank.
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let non_blank: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i].iter().all(u8::is_ascii_whitespace))
        .map(|i| i + 1)
        .collect();

    // Rejections: strictly increasing, in 1..=lines, each a non-blank line.
    let rejected: Vec<usize> = batch.rejected.iter().map(|r| r.line).collect();
    assert!(
        rejected.windows(2).all(|w| w[0] < w[1]),
        "rejected lines not strictly increasing: {rejected:?}"
    );
    for r in &batch.rejected {
        assert!(
            (1..=lines.len()).contains(&r.line),
            "rejected line {} of {}",
            r.line,
            lines.len()
        );
        assert!(
            non_blank.binary_search(&r.line).is_ok(),
            "blank line {} rejected: {}",
            r.line,
            r.error
        );
        assert!(!r.error.is_empty());
    }

    // Every non-blank line is exactly one of the two: the accepted lines are
    // the non-blank ones not rejected, one event each, in order.
    assert_eq!(
        batch.events.len() + batch.rejected.len(),
        non_blank.len(),
        "{} events + {} rejections for {} non-blank lines",
        batch.events.len(),
        batch.rejected.len(),
        non_blank.len()
    );
    let accepted = non_blank
        .iter()
        .filter(|n| rejected.binary_search(n).is_err());
    for (event, &line) in batch.events.iter().zip(accepted) {
        let text = std::str::from_utf8(lines[line - 1])
            .unwrap_or_else(|e| panic!("line {line} accepted but not UTF-8: {e}"));
        assert_eq!(event.raw, text.trim(), "line {line}");
        assert!(event.raw.len() <= MAX_LINE_BYTES, "line {line} over the limit");
        assert_eq!(event.tenant, TenantId(1));
        assert_eq!(event.time, event_time(&event.doc).unwrap_or(Timestamp(0)));

        let back: Value = serde_json::from_str(&event.raw)
            .unwrap_or_else(|e| panic!("raw of line {line} does not parse: {e}"));
        assert_eq!(
            back,
            Value::Object(event.doc.clone()),
            "raw of line {line} does not give back its doc"
        );
    }
});

//! The Prometheus text parser on arbitrary text (a scraped exporter is
//! outside data): never panics, stays within its limits, and every sample
//! it returns has a metric name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::prometheus::{parse_exposition, ParseLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = ParseLimits {
        max_samples: 100,
        max_labels: 8,
        max_line_bytes: 512,
    };
    let parsed = parse_exposition(text, limits);
    assert!(parsed.samples.len() <= 100);
    for sample in &parsed.samples {
        assert!(!sample.name.is_empty());
        assert!(sample.labels.len() <= 8);
    }
});

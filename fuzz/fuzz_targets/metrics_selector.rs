//! The metric query parser (selectors, `rate(..[range])`) on arbitrary
//! input: it must never panic, an error must point inside the input (or
//! just past it), and a selector that parses must render to text that
//! parses back to the same text.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match vigil_metrics::parse_expr(input) {
        Ok(expr) => {
            let rendered = expr.selector().to_string();
            let again = vigil_metrics::parse_selector(&rendered)
                .unwrap_or_else(|e| panic!("{input:?} rendered as {rendered:?}: {e}"));
            assert_eq!(again.to_string(), rendered, "{input:?}");
        }
        Err(e) => assert!(e.pos <= input.len(), "{input:?}: {e}"),
    }
});

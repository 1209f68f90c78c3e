//! The Sigma condition parser on arbitrary input: it must never panic, an
//! error must point inside the condition (or just past it), a condition that
//! parses must render to text that parses back to the same condition, and
//! expanding and evaluating it must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sigma::condition::parse_condition;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match parse_condition(input) {
        Ok(condition) => {
            let rendered = condition.to_string();
            assert_eq!(
                parse_condition(&rendered),
                Ok(condition.clone()),
                "{input:?} rendered as {rendered:?}"
            );
            let mut identifiers: Vec<String> =
                condition.identifiers().into_iter().map(String::from).collect();
            identifiers.extend(["selection", "sel_a", "filter_1", "_x"].map(String::from));
            if let Ok(expanded) = condition.expand(&identifiers) {
                let _ = expanded.evaluate(&mut |name: &str| name.len() % 2 == 0);
            }
        }
        Err(e) => assert!(e.position <= input.chars().count(), "{input:?}: {e}"),
    }
});

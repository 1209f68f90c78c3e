//! The search parser on arbitrary input: it must never panic, an error must
//! point inside the query (or just past it), and a query that parses must
//! render to text that parses back to the same query.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match vigil_query::parse(input) {
        Ok(query) => {
            let rendered = query.to_string();
            assert_eq!(
                vigil_query::parse(&rendered),
                Ok(query),
                "{input:?} rendered as {rendered:?}"
            );
        }
        Err(e) => assert!(e.position <= input.chars().count(), "{input:?}: {e}"),
    }
});

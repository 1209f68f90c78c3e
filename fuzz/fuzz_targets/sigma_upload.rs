//! Uploaded Sigma text under the upload limits: the checks before parsing,
//! parsing and compiling never panic, and text within the limits stays
//! cheap (no nesting bomb, no huge list or regex reaches the parser or the
//! regex compiler unchecked).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sigma::limits::Limits;
use vigil_sigma::rule::{parse_file_with, CompiledRule};
use vigil_sigma::value::CompileContext;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Small limits, so that the fuzzer reaches each of them.
    let limits = Limits {
        max_bytes: 4096,
        max_depth: 8,
        max_list_values: 16,
        max_rule_values: 64,
        max_rules: 4,
        max_regexes: 4,
        max_regex_bytes: 64 * 1024,
    };
    let _ = limits.check_text(text);
    let parsed = parse_file_with(text, "upload", Some(&limits));
    assert!(parsed.rules.len() + parsed.filters.len() + parsed.correlations.len() <= 4);
    for error in &parsed.errors {
        assert!(!error.reason.is_empty());
    }
    let ctx = CompileContext {
        placeholders: None,
        limits: Some(&limits),
    };
    let event = serde_json::json!({"CommandLine": "cmd /c whoami", "EventID": 1});
    let event = event.as_object().expect("object");
    for rule in parsed.rules {
        if let Ok(compiled) = CompiledRule::compile(rule, &ctx) {
            let _ = compiled.matches(event);
        }
    }
});

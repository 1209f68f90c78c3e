//! Sigma rule files from arbitrary text: parsing, compiling and matching a
//! small event never panic, and every rule that cannot run says why.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sigma::rule::{parse_rules, CompiledRule};
use vigil_sigma::value::CompileContext;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, errors) = parse_rules(text, "fuzz.yml");
    for error in &errors {
        assert!(!error.reason.is_empty());
    }
    let event = serde_json::json!({"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c whoami", "EventID": 1});
    let event = event.as_object().expect("object");
    for rule in rules {
        match CompiledRule::compile(rule, &CompileContext::default()) {
            Ok(compiled) => {
                let _ = compiled.matches(event);
                let _ = compiled.needles();
            }
            Err(e) => assert!(!e.reason.is_empty()),
        }
    }
});

//! The hunt's log recognition on arbitrary text: it must never panic and
//! be deterministic; a text whose lines all carry a time is a log.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::sniff::{looks_like_a_log, looks_like_a_log_line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let verdict = looks_like_a_log(&text, 20);
    assert_eq!(verdict, looks_like_a_log(&text, 20));
    for line in text.lines() {
        let _ = looks_like_a_log_line(line);
        let dated = format!("10:01:02 {line}");
        assert!(looks_like_a_log_line(&dated), "{dated:?}");
    }
});

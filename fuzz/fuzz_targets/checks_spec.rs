//! A stored check of any kind (the JSON the API and the config give) on
//! arbitrary input: reading it never panics; an accepted check has its
//! interval and timeout within bounds, and a runnable one validates as the
//! scheduler will see it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_checks::settings::{read_stored, KINDS, MAX_INTERVAL, MAX_TIMEOUT, MIN_INTERVAL};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(serde_json::Value::Object(spec)) = serde_json::from_slice(rest) else {
        return;
    };
    let kind = KINDS[usize::from(selector) % KINDS.len()];
    let Ok(read) = read_stored(kind, &spec) else {
        return;
    };
    assert!(read.interval >= MIN_INTERVAL && read.interval <= MAX_INTERVAL);
    assert!(read.timeout <= read.interval && read.timeout <= MAX_TIMEOUT);
    if let Some(run) = read.run {
        run.validate().expect("an accepted check validates");
    }
});

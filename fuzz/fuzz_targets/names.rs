//! User names from the API and the CLI: normalisation never panics, is
//! idempotent, and its key never differs between a name and its own
//! normal form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::names;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = names::normalize(raw) {
        assert_eq!(names::normalize(&name).as_deref(), Ok(name.as_str()));
        assert_eq!(names::key(&name), names::key(raw));
    } else {
        assert_eq!(names::key(raw), None);
    }
});

//! EVTX files from outside (`POST /api/v1/ingest/evtx`, `vigil hunt`):
//! arbitrary bytes behind a valid file header must never panic. Damage is
//! a warning or an error, and every record handed out is a JSON value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::evtx::{decode_evtx, EVTX_MAGIC};

fuzz_target!(|data: &[u8]| {
    // Most inputs should get past the magic check to reach the parser.
    let mut file = EVTX_MAGIC.to_vec();
    file.extend_from_slice(data);
    let mut records = 0usize;
    let result = decode_evtx(file, &mut |_record| records += 1, &mut |_warning| {});
    if result.is_err() {
        assert_eq!(records, 0, "a file refused whole hands out no record");
    }
});

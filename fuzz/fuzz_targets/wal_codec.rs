//! The write-ahead log's event batch codec on arbitrary bytes: decoding must
//! never panic, and whatever decodes must encode back to the very same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_store::events::codec::{decode_batch, encode_batch};

fuzz_target!(|data: &[u8]| {
    let Ok((tenant, events)) = decode_batch(data) else {
        return;
    };
    assert!(events.iter().all(|e| e.tenant == tenant));
    let encoded = encode_batch(tenant, &events);
    assert!(
        encoded == data,
        "re-encoding {} events gave {} bytes for {} decoded",
        events.len(),
        encoded.len(),
        data.len()
    );
});

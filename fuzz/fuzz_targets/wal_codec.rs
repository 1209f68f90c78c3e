//! The write-ahead log's event batch codec on arbitrary bytes: decoding must
//! never panic, and whatever decodes must encode back to the very same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_store::events::codec::{decode_batch, encode_batch, encode_batch_v1};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = decode_batch(data) else {
        return;
    };
    let (tenant, events) = (batch.tenant, &batch.events);
    assert!(events.iter().all(|e| e.tenant == tenant));
    // Records of both formats are read: each must encode back in its own.
    let encoded = match batch.arrival {
        Some(arrival) => encode_batch(tenant, arrival, events),
        None => encode_batch_v1(tenant, events),
    };
    assert!(
        encoded == data,
        "re-encoding {} events gave {} bytes for {} decoded",
        events.len(),
        encoded.len(),
        data.len()
    );
});

//! The chunk decoder and the block payload splitter on arbitrary bytes
//! (what a damaged file could hold past its CRC): never a panic, never a
//! huge allocation, and whatever decodes has increasing timestamps and
//! re-encodes to the same samples.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_metrics::chunk;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_metrics::block::split_parts(data);
    let times: Vec<i64> = (0..chunk::chunk_count(data) as i64).collect();
    let _ = chunk::decode_values(data, &times);
    if let Ok(samples) = chunk::decode(data) {
        assert!(samples.windows(2).all(|w| w[0].0 < w[1].0));
        let again = chunk::decode(&chunk::encode_best(&samples)).expect("re-encoded chunk decodes");
        assert_eq!(again.len(), samples.len());
        for (a, b) in again.iter().zip(&samples) {
            assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
        }
    }
});

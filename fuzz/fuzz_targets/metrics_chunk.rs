//! Chunks on arbitrary bytes, two ways:
//!
//! - as a chunk (what a damaged file could hold past its CRC): the decoder
//!   and the block payload splitter never panic, and whatever decodes has
//!   increasing timestamps and re-encodes to the same samples;
//! - as samples (13-byte records: a gap, a value, a shape byte): every
//!   encoding the flush may choose decodes to the same bits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_metrics::chunk;

fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
}

fuzz_target!(|data: &[u8]| {
    let _ = vigil_metrics::block::split_parts(data);
    let times: Vec<i64> = (0..chunk::chunk_count(data) as i64).collect();
    let _ = chunk::decode_values(data, &times);
    if let Ok(samples) = chunk::decode(data) {
        assert!(samples.windows(2).all(|w| w[0].0 < w[1].0));
        let again = chunk::decode(&chunk::encode_best(&samples)).expect("re-encoded chunk decodes");
        assert!(same(&again, &samples));
    }

    let mut samples = Vec::new();
    let mut t = i64::MIN;
    for record in data.chunks_exact(13).take(chunk::MAX_CHUNK_SAMPLES) {
        let gap = u32::from_le_bytes([record[0], record[1], record[2], record[3]]) as i64 + 1;
        let bits = u64::from_le_bytes(record[4..12].try_into().unwrap());
        let v = match record[12] % 4 {
            0 => f64::from_bits(bits),
            1 => (bits % 1_000_000) as f64 / 100.0,
            2 => ((bits >> 11) as i64 - (1 << 52)) as f64 * 4096.0,
            _ => (bits % 7) as f64,
        };
        // Huge gaps too, up to 2^63: still positive, so times increase.
        let scale = if record[12] & 0x80 != 0 { 1 << 31 } else { 1 };
        let Some(next) = gap.checked_mul(scale).and_then(|gap| t.checked_add(gap)) else {
            break;
        };
        t = next;
        samples.push((t, v));
    }
    let best = chunk::encode_best(&samples);
    assert!(same(&chunk::decode(&best).expect("encoded chunk decodes"), &samples));
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let only = chunk::encode_values_best(&values);
    assert!(same(&chunk::decode_values(&only, &times).expect("values decode"), &samples));
});

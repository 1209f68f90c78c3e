//! The RELP frame decoder on arbitrary bytes, pushed in arbitrary pieces:
//! never a panic, never a frame over the data limit, the same frames
//! whatever the cut, and an error that sticks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::relp::{RelpDecoder, RelpError, RelpFrame};

const MAX_DATA: usize = 256;

fn cut(data: &[u8], piece: usize) -> (Vec<RelpFrame>, Option<RelpError>) {
    let mut decoder = RelpDecoder::new(MAX_DATA);
    let mut frames = Vec::new();
    for chunk in data.chunks(piece.max(1)) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.data.len() <= MAX_DATA);
                    assert!(frame.txnr <= 999_999_999);
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(decoder.next_frame(), Err(e.clone()));
                    return (frames, Some(e));
                }
            }
        }
        // One partial frame at most: header, data, trailer.
        assert!(decoder.pending() <= MAX_DATA + 64 + chunk.len());
    }
    (frames, decoder.finish().err())
}

fuzz_target!(|data: &[u8]| {
    let (whole, whole_err) = cut(data, data.len());
    let (bytes, bytes_err) = cut(data, 1);
    assert_eq!(whole, bytes);
    assert_eq!(whole_err, bytes_err);
});

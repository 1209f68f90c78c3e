//! The syslog stream de-framer and datagram splitter on arbitrary bytes:
//! they must never panic, never keep more than a frame's worth of bytes,
//! never return a frame over the limit, empty or with a trailing CR, LF or
//! NUL, and give the same frames however the stream is cut into reads.

#![no_main]

// The framing module is pure (no sockets, no crate-internal imports), so
// it is compiled here on its own: depending on vigil-server would build
// its HTTP and TLS stacks under the sanitizer for nothing.
#[path = "../../crates/vigil-server/src/inputs/framing.rs"]
#[allow(dead_code)]
mod framing;

use framing::{max_buffered, split_datagram, Deframer, FramingError};
use libfuzzer_sys::fuzz_target;

/// Frames and the final error of `stream` read in pieces of the sizes
/// `cuts` gives, checking the per-frame invariants on the way.
fn deframe(
    max: usize,
    stream: &[u8],
    mut cuts: impl FnMut() -> usize,
) -> (Vec<Vec<u8>>, Option<FramingError>) {
    let mut d = Deframer::new(max);
    let mut frames = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, next) = rest.split_at(cuts().clamp(1, rest.len()));
        rest = next;
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    check(max, &f.bytes);
                    frames.push(f.bytes);
                }
                Ok(None) => break,
                Err(e) => {
                    // The error stays: the stream cannot be read on.
                    assert_eq!(d.next_frame(), Err(e.clone()));
                    return (frames, Some(e));
                }
            }
        }
        assert!(d.buffered() <= max_buffered(max), "{} held", d.buffered());
    }
    match d.finish() {
        Ok(Some(f)) => {
            check(max, &f.bytes);
            frames.push(f.bytes);
            (frames, None)
        }
        Ok(None) => (frames, None),
        Err(e) => (frames, Some(e)),
    }
}

fn check(max: usize, frame: &[u8]) {
    assert!(!frame.is_empty());
    assert!(frame.len() <= max, "{} > {max}", frame.len());
    assert!(!matches!(frame.last(), Some(b'\r' | b'\n' | 0)));
}

fuzz_target!(|data: &[u8]| {
    let [limit, seed, stream @ ..] = data else {
        return;
    };
    let max = usize::from(*limit % 64) + 1;
    let whole = deframe(max, stream, || usize::MAX);
    let mut state = u32::from(*seed) | 1;
    let pieces = deframe(max, stream, || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 16) as usize % 17 + 1
    });
    assert_eq!(whole, pieces);
    let bytes = deframe(max, stream, || 1);
    assert_eq!(whole, bytes);
    // The real limit on a big stream: nothing cut, same frames.
    deframe(64 << 10, stream, || 7);

    let mut total = 0;
    for message in split_datagram(stream) {
        assert!(!message.is_empty());
        assert!(!matches!(message.last(), Some(b'\r' | b'\n' | 0)));
        total += message.len();
    }
    assert!(total <= stream.len());
});

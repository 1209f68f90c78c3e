//! Opening the write-ahead log on a segment of arbitrary bytes (a crash, a
//! torn write, a flipped bit, plain garbage): `Wal::open` must not panic,
//! must cut a bad tail off rather than fail, and must leave the segment as a
//! prefix of what was there, holding at least the records it replays.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use vigil_store::wal::{Wal, WalOptions};

/// Where the per-input temp dirs go: tmpfs when there is one, so that the
/// fsyncs of a truncated tail cost nothing.
fn scratch() -> &'static PathBuf {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::Builder::new()
        .prefix("vigil-fuzz-wal")
        .tempdir_in(scratch())
        .expect("temp dir");
    let segment = dir.path().join("00000000000000000001.wal");
    std::fs::write(&segment, data).expect("write segment");

    let opened = Wal::<()>::open(dir.path(), WalOptions::default(), Box::new(|_, _| true), None)
        .unwrap_or_else(|e| panic!("open failed on {} bytes: {e}", data.len()));
    let replay = opened.replay;
    drop(opened.wal);
    opened.writer.join().expect("writer thread panicked");

    let left = std::fs::read(&segment).expect("segment still there");
    assert!(
        data.starts_with(&left),
        "segment of {} bytes is now {} bytes, not a prefix",
        data.len(),
        left.len()
    );
    let framed: usize = replay.iter().map(|r| 16 + r.payload.len()).sum();
    assert!(
        framed <= left.len(),
        "{} records ({framed} bytes framed) replayed from a {} byte segment",
        replay.len(),
        left.len()
    );
    assert!(
        replay.iter().all(|r| r.seq > 0),
        "replayed a record at or below the checkpoint (0)"
    );
});

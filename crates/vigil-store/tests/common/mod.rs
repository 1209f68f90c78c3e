//! What the event store tests share: the embedded store as they open it.

use std::time::Duration;
use vigil_store::events::{EmbeddedEventStore, EmbeddedOptions};

/// The embedded store in `dir`, committing every 200 ms on one small writer.
pub fn open(dir: &std::path::Path) -> EmbeddedEventStore {
    let options = EmbeddedOptions {
        commit_interval: Duration::from_millis(200),
        writer_threads: 1,
        writer_memory_bytes: 20 << 20,
        ..EmbeddedOptions::default()
    };
    EmbeddedEventStore::open(dir, options).expect("open the embedded event store")
}

//! The embedded event store passes the event store conformance suite.

use std::time::Duration;
use vigil_store::events::{EmbeddedEventStore, EmbeddedOptions};

fn open(dir: &std::path::Path) -> EmbeddedEventStore {
    let options = EmbeddedOptions {
        commit_interval: Duration::from_millis(200),
        writer_threads: 1,
        writer_memory_bytes: 20 << 20,
        ..EmbeddedOptions::default()
    };
    EmbeddedEventStore::open(dir, options).expect("open the embedded event store")
}

vigil_store::event_store_conformance_tests!(open);

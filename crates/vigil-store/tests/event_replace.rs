//! Replacing by id: events appended again (`append_replacing`, what the
//! syslog input journal's replay uses) or replayed from the event log
//! after a crash replace the events of the same id, never add a copy.

mod common;

use common::open;
use serde_json::json;
use vigil_core::{Event, TenantId, Timestamp};
use vigil_query::Query;
use vigil_store::events::codec::encode_batch;
use vigil_store::events::conformance::{event, NOON};
use vigil_store::events::{EventStore, SearchRequest};
use vigil_store::wal::{Sink, Wal, WalOptions};

const A: TenantId = TenantId(1);

fn all() -> SearchRequest {
    SearchRequest {
        query: Query::All,
        from: None,
        to: None,
        limit: 1000,
    }
}

fn events(n: i64, version: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = event(A, NOON + i, json!({"i": i, "version": version}));
            e.id = vigil_core::EventId(0xfeed_0000 + i as u128);
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_replacing_never_stores_an_id_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let arrival = Timestamp(NOON);
    store
        .append_arrived(A, events(3, 1), arrival)
        .await
        .unwrap();
    store.refresh().await.unwrap();
    // Committed already: replaced.
    store
        .append_replacing(A, events(4, 2), arrival)
        .await
        .unwrap();
    // Not committed yet: replaced too.
    store
        .append_replacing(A, events(4, 3), arrival)
        .await
        .unwrap();
    store.refresh().await.unwrap();
    let found = store.search(A, all()).await.unwrap();
    assert_eq!(found.total, 4, "{:?}", found.events);
    for hit in &found.events {
        assert!(hit.raw.contains("\"version\":3"), "{}", hit.raw);
    }
    // A plain append does not look: the caller promises new ids.
    store
        .append_arrived(A, events(1, 4), arrival)
        .await
        .unwrap();
    store.refresh().await.unwrap();
    assert_eq!(store.search(A, all()).await.unwrap().total, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_log_record_replaces_what_is_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let arrival = Timestamp(NOON);
    {
        let store = open(dir.path());
        store
            .append_arrived(A, events(3, 1), arrival)
            .await
            .unwrap();
        store.refresh().await.unwrap();
    }
    // A crash after the log took a batch of the same ids (a journal
    // replay) and before the index committed it.
    let sink: Sink<()> = Box::new(|_, _| true);
    let wal = Wal::open(&dir.path().join("wal"), WalOptions::default(), sink, None).unwrap();
    wal.wal
        .append(encode_batch(A, arrival, &events(3, 2)), ())
        .await
        .unwrap();
    drop(wal.wal);
    wal.writer.join().unwrap();

    let store = open(dir.path());
    store.refresh().await.unwrap();
    let found = store.search(A, all()).await.unwrap();
    assert_eq!(found.total, 3, "{:?}", found.events);
    assert!(found.events.iter().all(|e| e.raw.contains("\"version\":2")));
}

//! The embedded store's partitions on disk: replay after a crash puts each
//! event in the partition of its arrival (records of the first log format
//! in their events' day, as before), and partitions of the first format
//! (named by their events' day, no bounds file) keep working.

mod common;

use common::open;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use vigil_core::{Event, TenantId, Timestamp};
use vigil_query::Query;
use vigil_store::events::codec::{encode_batch, encode_batch_v1};
use vigil_store::events::conformance::{event, NOON};
use vigil_store::events::partition::day_name;
use vigil_store::events::{EventStore, SearchRequest};
use vigil_store::wal::{Sink, Wal, WalOptions};

const A: TenantId = TenantId(1);
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// 2019-01-01
const Y2019: i64 = 1_546_300_800_000_000;

fn partitions(dir: &Path, tenant: TenantId) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("events").join(tenant.0.to_string())) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn ranged(from: Option<i64>, to: Option<i64>) -> SearchRequest {
    SearchRequest {
        query: Query::All,
        from: from.map(Timestamp),
        to: to.map(Timestamp),
        limit: 1000,
    }
}

/// Writes log records as a store that crashed before indexing them would
/// have left them: nothing in `events/`, everything in `wal/`.
async fn crashed_with(dir: &Path, payloads: Vec<Vec<u8>>) {
    let sink: Sink<()> = Box::new(|_, _| true);
    let opened = Wal::open(&dir.join("wal"), WalOptions::default(), sink, None).expect("wal");
    for payload in payloads {
        opened.wal.append(payload, ()).await.expect("append");
    }
    drop(opened.wal);
    opened.writer.join().expect("writer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_after_a_crash_keeps_the_arrival() {
    let dir = tempfile::tempdir().expect("tempdir");
    let arrival = Timestamp(NOON + 30 * DAY);
    let imported: Vec<Event> = (0..40)
        .map(|d| event(A, Y2019 + d * DAY, json!({"d": d})))
        .collect();
    // A record of the first format, written before the upgrade: its events
    // went to their own day then, and must again for replay to stay exact.
    let old: Vec<Event> = vec![event(A, NOON + HOUR, json!({"old": true}))];
    crashed_with(
        dir.path(),
        vec![
            encode_batch(A, arrival, &imported),
            encode_batch_v1(A, &old),
        ],
    )
    .await;
    assert!(partitions(dir.path(), A).is_empty());

    let store = open(dir.path());
    store.refresh().await.expect("refresh");
    let expected: BTreeSet<String> = [day_name(arrival.day()), day_name(Timestamp(NOON).day())]
        .into_iter()
        .collect();
    assert_eq!(partitions(dir.path(), A), expected);
    let all = store.search(A, ranged(None, None)).await.expect("search");
    assert_eq!(all.total, 41);
    let import = store
        .search(A, ranged(Some(Y2019), Some(Y2019 + 40 * DAY)))
        .await
        .expect("search");
    assert_eq!((import.total, import.partitions_opened), (40, 1));
    drop(store);

    // Reopened again: nothing replayed twice, nothing moved.
    let store = open(dir.path());
    store.refresh().await.expect("refresh");
    assert_eq!(partitions(dir.path(), A), expected);
    let all = store.search(A, ranged(None, None)).await.expect("search");
    assert_eq!(all.total, 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_of_the_first_format_keep_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = Timestamp(NOON).day();
    {
        // What the first format left: a partition named by its events' day,
        // holding only that day's events, and no bounds file.
        let store = open(dir.path());
        let events = (0..6)
            .map(|h| event(A, NOON - 6 * HOUR + h * 2 * HOUR, json!({"h": h})))
            .collect();
        store
            .append_arrived(A, events, Timestamp(NOON))
            .await
            .expect("append");
    }
    let partition = dir.path().join("events/1").join(day_name(day));
    std::fs::remove_file(partition.join("bounds.json")).expect("remove the bounds");

    let store = open(dir.path());
    let inside = store
        .search(A, ranged(Some(NOON - 6 * HOUR), Some(NOON)))
        .await
        .expect("search");
    assert_eq!((inside.total, inside.partitions_opened), (3, 1));
    let next_day = store
        .search(A, ranged(Some(NOON + DAY), None))
        .await
        .expect("search");
    assert_eq!(
        (next_day.total, next_day.partitions_opened),
        (0, 0),
        "bounded by its day"
    );

    // Arrivals of that same day go on into it, widening its bounds.
    store
        .append_arrived(
            A,
            vec![event(A, Y2019, json!({"late": true}))],
            Timestamp(NOON),
        )
        .await
        .expect("append");
    store.refresh().await.expect("refresh");
    assert!(partition.join("bounds.json").exists());
    let old = store
        .search(A, ranged(Some(Y2019), Some(Y2019 + 1)))
        .await
        .expect("search");
    assert_eq!((old.total, old.partitions_opened), (1, 1));
    let inside = store
        .search(A, ranged(Some(NOON - 6 * HOUR), Some(NOON)))
        .await
        .expect("search");
    assert_eq!(inside.total, 3, "its own day is still within its bounds");

    // Retention counts from its day.
    let kept = store
        .apply_retention(A, 3, Timestamp(NOON + 3 * DAY))
        .await
        .expect("retention");
    assert_eq!(kept, 0);
    let dropped = store
        .apply_retention(A, 3, Timestamp(NOON + 4 * DAY))
        .await
        .expect("retention");
    assert_eq!(dropped, 1);
    assert!(partitions(dir.path(), A).is_empty());
}

//! The event store conformance suite: what every backend must do.
//!
//! Each check is a public async function taking a factory that opens a
//! store on a directory (called again on the same directory to test
//! reopening). [`event_store_conformance_tests!`](crate::event_store_conformance_tests)
//! expands one `#[tokio::test]` per check for a backend.

use super::{EventStore, SearchRequest, StatsRequest};
use serde_json::json;
use std::path::Path;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_query::Query;

/// 2024-05-01T12:00:00Z
pub const NOON: i64 = 1_714_564_800_000_000;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

pub fn event(tenant: TenantId, micros: i64, doc: serde_json::Value) -> Event {
    let raw = doc.to_string();
    Event {
        id: EventId::generate(Timestamp(micros)),
        tenant,
        time: Timestamp(micros),
        doc: doc.as_object().cloned().unwrap_or_default(),
        raw,
    }
}

fn search(query: Query, limit: usize) -> SearchRequest {
    SearchRequest {
        query,
        from: None,
        to: None,
        limit,
    }
}

fn field(name: &str, value: &str) -> Query {
    Query::Field {
        field: name.into(),
        predicate: vigil_query::Predicate::Equals(value.into()),
    }
}

const A: TenantId = TenantId(1);
const B: TenantId = TenantId(2);

pub async fn finds_appended_events_newest_first<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let events: Vec<Event> = (0..5)
        .map(|i| {
            event(
                A,
                NOON + i * HOUR,
                json!({"n": i, "user": {"name": "alice"}}),
            )
        })
        .collect();
    store.append(A, events.clone()).await.expect("append");
    store.refresh().await.expect("refresh");
    let result = store
        .search(A, search(Query::All, 3))
        .await
        .expect("search");
    assert_eq!(result.total, 5);
    let ids: Vec<EventId> = result.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![events[4].id, events[3].id, events[2].id]);
    assert_eq!(result.events[0].raw, events[4].raw);
    assert_eq!(result.events[0].time, events[4].time);
    let by_field = store
        .search(A, search(field("user.name", "alice"), 10))
        .await
        .expect("search");
    assert_eq!(by_field.total, 5);
}

pub async fn spans_days_and_filters_time<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let times = [NOON - 2 * DAY, NOON - DAY, NOON, NOON + HOUR];
    let events: Vec<Event> = times
        .iter()
        .map(|&t| event(A, t, json!({"t": t})))
        .collect();
    store.append(A, events.clone()).await.expect("append");
    store.refresh().await.expect("refresh");
    let all = store
        .search(A, search(Query::All, 10))
        .await
        .expect("search");
    let got: Vec<i64> = all.events.iter().map(|e| e.time.0).collect();
    assert_eq!(got, vec![NOON + HOUR, NOON, NOON - DAY, NOON - 2 * DAY]);
    let mut window = search(Query::All, 10);
    window.from = Some(Timestamp(NOON - DAY));
    window.to = Some(Timestamp(NOON + HOUR));
    let got: Vec<i64> = store
        .search(A, window)
        .await
        .expect("search")
        .events
        .iter()
        .map(|e| e.time.0)
        .collect();
    assert_eq!(
        got,
        vec![NOON, NOON - DAY],
        "from is inclusive, to exclusive"
    );
}

pub async fn tenants_never_see_each_other<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .append(
            A,
            vec![event(A, NOON, json!({"secret": "of-a", "host": "a1"}))],
        )
        .await
        .expect("append");
    store
        .append(
            B,
            vec![event(B, NOON, json!({"secret": "of-b", "host": "b1"}))],
        )
        .await
        .expect("append");
    store.refresh().await.expect("refresh");
    for (tenant, own, other) in [(A, "of-a", "of-b"), (B, "of-b", "of-a")] {
        let all = store
            .search(tenant, search(Query::All, 10))
            .await
            .expect("search");
        assert_eq!(all.total, 1);
        assert!(all.events[0].raw.contains(own));
        let theirs = store
            .search(tenant, search(field("secret", other), 10))
            .await
            .expect("search");
        assert_eq!(theirs.total, 0);
        let stats = store
            .stats(
                tenant,
                StatsRequest {
                    search: search(Query::All, 10),
                    field: "secret".into(),
                },
            )
            .await
            .expect("stats");
        assert_eq!(stats.values, vec![(json!(own), 1)]);
    }
    let none = store
        .search(TenantId(99), search(Query::All, 10))
        .await
        .expect("search");
    assert_eq!(none.total, 0);
}

pub async fn counts_top_values<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let users = ["bob", "alice", "bob", "carol", "bob", "alice"];
    let events = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            event(
                A,
                NOON - (i as i64) * DAY / 2,
                json!({"user": u, "code": 200 + (i % 2)}),
            )
        })
        .collect();
    store.append(A, events).await.expect("append");
    store.refresh().await.expect("refresh");
    let request = |f: &str, limit| StatsRequest {
        search: search(Query::All, limit),
        field: f.into(),
    };
    let stats = store.stats(A, request("user", 2)).await.expect("stats");
    assert_eq!(stats.total, 6);
    assert_eq!(stats.values, vec![(json!("bob"), 3), (json!("alice"), 2)]);
    let codes = store.stats(A, request("code", 5)).await.expect("stats");
    assert_eq!(codes.values.len(), 2);
    assert_eq!(codes.values.iter().map(|v| v.1).sum::<u64>(), 6);
}

pub async fn hints_at_missing_fields<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .append(A, vec![event(A, NOON, json!({"user": "bob"}))])
        .await
        .expect("append");
    store.refresh().await.expect("refresh");
    let result = store
        .search(A, search(field("usr", "bob"), 10))
        .await
        .expect("search");
    assert_eq!(result.total, 0);
    assert_eq!(result.missing_fields, vec!["usr".to_string()]);
    let result = store
        .search(A, search(field("user", "eve"), 10))
        .await
        .expect("search");
    assert!(
        result.missing_fields.is_empty(),
        "the field exists; the value does not"
    );
}

pub async fn retention_drops_old_days<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let events = (0..10)
        .map(|d| event(A, NOON - d * DAY, json!({"d": d})))
        .collect();
    store.append(A, events).await.expect("append");
    store
        .append(B, vec![event(B, NOON - 9 * DAY, json!({"d": 9}))])
        .await
        .expect("append");
    store.refresh().await.expect("refresh");
    let dropped = store
        .apply_retention(A, 3, Timestamp(NOON))
        .await
        .expect("retention");
    assert_eq!(dropped, 6);
    let left = store
        .search(A, search(Query::All, 100))
        .await
        .expect("search");
    assert_eq!(left.total, 4, "today and the three days before it are kept");
    let other = store
        .search(B, search(Query::All, 100))
        .await
        .expect("search");
    assert_eq!(other.total, 1, "another tenant's retention is its own");
}

pub async fn survives_reopen<S: EventStore>(open: impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().expect("tempdir");
    let events: Vec<Event> = (0..50)
        .map(|i| event(A, NOON + i, json!({"i": i})))
        .collect();
    {
        let store = open(dir.path());
        store.append(A, events.clone()).await.expect("append");
        // No refresh: what was acknowledged must come back after reopening.
    }
    let store = open(dir.path());
    store.refresh().await.expect("refresh");
    let result = store
        .search(A, search(Query::All, 100))
        .await
        .expect("search");
    assert_eq!(result.total, 50);
    store
        .append(A, vec![event(A, NOON + 100, json!({"i": 100}))])
        .await
        .expect("append");
    drop(store);
    let store = open(dir.path());
    store.refresh().await.expect("refresh");
    let result = store
        .search(A, search(Query::All, 100))
        .await
        .expect("search");
    assert_eq!(result.total, 51, "no event is indexed twice after replays");
}

/// Expands the whole suite for a backend: `event_store_conformance_tests!(|dir| open(dir));`
#[macro_export]
macro_rules! event_store_conformance_tests {
    ($open:expr) => {
        $crate::event_store_conformance_tests!(@each $open;
            finds_appended_events_newest_first,
            spans_days_and_filters_time,
            tenants_never_see_each_other,
            counts_top_values,
            hints_at_missing_fields,
            retention_drops_old_days,
            survives_reopen,
        );
    };
    (@each $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::events::conformance::$name($open).await;
            }
        )*
    };
}

//! Many days in one request: tenant A's ingest token sends one ~64 KB
//! request of events that claim 1,500 distinct days (9999-12-31 among them).
//! Partitions follow arrival, so at most one new partition appears (two
//! only if the request straddles midnight), tenant B's events stay fresh,
//! and A's events are still found by their own times.

use crate::bystander::Bystander;
use crate::common::Server;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use vigil_core::Timestamp;

const DAYS: i64 = 1500;

fn partitions(data: &Path, tenant: i64) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(data.join("events").join(tenant.to_string())) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// One event per day from 1990-01-01 on, and one on 9999-12-31.
fn many_days_body() -> String {
    const DAY: i64 = 86_400_000_000;
    let first = Timestamp::parse("1990-01-01T06:00:00Z").expect("a time");
    let mut body = String::new();
    for d in 0..DAYS - 1 {
        let time = Timestamp(first.0 + d * DAY).to_rfc3339();
        body.push_str(&json!({"time": time, "d": d}).to_string());
        body.push('\n');
    }
    body.push_str(&json!({"time": "9999-12-31T06:00:00Z", "d": DAYS - 1}).to_string());
    body.push('\n');
    body
}

fn search_range(server: &Server, token: &str, from: &str, to: &str) -> Value {
    let r = server
        .get("/api/v1/events", token)
        .query(&[("q", "*"), ("from", from), ("to", to), ("limit", "100")])
        .send()
        .expect("search");
    assert_eq!(r.status(), 200, "search from {from} to {to}");
    r.json().expect("search json")
}

/// Searches until `want` events match, for two minutes at most (what
/// B's freshness was with one partition per event day).
fn wait_for_total(server: &Server, token: &str, query: &str, want: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let result = server.search(token, query);
        if result["total"].as_u64() == Some(want) || Instant::now() > deadline {
            return result;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn many_days_in_one_request_make_one_partition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let alpha = server.create_tenant("alpha")["id"]
        .as_i64()
        .expect("tenant id");
    let ingest = server.token("alpha", "ingest");
    let read = server.token("alpha", "read");
    let bravo = Bystander::start(&server, "bravo");
    let bravo_ingest = server.token("bravo", "ingest");
    let bravo_read = server.token("bravo", "read");
    let before = partitions(&server.data, alpha);

    let body = many_days_body();
    assert!(body.len() <= 66_000, "a ~64 KB request: {}", body.len());
    let day_before = Timestamp::now().day();
    let r = server.ingest(&ingest, &body);
    // A request that straddles midnight may also open the new day's.
    let allowed = if Timestamp::now().day() == day_before {
        1
    } else {
        2
    };
    assert_eq!(r.status(), 200, "the events are fine, only their days many");
    let answer: Value = r.json().expect("answer");
    assert_eq!(answer["accepted"], DAYS);

    // B's freshness right after A's request: time from B's ingest to B's
    // search finding it (reported, not asserted: the bystander's one
    // second is the only timed assertion).
    let started = Instant::now();
    let marker = server.ingest(&bravo_ingest, "{\"message\":\"fresh-after-alpha\"}\n");
    assert_eq!(marker.status(), 200);
    let fresh = wait_for_total(&server, &bravo_read, "message:fresh-after-alpha", 1);
    let freshness = started.elapsed();
    let all = wait_for_total(&server, &read, "*", DAYS as u64);
    let after = partitions(&server.data, alpha);
    let created: BTreeSet<_> = after.difference(&before).collect();
    eprintln!(
        "many days: {} bytes, {DAYS} events over {DAYS} days -> {} new partition(s) {:?}; \
         B's freshness {freshness:?}",
        body.len(),
        created.len(),
        created.iter().take(3).collect::<Vec<_>>(),
    );
    assert_eq!(fresh["total"], 1, "B's event became searchable");
    assert_eq!(all["total"], DAYS, "every event of A is searchable");
    assert!(
        created.len() <= allowed,
        "one request created {} partitions",
        created.len()
    );

    // Still found by their own times: ten days of 1990, the far future.
    let ten = search_range(
        &server,
        &read,
        "1990-01-01T00:00:00Z",
        "1990-01-11T00:00:00Z",
    );
    assert_eq!(ten["total"], 10);
    let last = search_range(
        &server,
        &read,
        "9999-12-31T00:00:00Z",
        "9999-12-31T12:00:00Z",
    );
    assert_eq!(last["total"], 1);
    let none = search_range(
        &server,
        &read,
        "2000-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
    );
    assert_eq!(none["total"], 0);

    let seen = bravo.finish();
    eprintln!("bystander: {seen:?}");
}

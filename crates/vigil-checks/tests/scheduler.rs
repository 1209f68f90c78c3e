//! The scheduler against real peers: pace, lateness, the concurrency
//! bound, and changes at runtime.

mod common;

use common::*;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use vigil_checks::{CheckId, CheckKind, CheckResult, CheckSpec, NetworkPolicy, Scheduler};

fn every(kind: CheckKind, interval_ms: u64, timeout_ms: u64) -> CheckSpec {
    CheckSpec {
        kind,
        target: "127.0.0.1".into(),
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        retries: 0,
    }
}

/// Everything received for `period`.
async fn collect(
    results: &mut mpsc::Receiver<(CheckId, CheckResult)>,
    period: Duration,
) -> HashMap<CheckId, Vec<CheckResult>> {
    let mut by_check: HashMap<CheckId, Vec<CheckResult>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + period;
    while let Ok(Some((id, result))) = tokio::time::timeout_at(deadline, results.recv()).await {
        by_check.entry(id).or_default().push(result);
    }
    by_check
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_targets_do_not_slow_the_others() {
    let port = open_listener().await;
    let silent = silent_listener().await;
    let (tx, mut rx) = mpsc::channel(1024);
    let scheduler = Scheduler::new(100, tx).with_policy(NetworkPolicy::permissive());
    for id in 0..20 {
        let spec = every(CheckKind::Tcp { port }, 200, 100);
        scheduler.upsert(CheckId(id), spec).unwrap();
    }
    for id in 100..110 {
        let spec = every(http(format!("http://{silent}/")), 200, 150);
        scheduler.upsert(CheckId(id), spec).unwrap();
    }
    let results = collect(&mut rx, Duration::from_millis(2100)).await;
    scheduler.shutdown().await;

    for id in 0..20 {
        let runs = &results[&CheckId(id)];
        assert!(
            (9..=11).contains(&runs.len()),
            "check {id}: {} runs",
            runs.len()
        );
        assert!(runs.iter().all(|r| r.state.is_up()));
        assert!(runs.iter().all(|r| r.missed_slots == 0));
        let late = runs.iter().map(|r| r.lateness).max().unwrap();
        assert!(
            late < Duration::from_millis(100),
            "check {id} late by {late:?}"
        );
    }
    for id in 100..110 {
        let runs = &results[&CheckId(id)];
        assert!(runs.len() >= 9, "silent check {id}: {} runs", runs.len());
        for run in runs {
            assert_eq!(
                run.state.reason(),
                Some("timed out after 150ms waiting for the HTTP status line")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_on_running_checks_shows_as_lateness_and_missed_slots() {
    // 10 checks of 400ms each per second, one at a time: 4 times too much.
    let silent = silent_listener().await;
    let (tx, mut rx) = mpsc::channel(1024);
    let scheduler = Scheduler::new(1, tx).with_policy(NetworkPolicy::permissive());
    for id in 0..10 {
        let spec = every(http(format!("http://{silent}/")), 1000, 400);
        scheduler.upsert(CheckId(id), spec).unwrap();
    }
    let mut running = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        running = running.max(scheduler.stats().running);
    }
    let results = collect(&mut rx, Duration::from_millis(2500)).await;
    let stats = scheduler.stats();
    scheduler.shutdown().await;
    assert_eq!(running, 1, "{running} running at once");
    let runs: Vec<&CheckResult> = results.values().flatten().collect();
    assert!((4..=10).contains(&runs.len()), "{} runs", runs.len());
    let late = runs.iter().map(|r| r.lateness).max().unwrap();
    assert!(
        late >= Duration::from_millis(400),
        "the queue shows: {late:?}"
    );
    assert!(stats.missed_slots > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_change_at_runtime() {
    let port = open_listener().await;
    let closed = closed_port().await;
    let (tx, mut rx) = mpsc::channel(1024);
    let scheduler = Scheduler::new(10, tx).with_policy(NetworkPolicy::permissive());
    scheduler
        .upsert(CheckId(1), every(CheckKind::Tcp { port }, 100, 50))
        .unwrap();
    scheduler
        .upsert(CheckId(2), every(CheckKind::Tcp { port }, 100, 50))
        .unwrap();
    let invalid = every(CheckKind::Tcp { port: 0 }, 100, 50);
    assert!(scheduler.upsert(CheckId(3), invalid).is_err());
    assert_eq!(scheduler.len(), 2);

    let before = collect(&mut rx, Duration::from_millis(350)).await;
    assert!(before[&CheckId(1)].iter().all(|r| r.state.is_up()));

    assert!(scheduler.remove(CheckId(2)));
    assert!(!scheduler.remove(CheckId(2)));
    scheduler
        .upsert(CheckId(1), every(CheckKind::Tcp { port: closed }, 100, 50))
        .unwrap();
    // Drain what was in flight, then look.
    collect(&mut rx, Duration::from_millis(150)).await;
    let after = collect(&mut rx, Duration::from_millis(350)).await;
    assert!(
        !after.contains_key(&CheckId(2)),
        "a removed check stays quiet"
    );
    let changed = &after[&CheckId(1)];
    assert!(!changed.is_empty());
    assert!(changed
        .iter()
        .all(|r| r.state.reason() == Some("connection refused")));

    scheduler.shutdown().await;
    assert!(scheduler.is_empty());
    let stats = scheduler.stats();
    assert!(stats.runs >= 6 && stats.up >= 3, "{stats:?}");
}

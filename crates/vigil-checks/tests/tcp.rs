//! TCP checks against real listeners on loopback.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use vigil_checks::{run_check, CheckKind, CheckState, NetworkPolicy};

#[tokio::test]
async fn an_open_port_is_up_with_its_connect_time() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let result = run_check(
        &spec(CheckKind::Tcp { port }, "127.0.0.1", 1000),
        &NetworkPolicy::permissive(),
    )
    .await;
    assert_eq!(result.state, CheckState::Up);
    assert!(result.latency.unwrap() < Duration::from_millis(500));
    assert_eq!(result.sample("vigil_check_up"), Some(1.0));
    assert!(result.sample("vigil_check_latency_seconds").is_some());
    let up = &result.samples[0];
    assert!(up.labels.contains(&("check", "tcp".to_owned())));
    assert!(up.labels.contains(&("target", "127.0.0.1".to_owned())));
}

#[tokio::test]
async fn a_closed_port_is_down_refused() {
    let port = closed_port().await;
    let result = run_check(
        &spec(CheckKind::Tcp { port }, "127.0.0.1", 1000),
        &NetworkPolicy::permissive(),
    )
    .await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "connection refused".into()
        }
    );
    assert_eq!(result.sample("vigil_check_up"), Some(0.0));
}

#[tokio::test]
async fn retries_stay_within_the_timeout() {
    let port = closed_port().await;
    let mut check = spec(CheckKind::Tcp { port }, "127.0.0.1", 1000);
    check.retries = 2;
    let start = Instant::now();
    let result = run_check(&check, &NetworkPolicy::permissive()).await;
    assert_eq!(result.attempts, 3);
    assert_eq!(
        result.state.reason(),
        Some("connection refused (3 attempts)")
    );
    assert!(start.elapsed() < Duration::from_millis(1000));
    // A budget too short for a pause and another attempt: no retry.
    check.timeout = Duration::from_millis(150);
    assert_eq!(
        run_check(&check, &NetworkPolicy::permissive())
            .await
            .attempts,
        1
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_an_error() {
    let result = run_check(
        &spec(CheckKind::Tcp { port: 80 }, "no-such-host.invalid", 2000),
        &NetworkPolicy::permissive(),
    )
    .await;
    let CheckState::Error { reason } = &result.state else {
        panic!("{:?}", result.state);
    };
    assert!(
        reason.contains("no-such-host.invalid"),
        "the reason names the host: {reason}"
    );
}

/// The default policy refuses loopback before any connection: a listener
/// on loopback accepts nothing, and the check is down saying why.
#[tokio::test]
async fn the_default_policy_refuses_loopback_without_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for target in ["127.0.0.1", "localhost", "::ffff:127.0.0.1"] {
        let result = run_check(
            &spec(CheckKind::Tcp { port }, target, 1000),
            &NetworkPolicy::default(),
        )
        .await;
        let CheckState::Down { reason } = &result.state else {
            panic!("{target}: {:?}", result.state);
        };
        assert!(
            reason.contains("denied network (loopback)"),
            "{target}: {reason}"
        );
    }
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}

//! HTTP checks against a server written here, on loopback.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vigil_checks::{run_check, CheckKind, CheckState, NetworkPolicy, StatusExpect};

fn site(path: &str) -> Vec<u8> {
    match path {
        "/" => response("200 OK", &[], "<h1>all systems go</h1>"),
        "/broken" => response("500 Internal Server Error", &[], "oops"),
        "/a" => response("302 Found", &["Location: /b"], ""),
        "/b" => response("301 Moved Permanently", &["Location: ok"], ""),
        "/ok" => response("200 OK", &[], "landed"),
        "/loop" => response("302 Found", &["Location: /loop"], ""),
        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        "/garbage" => b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
        "/short" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec(),
        _ => response("404 Not Found", &[], "no"),
    }
}

fn with(kind: CheckKind, change: impl FnOnce(&mut CheckKind)) -> CheckKind {
    let mut kind = kind;
    change(&mut kind);
    kind
}

fn set_text(kind: &mut CheckKind, text: &str) {
    if let CheckKind::Http { expect_text, .. } = kind {
        *expect_text = Some(text.to_owned());
    }
}

fn set_redirects(kind: &mut CheckKind, n: u8) {
    if let CheckKind::Http {
        follow_redirects, ..
    } = kind
    {
        *follow_redirects = n;
    }
}

async fn check(kind: CheckKind) -> vigil_checks::CheckResult {
    run_check(&spec(kind, "site", 2000), &NetworkPolicy::permissive()).await
}

#[tokio::test]
async fn a_good_page_is_up_with_its_status_and_text() {
    let addr = http_server(site).await;
    let result = check(with(http(format!("http://{addr}/")), |k| {
        set_text(k, "systems go")
    }))
    .await;
    assert_eq!(result.state, CheckState::Up);
    assert_eq!(result.sample("vigil_http_status_code"), Some(200.0));
    assert_eq!(result.sample("vigil_http_content_match"), Some(1.0));
    assert!(result.latency.is_some());
}

#[tokio::test]
async fn missing_text_and_bad_statuses_are_down() {
    let addr = http_server(site).await;
    let result = check(with(http(format!("http://{addr}/")), |k| {
        set_text(k, "maintenance")
    }))
    .await;
    assert_eq!(result.state.reason(), Some("expected text not found"));
    assert_eq!(result.sample("vigil_http_content_match"), Some(0.0));

    let result = check(http(format!("http://{addr}/broken"))).await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "HTTP status 500 (expected 200-399)".into()
        }
    );
    assert_eq!(result.sample("vigil_http_status_code"), Some(500.0));

    let mut kind = http(format!("http://{addr}/missing"));
    if let CheckKind::Http { expect_status, .. } = &mut kind {
        *expect_status = Some(StatusExpect::List(vec![404]));
    }
    assert_eq!(check(kind).await.state, CheckState::Up);
}

#[tokio::test]
async fn follows_redirects_up_to_the_limit() {
    let addr = http_server(site).await;
    let followed = check(with(http(format!("http://{addr}/a")), |k| {
        set_redirects(k, 2);
        set_text(k, "landed");
    }))
    .await;
    assert_eq!(followed.state, CheckState::Up, "{followed:?}");
    assert_eq!(followed.sample("vigil_http_redirects"), Some(2.0));

    let cut = check(with(http(format!("http://{addr}/a")), |k| {
        set_redirects(k, 1)
    }))
    .await;
    assert_eq!(cut.state.reason(), Some("more than 1 redirect"));

    let looping = check(with(http(format!("http://{addr}/loop")), |k| {
        set_redirects(k, 5)
    }))
    .await;
    assert_eq!(looping.state.reason(), Some("more than 5 redirects"));

    // Not following: the redirect itself is the answer, and 3xx is up.
    let unfollowed = check(http(format!("http://{addr}/a"))).await;
    assert_eq!(unfollowed.state, CheckState::Up);
    assert_eq!(unfollowed.sample("vigil_http_status_code"), Some(302.0));
}

#[tokio::test]
async fn reads_chunked_bodies() {
    let addr = http_server(site).await;
    let result = check(with(http(format!("http://{addr}/chunked")), |k| {
        set_text(k, "hello world")
    }))
    .await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");
}

#[tokio::test]
async fn a_server_that_speaks_something_else_is_an_error() {
    let addr = http_server(site).await;
    let result = check(http(format!("http://{addr}/garbage"))).await;
    assert_eq!(
        result.state,
        CheckState::Error {
            reason: "bad HTTP response: the response does not start with an HTTP/1 status line"
                .into()
        }
    );
    let result = check(with(http(format!("http://{addr}/short")), |k| {
        set_text(k, "this")
    }))
    .await;
    assert_eq!(
        result.state.reason(),
        Some("the peer closed the connection while reading the HTTP body")
    );
}

#[tokio::test]
async fn a_listener_that_never_answers_times_out_with_the_step() {
    let addr = silent_listener().await;
    let start = Instant::now();
    let result = run_check(
        &spec(http(format!("http://{addr}/")), "silent", 500),
        &NetworkPolicy::permissive(),
    )
    .await;
    let took = start.elapsed();
    assert_eq!(
        result.state,
        CheckState::Error {
            reason: "timed out after 500ms waiting for the HTTP status line".into()
        }
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(900),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_down() {
    let port = closed_port().await;
    let result = check(http(format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(result.state.reason(), Some("connection refused"));
}

/// Sends `start`, then `filler` again and again until the client leaves.
async fn endless_server(start: &'static [u8], filler: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_request(&mut stream).await;
                if stream.write_all(start).await.is_err() {
                    return;
                }
                while stream.write_all(filler).await.is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_endless_head_is_cut_at_the_limit() {
    let addr = endless_server(b"HTTP/1.1 200 OK\r\n", b"X-Filler: yes\r\n").await;
    let result = check(http(format!("http://{addr}/"))).await;
    assert_eq!(
        result.state,
        CheckState::Error {
            reason: "bad HTTP response: more than 100 header fields".into()
        }
    );
}

#[tokio::test]
async fn an_endless_body_is_searched_up_to_the_limit() {
    let addr = endless_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstatus: fine\n",
        b"padding padding padding padding\n",
    )
    .await;
    let start = Instant::now();
    let found = check(with(http(format!("http://{addr}/")), |k| {
        set_text(k, "status: fine")
    }))
    .await;
    assert_eq!(found.state, CheckState::Up, "{found:?}");
    let missing = check(with(http(format!("http://{addr}/")), |k| {
        set_text(k, "never sent")
    }))
    .await;
    assert_eq!(missing.state.reason(), Some("expected text not found"));
    assert!(start.elapsed() < Duration::from_secs(2));
}

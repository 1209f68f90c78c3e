//! Login floods and large unauthenticated bodies. Before: 200 wrong
//! passwords in 6 s and then the right one worked; 64 MB bodies were read
//! without a token; 128 concurrent logins took 1.9 GB (argon2) and pushed
//! another tenant's ingest from 11 ms to 5–8 s.

use crate::bystander::Bystander;
use crate::common::Server;
use reqwest::blocking::{Client, Response};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

fn create_user(server: &Server, name: &str) {
    let r = server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": name, "password": PASSWORD, "role": "client-viewer", "tenants": ["alpha"]}))
        .send()
        .expect("create user");
    assert_eq!(r.status(), 201, "create {name}");
}

fn login(client: &Client, server: &Server, name: &str, password: &str) -> Response {
    client
        .post(server.url("/api/v1/login"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .expect("login")
}

fn retry_after(r: &Response) -> Option<u64> {
    r.headers().get("retry-after")?.to_str().ok()?.parse().ok()
}

/// The server's peak resident memory so far, in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_login_flood_meets_growing_delays_and_the_right_password_waits_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        "[auth]\nfirst_delay_secs = 1\nmax_delay_secs = 4\n",
    );
    server.create_tenant("alpha");
    create_user(&server, "carol");
    let b = Bystander::start(&server, "bravo");
    let client = Client::new();

    let mut statuses = Vec::new();
    let mut waits = Vec::new();
    for i in 0..200 {
        let r = login(
            &client,
            &server,
            "carol",
            &format!("wrong guess number {i}"),
        );
        let status = r.status().as_u16();
        if status == 429 {
            let wait = retry_after(&r).expect("a 429 has Retry-After");
            let body: serde_json::Value = r.json().expect("json error");
            assert_eq!(body["error"]["code"], "too_many_attempts", "{body}");
            waits.push(wait);
        }
        statuses.push(status);
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        unauthorized, 5,
        "five free failures, then delays: {statuses:?}"
    );
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(
        waits.windows(2).all(|w| w[0] <= w[1]),
        "delays never shrink: {waits:?}"
    );
    assert!(waits[0] < waits[waits.len() - 1], "delays grow: {waits:?}");
    assert_eq!(waits.last(), Some(&4), "up to the cap: {waits:?}");
    // Same-case or not, the name is the same user.
    let r = login(&client, &server, "CAROL", "still wrong, again");
    assert_eq!(r.status(), 429);

    // The right password during the delay is refused too.
    let r = login(&client, &server, "carol", PASSWORD);
    assert_eq!(r.status(), 429, "the right password waits too");
    let wait = retry_after(&r).expect("Retry-After");
    std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(300));
    let r = login(&client, &server, "carol", PASSWORD);
    assert_eq!(r.status(), 200, "after the delay the right password works");
    eprintln!(
        "login flood: 200 attempts → {unauthorized} × 401, then 429 with Retry-After {:?}…{:?}",
        waits.first(),
        waits.last()
    );
    b.finish();
}

#[test]
fn concurrent_logins_use_bounded_memory_and_leave_other_tenants_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("alpha");
    for i in 0..4 {
        create_user(&server, &format!("user{i}"));
    }
    let b = Bystander::start(&server, "bravo");
    let pid = server.child.id();
    let before = peak_rss_kib(pid);
    let statuses: Vec<(u16, Option<u64>)> = std::thread::scope(|scope| {
        let start = std::sync::Arc::new(std::sync::Barrier::new(128));
        let workers: Vec<_> = (0..128)
            .map(|i| {
                let start = start.clone();
                let server = &server;
                scope.spawn(move || {
                    let client = Client::builder()
                        .timeout(Duration::from_secs(60))
                        .build()
                        .expect("client");
                    start.wait();
                    let r = login(&client, server, &format!("user{}", i % 4), PASSWORD);
                    (r.status().as_u16(), retry_after(&r))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("login thread"))
            .collect()
    });
    let after = peak_rss_kib(pid);
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let busy = statuses.iter().filter(|(s, _)| *s == 503).count();
    eprintln!(
        "128 concurrent logins: {ok} × 200, {busy} × 503; server peak RSS {} MiB before, {} MiB after",
        before / 1024,
        after / 1024
    );
    for (status, retry) in &statuses {
        assert!(*status == 200 || *status == 503, "{statuses:?}");
        if *status == 503 {
            assert!(retry.is_some(), "a busy answer says when to retry");
        }
    }
    assert!(ok >= 1, "some logins get through: {statuses:?}");
    // Each argon2 hash takes 19 MiB; 128 at once took 1.9 GB before.
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 256,
        "the server's peak memory grew by {grown_mib} MiB under 128 concurrent logins"
    );
    b.finish();
}

#[test]
fn a_64_mb_login_body_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let b = Bystander::start(&server, "bravo");
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST /api/v1/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        64 << 20
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    // A first part of the body; the rest never needs to be sent.
    let chunk = vec![b' '; 64 << 10];
    let _ = stream.write_all(&chunk);
    let mut answer = [0u8; 512];
    let n = stream
        .read(&mut answer)
        .expect("an answer before the body is sent");
    let answer = String::from_utf8_lossy(&answer[..n]);
    eprintln!(
        "64 MB login body: answered after {:?} having sent 64 KiB",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // And through a client that sends it all.
    let r = Client::new()
        .post(server.url("/api/v1/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 8 << 10])
        .send()
        .expect("send 8 KiB");
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().expect("a JSON error");
    assert_eq!(body["error"]["code"], "body_too_large", "{body}");
    b.finish();
}

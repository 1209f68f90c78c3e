//! HTTP hygiene: slow clients, connection caps, error shapes, security
//! headers, HTTPS, and the modes of the data directory.
//!
//! Before: 200 connections sending headers a byte a second were held for
//! as long as they liked; 404/405 and extractor errors were plain text or
//! empty; no `nosniff`, no `no-store`; plain HTTP only; the data directory
//! 0755 and its files 0644.

use crate::bystander::Bystander;
use crate::common::Server;
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A TCP connection to `server` from `from` (another loopback address, so
/// that the server sees a client other than the bystander).
fn connect_from(from: [u8; 4], server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SockAddr::from(SocketAddr::from((from, 0))))?;
    socket.connect_timeout(&SockAddr::from(server), Duration::from_secs(5))?;
    let stream: TcpStream = socket.into();
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// Whether the server has closed `stream` (end of stream or a reset).
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[test]
fn slow_header_senders_are_closed_and_capped_while_bravo_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &[
            ("VIGIL_SERVER_HEADER_READ_TIMEOUT_SECS", "2"),
            ("VIGIL_SERVER_MAX_CONNECTIONS_PER_ADDRESS", "100"),
        ],
    );
    let bravo = Bystander::start(&server, "bravo");

    let mut slow: Vec<Option<TcpStream>> = (0..200)
        .map(|_| {
            let mut s = connect_from([127, 0, 0, 2], server.addr).expect("connect");
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: vigil\r\nX-Slow: ")
                .expect("first bytes");
            Some(s)
        })
        .collect();
    let started = Instant::now();
    let mut closed_after_first_second = None;
    // A byte a second on every connection still open, until the server has
    // closed them all (or long after the 2 s header timeout).
    while slow.iter().any(Option::is_some) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(1));
        for slot in slow.iter_mut() {
            if let Some(stream) = slot {
                if closed(stream) || stream.write_all(b"a").is_err() {
                    *slot = None;
                }
            }
        }
        let count = slow.iter().filter(|s| s.is_none()).count();
        closed_after_first_second.get_or_insert(count);
    }
    let open = slow.iter().filter(|s| s.is_some()).count();
    eprintln!(
        "slow header senders: {} closed after 1 s, {} of 200 closed after {:?}",
        closed_after_first_second.unwrap_or(0),
        200 - open,
        started.elapsed()
    );
    assert_eq!(open, 0, "slow header senders still open after 20 s");
    let early = closed_after_first_second.unwrap_or(0);
    assert!(
        early >= 100,
        "connections over the per-address cap of 100 are closed on accept: {early} closed after 1 s"
    );

    // The server still answers, and B never waited.
    let health = server.request("GET", "/healthz").send().expect("healthz");
    assert_eq!(health.status(), 200);
    let seen = bravo.finish();
    eprintln!("bravo during the slow clients: {seen:?}");
}

/// The documented error shape, with no Rust internals in the message.
fn assert_json_error(response: Response, status: u16, what: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(kind.starts_with("application/json"), "{what}: {kind}");
    let text = response.text().expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && !message.is_empty(), "{what}: {text}");
    for internal in [
        "::",
        "TenantName(",
        "Failed to",
        "`i64`",
        "`u32`",
        "Some(",
        "target type",
    ] {
        assert!(
            !message.contains(internal),
            "{what}: {internal} in {message}"
        );
    }
    body
}

#[test]
fn every_error_is_json_without_internals_and_headers_are_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let admin = server.token("alpha", "admin");

    let not_found = server.get("/api/v1/no-such-thing", &admin).send().unwrap();
    assert_json_error(not_found, 404, "unknown path");
    let wrong_method = server.request("DELETE", "/healthz").send().unwrap();
    assert_eq!(
        wrong_method
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap_or("")),
        Some("GET,HEAD"),
        "a 405 keeps its Allow header"
    );
    assert_json_error(wrong_method, 405, "wrong method");
    let bad_json = server
        .post("/api/v1/assets", &admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .unwrap();
    assert_json_error(bad_json, 400, "bad JSON");
    let bad_query = server
        .get("/api/v1/alerts?limit=many", &admin)
        .send()
        .unwrap();
    assert_json_error(bad_query, 400, "bad query string");
    let bad_path = server
        .get("/api/v1/alerts/not-a-number", &admin)
        .send()
        .unwrap();
    assert_json_error(bad_path, 400, "bad path");
    let big_login = server
        .request("POST", "/api/v1/login")
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{}\"}}", "a".repeat(64 << 10)))
        .send()
        .unwrap();
    assert_json_error(big_login, 413, "64 KiB login");
    // Without a Content-Length (chunked): cut off at the limit all the same.
    let answer = chunked_login(server.addr, 9 << 10);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    let twice = server
        .post("/api/v1/tenants", &server.admin)
        .json(&serde_json::json!({"name": "alpha"}))
        .send()
        .unwrap();
    let body = assert_json_error(twice, 409, "tenant twice");
    assert_eq!(body["error"]["message"], "tenant \"alpha\" already exists");

    for (path, token) in [
        ("/healthz", None),
        ("/api/v1/tenants", Some(server.admin.as_str())),
        ("/api/v1/tokens", Some(admin.as_str())),
        ("/api/v1/nope", None),
    ] {
        let mut request = server.request("GET", path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        let csp = header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        if path.starts_with("/api/") {
            assert_eq!(
                header("cache-control").as_deref(),
                Some("no-store"),
                "{path}"
            );
        }
    }
    bravo.finish();
}

/// A login whose body of `bytes` comes chunked (no Content-Length), sent
/// whole before the answer is read; the answer as text.
fn chunked_login(addr: SocketAddr, bytes: usize) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = "POST /api/v1/login HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    request.extend(format!("{bytes:x}\r\n").as_bytes());
    request.extend(std::iter::repeat_n(b' ', bytes));
    request.extend(b"\r\n");
    // The server may answer and close before the end: a write error is fine.
    let _ = stream.write_all(&request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).to_string()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(args).output().expect("curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn https_serves_the_api_and_plain_http_fails_on_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=vigil test",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key.to_str().expect("utf-8"),
        "-out",
        cert.to_str().expect("utf-8"),
    ]);
    let toml = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let server = Server::start_loading_with_toml(dir.path(), &toml);
    let base = format!("https://{}", server.addr);
    let ca = cert.to_str().expect("utf-8");
    let (ok, body) = curl(&["-sS", "--cacert", ca, &format!("{base}/healthz")]);
    assert!(ok, "healthz over HTTPS: {body}");
    assert!(body.contains("ok") || body.contains("status"), "{body}");
    let auth = format!("Authorization: Bearer {}", server.admin);
    let (ok, body) = curl(&[
        "-sS",
        "--cacert",
        ca,
        "-H",
        &auth,
        &format!("{base}/api/v1/tenants"),
    ]);
    assert!(ok, "the API over HTTPS: {body}");
    let tenants: Value = serde_json::from_str(&body).expect("JSON over HTTPS");
    assert!(tenants.is_array(), "{tenants}");

    let plain = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!("http://{}/healthz", server.addr))
        .send();
    assert!(
        plain
            .as_ref()
            .map(|r| !r.status().is_success())
            .unwrap_or(true),
        "plain HTTP must not be served on the HTTPS listener: {plain:?}"
    );
    // An untrusted certificate is refused by a client that checks.
    let (ok, _) = curl(&["-sS", &format!("{base}/healthz")]);
    assert!(
        !ok,
        "curl without the CA should refuse the self-signed cert"
    );
}

/// Every entry under `root`, with its mode, that group or others may use.
fn loose_entries(root: &Path) -> Vec<String> {
    let mut loose = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // removed meanwhile (a journal)
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            loose.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    loose
}

#[test]
fn the_data_directory_is_private_after_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // What an older vigil under umask 022 left: readable by everyone.
    std::fs::create_dir_all(data.join("detection")).expect("dirs");
    std::fs::write(data.join("detection/old-state.json"), "{}").expect("file");
    for (path, mode) in [
        (data.clone(), 0o755),
        (data.join("detection"), 0o755),
        (data.join("detection/old-state.json"), 0o644),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let server = Server::start(&data);
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let ingest = server.token("alpha", "ingest");
    let read = server.token("alpha", "read");
    server.ingest(&ingest, "{\"message\":\"mode probe\"}\n");
    server.search_until(&read, "message:probe", 1);
    bravo.finish();
    let loose = loose_entries(&data);
    assert!(
        loose.is_empty(),
        "group/other bits under the data dir: {loose:#?}"
    );
    let mut files = 0;
    let mut pending = vec![data.clone()];
    while let Some(path) = pending.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                files += 1;
                pending.push(entry.path());
            }
        }
    }
    assert!(files >= 5, "the walk saw the store's files ({files})");
}

#[test]
fn a_trickled_body_gets_a_json_408() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(
        dir.path(),
        &[("VIGIL_SERVER_REQUEST_BODY_TIMEOUT_SECS", "2")],
    );
    let bravo = Bystander::start(&server, "bravo");
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\":",
        server.admin
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.set_nonblocking(true).expect("nonblocking");
    let started = Instant::now();
    let mut answer = Vec::new();
    // A byte every half second: 200 bytes would take 100 s.
    while started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}}") {
            break;
        }
        if stream.write_all(b" ").is_err() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"request_timeout\""), "{text}");
    bravo.finish();
}

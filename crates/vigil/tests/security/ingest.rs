//! Ingest memory and concurrency: tenant alpha's ingest token sends a gzip
//! bomb, a body that inflates past the size cap, 64 slow requests at once
//! and a body that never finishes arriving, while bravo keeps working.

use crate::bystander::Bystander;
use crate::common::Server;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The server's peak resident memory so far (VmHWM), in bytes.
fn peak_rss(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("the server's /proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(body).expect("gzip");
    encoder.finish().expect("gzip")
}

fn post_gzip(server: &Server, path: &str, token: &str, body: Vec<u8>) -> Response {
    server
        .post(path, token)
        .header("Content-Encoding", "gzip")
        .body(body)
        .send()
        .expect("ingest")
}

/// The error code of a JSON error answer.
fn error_code(response: Response) -> String {
    let answer: Value = response.json().expect("a JSON error");
    answer["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {answer}"))
        .to_string()
}

/// Budget for the server's memory growth under one hostile request.
const RSS_BUDGET: u64 = 300 << 20;

#[test]
fn gzip_bombs_are_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "ingest");

    // 2 M tiny events in ~24 KB: before, 1.15 GB of memory and all stored.
    let events = "{\"a\":1}\n".repeat(2_000_000);
    let bomb = gzip(events.as_bytes());
    drop(events);
    assert!(bomb.len() < 32 << 10, "the bomb is {} bytes", bomb.len());
    let before = peak_rss(&server);
    let r = post_gzip(&server, "/api/v1/ingest", &alpha, bomb);
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r), "too_many_events");
    let grown = peak_rss(&server).saturating_sub(before);
    eprintln!(
        "gzip bomb of 2 M tiny events: peak RSS grew by {} KiB",
        grown >> 10
    );
    assert!(grown < RSS_BUDGET, "peak RSS grew by {grown} bytes");

    // One line inflating past the body cap: refused, never buffered whole.
    let line = vec![b'x'; 80 << 20];
    let bomb = gzip(&line);
    drop(line);
    let before = peak_rss(&server);
    let r = post_gzip(&server, "/api/v1/ingest", &alpha, bomb.clone());
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r), "body_too_large");
    // The EVTX upload, which must hold its file whole: not EVTX is refused
    // at its first bytes, a file past the cap as it reaches it.
    let r = post_gzip(&server, "/api/v1/ingest/evtx", &alpha, bomb);
    assert_eq!(r.status(), 400);
    let mut file = b"ElfFile\0".to_vec();
    file.resize(80 << 20, 0);
    let r = post_gzip(&server, "/api/v1/ingest/evtx", &alpha, gzip(&file));
    drop(file);
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r), "body_too_large");
    let grown = peak_rss(&server).saturating_sub(before);
    eprintln!(
        "80 MiB gzip bombs (one NDJSON line, one EVTX file): peak RSS grew by {} KiB",
        grown >> 10
    );
    assert!(grown < RSS_BUDGET, "peak RSS grew by {grown} bytes");

    // Nothing of the refused bodies was stored.
    let read = server.token("alpha", "read");
    assert_eq!(server.search(&read, "a:1")["total"], 0);
    bravo.finish();
}

#[test]
fn a_large_allowed_body_is_taken_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "ingest");
    let read = server.token("alpha", "read");
    // At the default cap of 100,000 events, some lines bad.
    let mut body = String::new();
    for i in 0..100_000 {
        if i % 10_000 == 9_999 {
            body.push_str("not json\n");
        } else {
            let event =
                json!({"batch": "big", "n": i, "message": format!("event {i} of a large body")});
            body.push_str(&event.to_string());
            body.push('\n');
        }
    }
    let before = peak_rss(&server);
    let r = post_gzip(&server, "/api/v1/ingest", &alpha, gzip(body.as_bytes()));
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().expect("answer");
    assert_eq!(answer["accepted"], 99_990);
    assert_eq!(answer["rejected_count"], 10);
    assert_eq!(answer["rejected"][0]["line"], 10_000);
    eprintln!(
        "100,000-event body: peak RSS grew by {} KiB",
        peak_rss(&server).saturating_sub(before) >> 10
    );
    let found = server.search_until(&read, "batch:big", 99_990);
    assert_eq!(found["total"], 99_990);

    // One event more than the cap: refused whole, in plain text too.
    let over = "{\"batch\":\"over\"}\n".repeat(100_001);
    let r = server.ingest(&alpha, &over);
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r), "too_many_events");
    assert_eq!(server.search(&read, "batch:over")["total"], 0);
    let seen = bravo.finish();
    eprintln!("bravo meanwhile: {seen:?}");
}

/// What a raw HTTP exchange gave: status, `Retry-After`, JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

/// POSTs `lines` NDJSON events to `path`, one every `every`, over a raw
/// connection that watches for an early answer before each line (an HTTP
/// client library writing the body would fail on the server's refusal
/// before reading it).
fn trickle(addr: SocketAddr, path: &str, token: &str, lines: u32, every: Duration) -> Answer {
    let line = b"{\"slow\":1}\n";
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        line.len() * lines as usize
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Refusals come at once, before any of the body.
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut early = false;
    if let Ok(n) = stream.read(&mut buf) {
        early = n > 0;
        answer.extend_from_slice(&buf[..n]);
    }
    stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    for _ in 0..lines {
        if early {
            break;
        }
        std::thread::sleep(every);
        if stream.write_all(line).is_err() {
            break;
        }
        if let Ok(n) = stream.read(&mut buf) {
            early = n > 0;
            answer.extend_from_slice(&buf[..n]);
        }
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    parse_answer(&answer)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let retry_after = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_string())
    });
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

#[test]
fn concurrent_ingest_is_capped_per_tenant_and_others_keep_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "ingest");
    let addr = server.addr;

    // 64 requests at once, each taking ~4 s to send its body.
    let started = Instant::now();
    let senders: Vec<_> = (0..64)
        .map(|_| {
            let alpha = alpha.clone();
            std::thread::spawn(move || {
                trickle(
                    addr,
                    "/api/v1/ingest",
                    &alpha,
                    40,
                    Duration::from_millis(100),
                )
            })
        })
        .collect();

    // While alpha's slots are full, its EVTX upload is refused too.
    std::thread::sleep(Duration::from_millis(1500));
    let r = server
        .post("/api/v1/ingest/evtx", &alpha)
        .body(vec![0u8; 16])
        .send()
        .expect("evtx");
    let evtx_status = r.status().as_u16();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the EVTX probe came after the slow requests ended"
    );
    assert_eq!(evtx_status, 429, "{:?}", r.text());

    let mut ok = 0;
    let mut busy = 0;
    for sender in senders {
        let answer = sender.join().expect("sender");
        match answer.status {
            200 => {
                assert_eq!(answer.body["accepted"], 40, "{answer:?}");
                ok += 1;
            }
            429 => {
                assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
                assert_eq!(answer.body["error"]["code"], "too_many_requests");
                let message = answer.body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains("ingest.max_concurrent_per_tenant"),
                    "{message}"
                );
                busy += 1;
            }
            _ => panic!("alpha got {answer:?}"),
        }
    }
    eprintln!("64 concurrent slow requests of alpha: {ok} taken, {busy} refused with 429");
    assert!(
        (1..=8).contains(&ok),
        "{ok} of alpha's requests were taken at once"
    );
    assert!(busy >= 1, "none of alpha's 64 requests was refused");
    let seen = bravo.finish();
    eprintln!("bravo meanwhile: {seen:?}");

    // Slots come back: alpha ingests again.
    assert_eq!(server.ingest(&alpha, "{\"after\":1}\n").status(), 200);
}

#[test]
fn a_body_that_never_finishes_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &[("VIGIL_INGEST_BODY_TIMEOUT_SECS", "1")]);
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "ingest");
    let answer = trickle(
        server.addr,
        "/api/v1/ingest",
        &alpha,
        30,
        Duration::from_millis(100),
    );
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], "body_timeout");
    assert_eq!(server.ingest(&alpha, "{\"after\":1}\n").status(), 200);
}

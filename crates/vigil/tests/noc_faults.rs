//! The NOC against peers that misbehave, on loopback: SNMP "agents" that
//! answer garbage, a truncated message or someone else's answer, or say
//! nothing; exporters that answer junk, a few bad lines, or never finish;
//! a web server that accepts and never answers. Each check shows `down`
//! with a reason that names the problem (the partly bad exporter stays up,
//! with a note), the server keeps answering, a healthy 1 s check beside
//! them keeps its pace, and only the faults the built-in rules cover page.

mod common;

use common::{wait_for, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a fake SNMP agent does with each request.
#[derive(Clone, Copy)]
enum Agent {
    /// Bytes that are not BER at all.
    Garbage,
    /// The request echoed as a response, cut short: a SEQUENCE whose
    /// length runs past the datagram.
    Truncated,
    /// A well-formed response with another request id.
    WrongId,
}

/// The loopback peers; their threads stop when this is dropped.
struct Peers {
    stop: Arc<AtomicBool>,
    /// Bound and never read: requests to it go unanswered.
    silent: UdpSocket,
}

impl Peers {
    fn new() -> Peers {
        Peers {
            stop: Arc::new(AtomicBool::new(false)),
            silent: UdpSocket::bind("127.0.0.1:0").expect("bind a silent udp port"),
        }
    }

    fn silent_addr(&self) -> SocketAddr {
        self.silent.local_addr().expect("silent addr")
    }

    fn snmp_agent(&self, kind: Agent) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the agent");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("agent addr");
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(&answer(kind, &buf[..n]), from);
                }
            }
        });
        addr
    }

    /// An HTTP server answering every request `200 OK` with `body`.
    fn exporter(&self, body: &'static [u8]) -> SocketAddr {
        self.tcp_peer(move |mut stream| {
            read_request(&mut stream);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
            let _ = stream.write_all(body);
        })
    }

    /// Accepts every connection and then neither writes nor closes.
    fn black_hole(&self) -> SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel::<TcpStream>();
        let stop = self.stop.clone();
        // Holds the connections open until the peers stop.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(stream) = rx.recv_timeout(Duration::from_millis(100)) {
                    held.push(stream);
                }
            }
        });
        self.tcp_peer(move |stream| {
            let _ = tx.send(stream);
        })
    }

    /// Accepts and closes at once: a healthy TCP service.
    fn healthy(&self) -> SocketAddr {
        self.tcp_peer(drop)
    }

    fn tcp_peer(&self, serve: impl Fn(TcpStream) + Send + 'static) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a tcp peer");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("peer addr");
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        serve(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        addr
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads until the end of the request head (or the peer gives up).
fn read_request(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

fn answer(kind: Agent, request: &[u8]) -> Vec<u8> {
    let garbage = b"\xff\xfe\x00 this is not BER \x01\x02".to_vec();
    match kind {
        Agent::Garbage => garbage,
        Agent::Truncated => as_response(request, false)
            .map(|r| r[..r.len().saturating_sub(4)].to_vec())
            .unwrap_or(garbage),
        Agent::WrongId => as_response(request, true).unwrap_or(garbage),
    }
}

/// The request turned into a Response PDU (`a2`), its request id changed
/// when `other_id`. Message: SEQUENCE { version, community, PDU { id ... } }.
fn as_response(request: &[u8], other_id: bool) -> Option<Vec<u8>> {
    let mut message = request.to_vec();
    let (_, version) = tlv(&message, 0)?;
    let community = end_of(&message, version)?;
    let pdu = end_of(&message, community)?;
    let (_, request_id) = tlv(&message, pdu)?;
    *message.get_mut(pdu)? = 0xa2;
    let (id_len, id_start) = tlv(&message, request_id)?;
    if other_id && id_len > 0 {
        *message.get_mut(id_start + id_len - 1)? ^= 0x5a;
    }
    Some(message)
}

/// `(content length, content start)` of the TLV at `at`.
fn tlv(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *bytes.get(at + 1)?;
    if first < 0x80 {
        return Some((usize::from(first), at + 2));
    }
    let n = usize::from(first & 0x7f);
    let len = bytes
        .get(at + 2..at + 2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((len, at + 2 + n))
}

/// Where the TLV at `at` ends.
fn end_of(bytes: &[u8], at: usize) -> Option<usize> {
    let (len, start) = tlv(bytes, at)?;
    Some(start + len)
}

/// Binary junk and half lines: not one sample.
const JUNK: &[u8] =
    b"\x00\x01\x02\xff\xfe binary junk\n{half_line=\"1\nnode_cpu{mode=\"idle\"\nno_value_here\n";

/// Two good samples and one bad line.
const MOSTLY_GOOD: &[u8] =
    b"# TYPE fault_test_ok gauge\nfault_test_ok 1\nfault_test_ok_too{a=\"b\"} 2\n\x00\x01 junk\n";

/// A faulty check: its asset, its spec, and a word its reason must hold.
struct Fault {
    asset: &'static str,
    spec: Value,
    says: &'static str,
}

fn faults(peers: &Peers) -> Vec<Fault> {
    let snmp = |addr: SocketAddr| {
        json!({"kind": "snmp", "target": addr.to_string(), "community": "public",
               "interval": "2s", "timeout": "1500ms"})
    };
    let scrape = |addr: SocketAddr| {
        json!({"kind": "prometheus", "target": format!("http://{addr}/metrics"),
               "interval": "2s", "timeout": "1s"})
    };
    let hole = peers.black_hole();
    let fault = |asset, spec, says| Fault { asset, spec, says };
    vec![
        fault(
            "snmp-garbage",
            snmp(peers.snmp_agent(Agent::Garbage)),
            "malformed",
        ),
        fault(
            "snmp-truncated",
            snmp(peers.snmp_agent(Agent::Truncated)),
            "malformed",
        ),
        // An answer to another request is no answer to this one, and the
        // reason says datagrams did come back.
        fault(
            "snmp-wrong-id",
            snmp(peers.snmp_agent(Agent::WrongId)),
            "none answered this request",
        ),
        fault("snmp-silent", snmp(peers.silent_addr()), "no answer"),
        fault(
            "exporter-junk",
            scrape(peers.exporter(JUNK)),
            "no sample could be parsed",
        ),
        fault("exporter-hang", scrape(hole), "no complete answer"),
        fault(
            "web-hang",
            json!({"kind": "http", "target": format!("http://{hole}/"),
                   "interval": "2s", "timeout": "1s"}),
            "timed out after 1s waiting for the HTTP status line",
        ),
    ]
}

/// Creates an asset and its check through the API; the check's id.
fn add(server: &Server, token: &str, asset: &str, mut check: Value) -> i64 {
    let created = server
        .post("/api/v1/assets", token)
        .json(&json!({"name": asset, "address": "127.0.0.1"}))
        .send()
        .expect("create asset");
    assert_eq!(created.status(), 201, "asset {asset}");
    check["asset"] = asset.into();
    let created = server
        .post("/api/v1/checks", token)
        .json(&check)
        .send()
        .expect("create check");
    assert_eq!(created.status(), 201, "check of {asset}");
    let view: Value = created.json().expect("check json");
    view["id"].as_i64().expect("check id")
}

/// `GET /api/v1/checks/{id}`.
fn check(server: &Server, token: &str, id: i64) -> Value {
    let r = server
        .get(&format!("/api/v1/checks/{id}"), token)
        .send()
        .expect("show check");
    assert_eq!(r.status(), 200, "check {id}");
    r.json().expect("check json")
}

/// Waits for a check's status to satisfy `ok`.
fn status_until(server: &Server, token: &str, id: i64, ok: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("the status of check {id}"), || {
        let status = check(server, token, id)["status"].clone();
        ok(&status).then_some(status)
    })
}

/// Points stored for a series over the last 5 minutes.
/// The series' points; a query that fails (the machine is loaded, the
/// answer late) is asked again rather than read as "no points".
fn points(server: &Server, token: &str, series: &str) -> Vec<Value> {
    for _ in 0..10 {
        let found = server
            .metrics(token, series, None)
            .and_then(|a| a["series"][0]["points"].as_array().cloned());
        if let Some(points) = found {
            return points;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Vec::new()
}

fn down_twice(status: &Value) -> bool {
    status["state"] == "down" && status["failures"].as_u64() >= Some(2)
}

#[test]
fn faulty_peers_show_down_with_reasons_and_the_scheduler_keeps_its_pace() {
    let peers = Peers::new();
    let dir = tempfile::tempdir().expect("tempdir");
    // The peers listen on loopback, which checks may reach only when allowed.
    let mut server = Server::start_with(dir.path(), &[common::ALLOW_LOOPBACK_CHECKS]);
    server.create_tenant("acme");
    let admin = server.token("acme", "admin");
    let read = server.token("acme", "read");
    let faults = faults(&peers);
    let ids: Vec<i64> = faults
        .iter()
        .map(|f| add(&server, &admin, f.asset, f.spec.clone()))
        .collect();
    let healthy = add(
        &server,
        &admin,
        "healthy",
        json!({"kind": "tcp", "target": peers.healthy().to_string(),
               "interval": "1s", "timeout": "500ms"}),
    );
    let partial = add(
        &server,
        &admin,
        "exporter-partial",
        json!({"kind": "prometheus", "target": format!("http://{}/metrics", peers.exporter(MOSTLY_GOOD)),
               "interval": "2s", "timeout": "1s"}),
    );

    for (fault, id) in faults.iter().zip(&ids) {
        let status = status_until(&server, &read, *id, down_twice);
        let reason = status["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(fault.says), "{}: {status}", fault.asset);
        assert!(status["duration_ms"].is_u64(), "{}: {status}", fault.asset);
        assert!(status["since"].is_string() && status["checked_at"].is_string());
    }
    let listed: Value = server
        .get("/api/v1/checks", &read)
        .send()
        .expect("list checks")
        .json()
        .expect("checks json");
    for id in &ids {
        let shown = listed
            .as_array()
            .and_then(|all| all.iter().find(|c| c["id"] == *id))
            .expect("every check is listed");
        assert_eq!(shown["status"]["state"], "down", "{shown}");
    }

    // The healthy check kept running beside the hung ones: over a window
    // it has about one result a second (half is plenty of margin).
    const WINDOW: u64 = 10;
    let series = "vigil_check_up{asset=\"healthy\"}";
    let before = points(&server, &read, series).len();
    std::thread::sleep(Duration::from_secs(WINDOW));
    let after = points(&server, &read, series).len();
    if (after.saturating_sub(before) as u64) < WINDOW / 2 {
        // It failed once in a dozen full runs and never alone: say all
        // that was seen, for the next reader.
        let answer = server.metrics(&read, series, None);
        let log = server.log();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        panic!(
            "the healthy check ran {} times in {WINDOW} s ({before} points before, {after} after); \
             the query now answers {answer:?}; its status {}; the server's last log lines:\n{}",
            after.saturating_sub(before),
            check(&server, &read, healthy)["status"],
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let status = check(&server, &read, healthy)["status"].clone();
    assert_eq!(status["state"], "up", "{status}");
    assert_eq!(status["failures"], 0, "{status}");
    assert!(status.get("reason").is_none(), "{status}");

    // Still up and answering.
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "vigil exited"
    );
    let health = server.request("GET", "/healthz").send().expect("healthz");
    assert_eq!(health.status(), 200);

    partial_exporter_is_up_with_a_note(&server, &read, partial);
    only_the_covered_fault_pages(&server, &read);
    removed_checks_lose_their_status(&server, &admin, &ids);
}

/// The good samples are kept, the check is up, and the refused line is
/// counted and named.
fn partial_exporter_is_up_with_a_note(server: &Server, read: &str, id: i64) {
    let status = status_until(server, read, id, |s| s["state"] == "up");
    let note = status["note"].as_str().unwrap_or_default();
    assert!(note.contains("exporter lines refused: 1"), "{status}");
    let good = wait_for("the partial exporter's samples", || {
        server.metrics(read, "fault_test_ok_too{asset=\"exporter-partial\"}", None)
    });
    assert_eq!(good["series"][0]["points"][0][1], 2.0, "{good}");
    let refused = points(
        server,
        read,
        "vigil_scrape_lines_refused{asset=\"exporter-partial\"}",
    );
    assert_eq!(refused.first().map(|p| p[1].clone()), Some(json!(1.0)));
}

/// `service-down` covers tcp, http and dns: the hung web server pages;
/// SNMP and scrape failures are shown in their status, paging nobody.
fn only_the_covered_fault_pages(server: &Server, read: &str) {
    let hosts = |alerts: &Value| -> Vec<String> {
        alerts["alerts"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|a| a["entities"]["host"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let alerts = server.alerts_until(read, &[("team", "noc")], |a| {
        hosts(a).iter().any(|h| h == "web-hang")
    });
    let paged = hosts(&alerts);
    assert_eq!(paged, ["web-hang"], "{alerts}");
    assert_eq!(alerts["alerts"][0]["rule_id"], "service-down", "{alerts}");
}

/// A disabled check shows no status; a deleted one is gone.
fn removed_checks_lose_their_status(server: &Server, admin: &str, ids: &[i64]) {
    let (disabled, deleted) = (ids[4], ids[0]);
    let patched = server
        .request("PATCH", &format!("/api/v1/checks/{disabled}"))
        .bearer_auth(admin)
        .json(&json!({"enabled": false}))
        .send()
        .expect("disable a check");
    assert_eq!(patched.status(), 200);
    status_until(server, admin, disabled, Value::is_null);
    let gone = server
        .request("DELETE", &format!("/api/v1/checks/{deleted}"))
        .bearer_auth(admin)
        .send()
        .expect("delete a check");
    assert_eq!(gone.status(), 204);
    let missing = server
        .get(&format!("/api/v1/checks/{deleted}"), admin)
        .send()
        .expect("show a deleted check");
    assert_eq!(missing.status(), 404);
    // Long after the change is read, the disabled check has still none.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(check(server, admin, disabled)["status"], Value::Null);
}

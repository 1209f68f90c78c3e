//! SSRF: tenant A's checks aimed at Vigil's own host and network — loopback,
//! cloud metadata, Vigil's own listeners, a name that resolves to loopback
//! (DNS rebinding), CR/LF injected into a target — and a tenant the MSP
//! allowed loopback trying to read an internal service through its
//! check's reason. Tenant B works throughout.

use crate::bystander::Bystander;
use crate::common::{wait_for, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the internal services below answer (written out in their answers).
const SECRET: &str = "TOPSECRET-7f3a9c";

/// Creates an asset (once) and posts a check of it; the raw answer.
fn post_check(server: &Server, token: &str, check: Value) -> reqwest::blocking::Response {
    let asset = check["asset"].as_str().unwrap_or("probe").to_string();
    let _ = server
        .post("/api/v1/assets", token)
        .json(&json!({"name": asset, "address": "127.0.0.1"}))
        .send()
        .expect("create asset");
    server
        .post("/api/v1/checks", token)
        .json(&check)
        .send()
        .expect("create check")
}

fn created(server: &Server, token: &str, check: Value) -> i64 {
    let answer = post_check(server, token, check.clone());
    assert_eq!(answer.status(), 201, "{check}");
    let view: Value = answer.json().expect("check json");
    view["id"].as_i64().expect("check id")
}

/// The 400's message for a check that must be refused.
fn refused(server: &Server, token: &str, check: Value) -> String {
    let answer = post_check(server, token, check.clone());
    assert_eq!(answer.status(), 400, "{check}");
    let body: Value = answer.json().expect("a JSON error");
    body["error"]["message"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_string)
}

/// Waits for a check's status to leave "no run yet" and satisfy `ok`.
fn status_until(server: &Server, token: &str, id: i64, ok: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("the status of check {id}"), || {
        let view: Value = server
            .get(&format!("/api/v1/checks/{id}"), token)
            .send()
            .ok()?
            .json()
            .ok()?;
        let status = view["status"].clone();
        (!status.is_null() && ok(&status)).then_some(status)
    })
}

/// A loopback listener that counts the connections it accepts and answers
/// each with `answer` (nothing when empty).
struct Service {
    addr: SocketAddr,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Service {
    fn start(answer: &'static str) -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut request = [0u8; 2048];
                        let _ = stream.read(&mut request);
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Service {
            addr,
            accepted,
            stop,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn internal_targets_are_refused_and_a_name_resolving_to_loopback_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "admin");
    let own = server.addr.port();
    let every = |check: Value| {
        let mut check = check;
        check["asset"] = "probe".into();
        check["interval"] = "1s".into();
        check["timeout"] = "500ms".into();
        check
    };
    // What must be refused is also disabled: were the guard to let one
    // through, it would still never send a packet off this machine.
    let never_run = |check: Value| {
        let mut check = every(check);
        check["enabled"] = false.into();
        check
    };

    // Literals: refused at once, naming the address and the range.
    for (check, says) in [
        (json!({"kind": "tcp", "target": "127.0.0.1:22"}), "target 127.0.0.1 is in a denied network (loopback); the MSP can allow it in the config"),
        (json!({"kind": "tcp", "target": format!("127.0.0.1:{own}")}), "is one of Vigil's own listeners"),
        (json!({"kind": "http", "target": "http://[::1]:8080/"}), "target ::1 is in a denied network (loopback)"),
        (json!({"kind": "http", "target": "http://169.254.169.254/latest/meta-data/"}), "denied network (cloud metadata)"),
        (json!({"kind": "icmp", "target": "169.254.169.254"}), "denied network (cloud metadata)"),
        (json!({"kind": "icmp", "target": "fe80::1"}), "denied network (link-local)"),
        (json!({"kind": "tcp", "target": "[::ffff:127.0.0.1]:22"}), "denied network (loopback)"),
        (json!({"kind": "tcp", "target": "0.0.0.0:22"}), "denied network (unspecified)"),
        (json!({"kind": "dns", "target": "example.org", "server": "127.0.0.53:53"}), "denied network (loopback)"),
        (json!({"kind": "snmp", "target": "127.0.0.1"}), "denied network (loopback)"),
        (json!({"kind": "prometheus", "target": "http://[::ffff:169.254.169.254]/metrics"}), "denied network (cloud metadata)"),
        (json!({"kind": "prometheus", "target": "http://100.100.100.200/latest/meta-data/"}), "denied network (cloud metadata)"),
    ] {
        let message = refused(&server, &alpha, never_run(check.clone()));
        assert!(message.contains(says), "{check}: {message}");
    }

    // Control characters: refused, never sent.
    for check in [
        json!({"kind": "prometheus", "target": "http://192.0.2.1:9100/metrics\r\nX-Injected: 1"}),
        json!({"kind": "prometheus", "target": "http://192.0.2.1:9100/metrics HTTP/1.1\r\n\r\nGET /admin"}),
        json!({"kind": "http", "target": "http://192.0.2.1/\r\nX-Injected: 1"}),
        json!({"kind": "http", "target": "http://192.0.2.1/a\u{85}b"}),
        json!({"kind": "tcp", "target": "db01\u{0}:22"}),
        json!({"kind": "snmp", "target": "db01\n", "community": "public"}),
    ] {
        let message = refused(&server, &alpha, never_run(check.clone()));
        assert!(message.contains("control character"), "{check}: {message}");
    }

    // A name that resolves to loopback: accepted (a name is judged when it
    // is resolved), then down at every run with the policy's reason; the
    // loopback service it names never sees a connection.
    let service = Service::start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let port = service.addr.port();
    let names = [
        json!({"kind": "tcp", "target": format!("localhost:{port}")}),
        json!({"kind": "http", "target": format!("http://localhost:{port}/")}),
        json!({"kind": "prometheus", "target": format!("http://localhost:{port}/metrics")}),
    ];
    let ids: Vec<i64> = names
        .iter()
        .map(|check| created(&server, &alpha, every(check.clone())))
        .collect();
    for id in &ids {
        let status = status_until(&server, &alpha, *id, |s| s["state"] == "down");
        let reason = status["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("is in a denied network (loopback)"),
            "check {id}: {status}"
        );
    }
    // And a second run each, to be sure no later run connects either.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        service.accepted(),
        0,
        "no check reached the loopback service"
    );

    // Changing a check to a denied literal is refused too.
    let patched = server
        .request("PATCH", &format!("/api/v1/checks/{}", ids[0]))
        .bearer_auth(&alpha)
        .json(&json!({"target": format!("127.0.0.1:{own}")}))
        .send()
        .expect("patch");
    assert_eq!(patched.status(), 400);
    let seen = bravo.finish();
    assert!(seen.failures.is_empty(), "{seen:?}");
}

#[test]
fn a_tenant_allowed_loopback_learns_nothing_from_the_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        r#"
[[tenants]]
name = "alpha"
# The MSP lets alpha's checks reach services on Vigil's host.
check_allow_networks = ["127.0.0.0/8", "::1"]
"#,
    );
    let bravo = Bystander::start(&server, "bravo");
    let alpha = server.token("alpha", "admin");
    let every = |check: Value| {
        let mut check = check;
        check["asset"] = "probe".into();
        check["interval"] = "1s".into();
        check["timeout"] = "800ms".into();
        check
    };

    // Vigil's own listener stays denied although loopback is allowed.
    let own = server.addr.port();
    let message = refused(
        &server,
        &alpha,
        every(json!({"kind": "tcp", "target": format!("127.0.0.1:{own}")})),
    );
    assert!(message.contains("Vigil's own listeners"), "{message}");
    let message = refused(
        &server,
        &alpha,
        every(json!({"kind": "http", "target": format!("http://127.0.0.1:{own}/healthz")})),
    );
    assert!(message.contains("Vigil's own listeners"), "{message}");

    // Internal services that answer a secret, in the status line, the
    // headers, the body and a redirect.
    let error = Service::start(
        "HTTP/1.1 500 TOPSECRET-7f3a9c\r\nX-Secret: TOPSECRET-7f3a9c\r\nContent-Length: 16\r\n\r\nTOPSECRET-7f3a9c",
    );
    let page = Service::start(
        "HTTP/1.1 200 OK\r\nContent-Length: 33\r\n\r\nTOPSECRET-7f3a9c TOPSECRET-7f3a9c",
    );
    let redirect = Service::start(
        "HTTP/1.1 302 Found\r\nLocation: ftp://TOPSECRET-7f3a9c/\r\nContent-Length: 0\r\n\r\n",
    );
    let junk = Service::start(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nTOPSECRET-7f3a9c is the password\n{TOPSECRET-7f3a9c}\n",
    );
    let checks = [
        (
            json!({"kind": "http", "target": format!("http://{}/", error.addr)}),
            "HTTP status 500",
        ),
        (
            json!({"kind": "http", "target": format!("http://{}/", page.addr), "expect_text": "TOPSECRET-7f3a9d"}),
            "expected text not found",
        ),
        (
            json!({"kind": "http", "target": format!("http://{}/", redirect.addr), "follow_redirects": 2}),
            "redirect to a bad location",
        ),
        (
            json!({"kind": "prometheus", "target": format!("http://{}/metrics", error.addr)}),
            "answered HTTP status 500",
        ),
        (
            json!({"kind": "prometheus", "target": format!("http://{}/metrics", junk.addr)}),
            "no sample could be parsed",
        ),
    ];
    for (check, says) in checks {
        let id = created(&server, &alpha, every(check.clone()));
        let status = status_until(&server, &alpha, id, |s| s["state"] == "down");
        let reason = status["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(says), "{check}: {status}");
        assert!(
            !status.to_string().contains(SECRET) && !status.to_string().contains("TOPSECRET"),
            "the status quotes the target: {status}"
        );
    }
    assert!(
        error.accepted() > 0 && page.accepted() > 0,
        "the checks ran"
    );
    let seen = bravo.finish();
    assert!(seen.failures.is_empty(), "{seen:?}");
}

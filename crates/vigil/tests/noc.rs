//! The NOC end to end on the real binary: a check from the config runs on
//! schedule against a real TCP listener, its results are queryable
//! metrics, three failures in a row page "service down" (team NOC), and
//! the alert resolves by itself, saying why, when the service is back.

mod common;

use common::Server;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A TCP service the test can stop and start on the same port.
struct Service {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    fn start(addr: SocketAddr) -> Service {
        let listener = TcpListener::bind(addr).expect("bind the service");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Service {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn wait_for(what: &str, mut check: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_service_down_pages_once_and_resolves_by_itself() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let service = Service::start(addr);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[tenants]]
name = "acme"

[[assets]]
tenant = "acme"
name = "app01"
address = "127.0.0.1"

[[checks]]
tenant = "acme"
asset = "app01"
kind = "tcp"
target = "{addr}"
interval = "1s"
timeout = "500ms"
"#
        ),
    )
    .expect("config");
    let server = Server::start_with_config(&dir.path().join("data"), config.to_str().unwrap());
    let read = server.token("acme", "read");

    let up = wait_for("the check's samples", || {
        let r: Value = server
            .get("/api/v1/metrics/query", &read)
            .query(&[
                ("series", "vigil_check_up{asset=\"app01\"}"),
                ("from", "now-5m"),
            ])
            .send()
            .ok()?
            .json()
            .ok()?;
        let points = r["series"][0]["points"].as_array()?;
        (points.len() >= 2).then(|| r.clone())
    });
    assert_eq!(up["series"][0]["labels"]["asset"], "app01", "{up}");
    assert_eq!(up["series"][0]["points"][0][1], 1.0, "{up}");
    assert_eq!(server.alerts(&read, &[("team", "noc")])["total"], 0);

    service.stop();
    let down = server.alerts_until(&read, &[("team", "noc")], |a| a["total"] == 1);
    let alert = &down["alerts"][0];
    assert_eq!(alert["rule_id"], "service-down", "{down}");
    assert_eq!(alert["entities"]["host"], "app01");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["team"], "noc");
    // Still down a while later: the same alert, not a page per failure.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.alerts(&read, &[("team", "noc")])["total"], 1);

    let service = Service::start(addr);
    let resolved = server.alerts_until(&read, &[("team", "noc"), ("status", "resolved")], |a| {
        a["total"] == 1
    });
    let alert = &resolved["alerts"][0];
    assert!(
        alert["resolution"].as_str().is_some_and(|r| !r.is_empty()),
        "it says why: {resolved}"
    );
    assert_eq!(
        server.alerts(&read, &[("team", "noc"), ("status", "open")])["total"],
        0
    );
    service.stop();
}

//! The exposition parser against a real exporter: Debian's
//! prometheus-node-exporter on a loopback port. Every line it serves
//! parses, and a value it reports matches the kernel's own figure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_decode::prometheus::{parse_exposition, MetricKind, ParseLimits};

const BINARY: &str = "/usr/bin/prometheus-node-exporter";

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET /metrics` over plain HTTP/1.0; the body, once the exporter answers.
fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}

#[test]
fn node_exporter_output_parses_and_matches_the_kernel() {
    if !std::path::Path::new(BINARY).exists() {
        assert!(
            std::env::var_os("VIGIL_REQUIRE_PEERS").is_none(),
            "{BINARY} is missing and VIGIL_REQUIRE_PEERS is set"
        );
        eprintln!("SKIPPED: {BINARY} is missing (scripts/test installs prometheus-node-exporter)");
        return;
    }
    let port = free_port();
    let _exporter = Exporter(
        Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node exporter"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        if let Some(body) = scrape(port) {
            break body;
        }
        assert!(Instant::now() < deadline, "node exporter did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    let parsed = parse_exposition(&body, ParseLimits::default());
    assert!(
        parsed.errors.is_empty(),
        "{:?}",
        &parsed.errors[..parsed.errors.len().min(5)]
    );
    assert!(
        parsed.samples.len() > 100,
        "{} samples",
        parsed.samples.len()
    );
    let mem_total = parsed
        .samples
        .iter()
        .find(|s| s.name == "node_memory_MemTotal_bytes")
        .expect("node_memory_MemTotal_bytes");
    assert_eq!(mem_total.kind, MetricKind::Gauge);
    let kernel_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal");
    assert_eq!(mem_total.value, kernel_kib * 1024.0);
    let cpu = parsed
        .samples
        .iter()
        .find(|s| s.name == "node_cpu_seconds_total")
        .expect("node_cpu_seconds_total");
    assert_eq!(cpu.kind, MetricKind::Counter);
    assert!(cpu.labels.iter().any(|(k, _)| k == "mode"));
}

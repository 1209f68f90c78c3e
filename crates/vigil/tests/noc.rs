//! The NOC end to end on the real binary: a check from the config runs on
//! schedule against a real TCP listener, its results are queryable
//! metrics, three failures in a row page "service down" (team NOC) naming
//! the check, the reason, since when and how often, and the alert resolves
//! by itself, saying after how long, when the service is back.

mod common;

use common::peers::{free_tcp_port, free_udp_port, missing_programs, runnable};
use common::{wait_for, KillOnDrop, Server};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

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

#[test]
fn a_service_down_pages_once_and_resolves_by_itself() {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
    let service = Service::start(addr);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

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
    );
    let read = server.token("acme", "read");

    let up = wait_for("the check's samples", || {
        let r = server.metrics(&read, "vigil_check_up{asset=\"app01\"}", None)?;
        (r["series"][0]["points"].as_array()?.len() >= 2).then_some(r)
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
    // The page names the asset, the check's kind and target, what failed,
    // how often, since when, and why.
    assert_eq!(
        alert["rule_title"],
        format!("app01: TCP check {addr} down"),
        "{down}"
    );
    let description = alert["description"].as_str().unwrap_or_default();
    println!("NOC page: {} / {description}", alert["rule_title"]);
    let failing = format!("TCP connect to {addr} failed 3 times in a row since ");
    assert!(
        description.starts_with(&failing)
            && description.contains(" UTC (")
            && description.ends_with(": connection refused"),
        "{down}"
    );
    // Still down a while later: the same alert, not a page per failure.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.alerts(&read, &[("team", "noc")])["total"], 1);

    let service = Service::start(addr);
    let resolved = server.alerts_until(&read, &[("team", "noc"), ("status", "resolved")], |a| {
        a["total"] == 1
    });
    let alert = &resolved["alerts"][0];
    // It says which check is back, after how long, since when and after
    // how many failed runs (at least the three that paged and the ~3 s
    // after).
    let resolution = alert["resolution"].as_str().unwrap_or_default();
    println!("NOC resolution: {resolution}");
    let back = format!("cleared: TCP check {addr} up again after ");
    let runs: u32 = resolution
        .rsplit_once(", ")
        .and_then(|(_, tail)| tail.strip_suffix(" failed runs)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(
        resolution.starts_with(&back) && resolution.contains("(down since ") && runs >= 5,
        "{resolved}"
    );
    assert_eq!(
        server.alerts(&read, &[("team", "noc"), ("status", "open")])["total"],
        0
    );
    service.stop();
}

/// node_exporter scraped by a `prometheus` check: its values land in the
/// metric store, and one of them matches the kernel's own figure.
#[test]
fn node_exporter_is_scraped_into_the_metric_store() {
    const BINARY: &str = "/usr/bin/prometheus-node-exporter";
    let test = "node_exporter_is_scraped_into_the_metric_store";
    if !runnable(test, missing_programs(&["prometheus-node-exporter"])) {
        return;
    }
    let port = free_tcp_port();
    let _exporter = KillOnDrop(
        std::process::Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start node exporter"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "srv1"
address = "127.0.0.1"

[[checks]]
tenant = "acme"
asset = "srv1"
kind = "prometheus"
target = "http://127.0.0.1:{port}/metrics"
interval = "1s"
"#
        ),
    );
    let read = server.token("acme", "read");
    let answer = wait_for("node_exporter's memory total", || {
        server.metrics(&read, "node_memory_MemTotal_bytes{asset=\"srv1\"}", None)
    });
    let kernel_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal");
    assert_eq!(
        answer["series"][0]["points"][0][1].as_f64(),
        Some(kernel_kib * 1024.0),
        "{answer}"
    );
    // A rate needs two scrapes of the counter.
    let rate = wait_for("a rate of the idle CPU counter", || {
        let idle = "rate(node_cpu_seconds_total{asset=\"srv1\",mode=\"idle\"}[1m])";
        server.metrics(&read, idle, Some("1s"))
    });
    let idle = rate["series"][0]["points"][0][1].as_f64().expect("a rate");
    assert!(
        (0.0..=64.0).contains(&idle),
        "idle seconds per second: {idle}"
    );
}

/// A real net-snmp agent polled by `snmp` checks over v2c and over v3
/// authPriv (SHA-256, AES): its uptime and its interfaces land in the
/// metric store, and sysUpTime matches snmpget's over both.
#[test]
fn snmpd_is_polled_into_the_metric_store() {
    const SNMPD: &str = "/usr/sbin/snmpd";
    let test = "snmpd_is_polled_into_the_metric_store";
    if !runnable(test, missing_programs(&["snmpd", "snmpget"])) {
        return;
    }
    let agent_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        agent_dir.path().join("snmpd.conf"),
        "rocommunity vigiltest 127.0.0.1\nsysName vigil-noc-test\n\
         createUser vigilv3 SHA-256 \"v3-auth-secret\" AES \"v3-priv-secret\"\n\
         rouser vigilv3 priv\n",
    )
    .expect("snmpd.conf");
    let port = free_udp_port();
    let persist = agent_dir.path().join("persist");
    let _agent = KillOnDrop(
        std::process::Command::new(SNMPD)
            .env(
                "SNMPCONFPATH",
                format!("{}:{}", agent_dir.path().display(), persist.display()),
            )
            .env("SNMP_PERSISTENT_DIR", &persist)
            .arg("-f")
            .arg("-Lf")
            .arg(agent_dir.path().join("snmpd.log"))
            .arg(format!("udp:127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start snmpd"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "switch1"
address = "127.0.0.1"
kind = "switch"

[[checks]]
tenant = "acme"
asset = "switch1"
kind = "snmp"
target = "127.0.0.1:{port}"
community = "vigiltest"
interval = "1s"
timeout = "900ms"

[[assets]]
tenant = "acme"
name = "switch1-v3"
address = "127.0.0.1"

[[checks]]
tenant = "acme"
asset = "switch1-v3"
kind = "snmp"
target = "127.0.0.1:{port}"
user = "vigilv3"
auth_protocol = "sha256"
auth_password = "v3-auth-secret"
priv_password = "v3-priv-secret"
interval = "1s"
timeout = "900ms"
"#
        ),
    );
    let read = server.token("acme", "read");
    let series = |expr: &str| server.metrics(&read, expr, None);
    // Over v2c and over SNMPv3 authPriv (SHA-256, AES), Vigil's sysUpTime
    // is snmpget's (read after ours, so at most a little ahead).
    let agent = format!("127.0.0.1:{port}");
    let v2c: &[&str] = &["-v2c", "-c", "vigiltest"];
    let v3: &[&str] = &[
        "-v3",
        "-l",
        "authPriv",
        "-u",
        "vigilv3",
        "-a",
        "SHA-256",
        "-A",
        "v3-auth-secret",
        "-x",
        "AES",
        "-X",
        "v3-priv-secret",
    ];
    for (asset, security) in [("switch1", v2c), ("switch1-v3", v3)] {
        let uptime = wait_for("the agent's uptime", || {
            series(&format!("vigil_uptime_seconds{{asset=\"{asset}\"}}"))
        });
        let ours = uptime["series"][0]["points"]
            .as_array()
            .and_then(|p| p.last())
            .and_then(|p| p[1].as_f64())
            .expect("an uptime");
        let theirs = snmpget_uptime(&agent, security);
        assert!(
            ours <= theirs && theirs - ours < 30.0,
            "{asset}: sysUpTime ours {ours} s, snmpget's {theirs} s"
        );
    }
    let lo = wait_for("the loopback interface", || {
        series("ifOperStatus{asset=\"switch1\",ifName=\"lo\"}")
    });
    assert_eq!(lo["series"][0]["points"][0][1], 1.0, "lo is up: {lo}");
    let admin = wait_for("lo's admin status", || {
        series("ifAdminStatus{asset=\"switch1\",ifName=\"lo\"}")
    });
    assert_eq!(
        admin["series"][0]["points"][0][1], 1.0,
        "lo is enabled: {admin}"
    );
    wait_for("a traffic rate", || {
        series("vigil_if_in_bps{asset=\"switch1\",ifName=\"lo\"}")
    });
}

/// sysUpTime.0 in seconds, as net-snmp's `snmpget` reads it.
fn snmpget_uptime(agent: &str, security: &[&str]) -> f64 {
    let out = std::process::Command::new("snmpget")
        .args(security)
        .args(["-Ovqt", agent, "1.3.6.1.2.1.1.3.0"])
        .output()
        .expect("snmpget");
    let ticks: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("snmpget's ticks: {}", String::from_utf8_lossy(&out.stderr)));
    ticks / 100.0
}

/// `snmptrap` (net-snmp) sends a linkDown to a trap listener: it becomes a
/// searchable event of the listener's tenant, with its varbinds.
#[test]
fn snmp_traps_become_events() {
    if !runnable("snmp_traps_become_events", missing_programs(&["snmptrap"])) {
        return;
    }
    let port = free_udp_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[inputs.snmp_traps]]
listen = "127.0.0.1:{port}"
tenant = "acme"
communities = ["public"]
"#
        ),
    );
    let read = server.token("acme", "read");
    let status = std::process::Command::new("snmptrap")
        .args(["-v", "2c", "-c", "public"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"])
        .status()
        .expect("run snmptrap");
    assert!(status.success());
    let found = server.search_until(&read, "event.action:linkDown", 1);
    assert_eq!(found["total"], 1, "{found}");
    let event = &found["events"][0]["event"];
    assert_eq!(event["snmp.varbinds.1.3.6.1.2.1.2.2.1.1.2"], 2, "{event}");
    assert_eq!(event["source.ip"], "127.0.0.1");
    // A wrong community is not an event.
    let _ = std::process::Command::new("snmptrap")
        .args(["-v", "2c", "-c", "guess"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["", "1.3.6.1.6.3.1.1.5.4"])
        .status();
    // Then a good one: once it is in, the bad one would be too.
    let _ = std::process::Command::new("snmptrap")
        .args(["-v", "2c", "-c", "public"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["", "1.3.6.1.6.3.1.1.5.1"])
        .status();
    server.search_until(&read, "event.action:coldStart", 1);
    assert_eq!(server.search(&read, "event.action:linkUp")["total"], 0);
}

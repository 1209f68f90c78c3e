//! The command line: `vigil config check`, `vigil version`.

use std::process::Command;

fn vigil(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_SERVER_LISTEN")
        .output()
        .expect("run vigil");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn config_check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9000\"\n[[tenants]]\nname = \"acme\"\n",
    )
    .unwrap();
    let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok (1 tenant(s), listen 127.0.0.1:9000"),
        "{text}"
    );
}

#[test]
fn config_check_names_the_bad_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9000\"\n\n[ingest]\nmax_lines = 3\n",
    )
    .unwrap();
    let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        text.contains("line 5") && text.contains("max_lines"),
        "{text}"
    );
    let (ok, text) = vigil(&["config", "check", "/nonexistent/vigil.toml"]);
    assert!(!ok);
    assert!(text.contains("cannot read config file"), "{text}");
}

/// A config with one problem of each class the server would refuse or
/// misroute; `config check` names them all, `serve` refuses the file.
const MANY_PROBLEMS: &str = r#"[server]
listen = "127.0.0.1:0"

[ingest]
max_lines = 3

[detection]
rule_paths = ["/nonexistent/vigil-rules"]

[[tenants]]
name = "acme"

[[inputs.syslog]]
protocol = "udp"
listen = "127.0.0.1:0"
tenant = "acmee"

[[assets]]
tenant = "beta"
name = "fw1"
address = "192.0.2.1"

[[checks]]
tenant = "acme"
asset = "web1"
kind = "http"
target = "http://192.0.2.10/"
expect_staus = 200

[[checks]]
tenant = "acme"
asset = "db1"
kind = "tcp"
target = "192.0.2.20"
port = 99999
"#;

#[test]
fn config_check_finds_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(&file, MANY_PROBLEMS).unwrap();
    let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
    assert!(!ok, "{text}");
    let path = file.display().to_string();
    let expected = [
        format!("{path} line 5: ingest.max_lines: unknown field `max_lines`"),
        format!("{path} line 16: inputs.syslog[0].tenant: tenant \"acmee\" is not declared in [[tenants]] (every message of this listener would go to quarantine)"),
        format!("{path} line 19: assets[0].tenant: tenant \"beta\" is not declared in [[tenants]]"),
        format!("{path} line 28: checks[0]: expect_staus: unknown field `expect_staus` of a http check, expected one of"),
        format!("{path} line 35: checks[1]: port: 99999 is not a port (1–65535)"),
        format!("{path} line 8: detection.rule_paths[0]: cannot read /nonexistent/vigil-rules"),
    ];
    for line in &expected {
        assert!(
            text.lines().any(|l| l.starts_with(line.as_str())),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(text.contains("6 problem(s) found"), "{text}");
    println!("config check found {} problems", expected.len());
}

#[test]
fn serve_refuses_what_config_check_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    let data = dir.path().join("data");
    // Everything but the missing rule folder refuses as the file is read.
    std::fs::write(&file, MANY_PROBLEMS).unwrap();
    let serve = |file: &std::path::Path| {
        vigil(&[
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
    };
    let (ok, text) = serve(&file);
    assert!(!ok, "{text}");
    for named in [
        "ingest.max_lines",
        "inputs.syslog[0].tenant",
        "assets[0].tenant",
        "checks[0]: expect_staus",
        "checks[1]: port",
    ] {
        assert!(text.contains(named), "{named} in:\n{text}");
    }
    // The folder alone: refused before anything starts.
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:0\"\n[detection]\nrule_paths = [\"/nonexistent/vigil-rules\"]\n",
    )
    .unwrap();
    let (ok, text) = serve(&file);
    assert!(!ok, "{text}");
    assert!(
        text.contains("detection.rule_paths[0]: cannot read /nonexistent/vigil-rules"),
        "{text}"
    );
    assert!(!data.exists(), "nothing started");
}

#[test]
fn version_prints_the_version() {
    let (ok, text) = vigil(&["version"]);
    assert!(ok);
    assert_eq!(text.trim(), format!("vigil {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn rules_check_names_what_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yml"),
        "title: good\ndetection:\n  sel:\n    Image|endswith: '\\\\x.exe'\n  condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: bad\ndetection:\n  sel:\n    A|nosuch: x\n  condition: sel\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let (ok, text) = vigil(&["rules", "check", path]);
    assert!(ok, "{text}");
    assert!(
        text.contains("bad.yml:1: rule bad:") && text.contains("unknown modifier `nosuch`"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("compiled 1 of 2 rules"), "{text}");
    let (ok, _) = vigil(&["rules", "check", "--strict", path]);
    assert!(!ok, "--strict fails when a rule cannot run");
    let (ok, text) = vigil(&["rules", "check", "/nonexistent/rules"]);
    assert!(
        !ok && text.contains("cannot read /nonexistent/rules"),
        "{text}"
    );
}

/// SigmaHQ's regression data (`$VIGIL_CORPORA/sigma`): every named rule
/// fires on its events (the EVTX files themselves).
#[test]
fn sigmahq_regression_data_passes() {
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA") else {
        eprintln!("VIGIL_CORPORA is not set: skipped");
        return;
    };
    let sigma = std::path::Path::new(&corpora).join("sigma");
    let rules = sigma.join("rules");
    let data = sigma.join("regression_data/rules");
    let (ok, text) = vigil(&[
        "rules",
        "test",
        "--rules",
        rules.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    let last = text.lines().last().unwrap_or_default().to_string();
    eprintln!("{last}");
    assert!(
        ok,
        "{}",
        text.lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(last, "passed 193 of 193");
}

#[test]
fn expand_placeholders_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("admins.yml");
    std::fs::write(
        &rule,
        "title: admin logon\ndetection:\n  sel:\n    TargetUserName|expand: '%admins%'\n  condition: sel\n",
    )
    .unwrap();
    let rule = rule.to_str().unwrap();
    let (_, text) = vigil(&["rules", "check", rule]);
    assert!(
        text.contains("compiled 0 of 1 rules") && text.contains("placeholder"),
        "{text}"
    );
    let values = dir.path().join("placeholders.yml");
    std::fs::write(&values, "admins:\n  - alice\n  - bob\n").unwrap();
    let (ok, text) = vigil(&[
        "rules",
        "check",
        "--placeholders",
        values.to_str().unwrap(),
        rule,
    ]);
    assert!(ok && text.contains("compiled 1 of 1 rules"), "{text}");
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        "{\"TargetUserName\":\"Bob\"}\n{\"TargetUserName\":\"eve\"}\n",
    )
    .unwrap();
    let (ok, text) = vigil(&[
        "hunt",
        "--jsonl",
        "--rules",
        rule,
        "--placeholders",
        values.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let hits: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(hits.len(), 1, "{text}");
    assert!(hits[0].contains("Bob"), "{text}");
}

#[test]
fn filters_suppress_what_they_match_for_the_rules_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("whoami.yml"),
        "title: whoami\nid: e28a5a99-da44-436d-b7a0-2afc20a5f413\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("mf_admins.yml"),
        "title: admins are fine\nlogsource: {}\nfilter:\n  rules:\n    - e28a5a99-da44-436d-b7a0-2afc20a5f413\n    - no-such-rule\n  selection:\n    User|startswith: adm_\n  condition: selection\n",
    )
    .unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        "{\"Image\":\"C:\\\\w\\\\whoami.exe\",\"User\":\"adm_joe\"}\n{\"Image\":\"C:\\\\w\\\\whoami.exe\",\"User\":\"eve\"}\n",
    )
    .unwrap();
    let (ok, text) = vigil(&[
        "hunt",
        "--jsonl",
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let hits: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(hits.len(), 1, "{text}");
    assert!(hits[0].contains("eve"), "{text}");
    assert!(
        text.contains("no-such-rule"),
        "an unknown rule in a filter is reported: {text}"
    );
    let (ok, text) = vigil(&["rules", "check", rules.to_str().unwrap()]);
    assert!(
        ok && text.contains("loaded 1 filter(s)") && text.contains("compiled 1 of 1 rules"),
        "{text}"
    );
}

#[test]
fn correlations_run_in_hunts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "title: failed logon\nid: 11111111-1111-4111-8111-111111111111\nname: failed_logon\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n---\ntitle: brute force\nlevel: high\ncorrelation:\n  type: event_count\n  rules:\n    - failed_logon\n  group-by:\n    - TargetUserName\n  timespan: 5m\n  condition:\n    gte: 3\n",
    )
    .unwrap();
    let events = dir.path().join("events.ndjson");
    let lines: String = [
        ("bob", "12:00:00"),
        ("eve", "12:00:10"),
        ("bob", "12:01:00"),
        ("eve", "12:09:00"),
        ("bob", "12:04:59"),
        ("eve", "12:20:00"),
    ]
    .iter()
    .map(|(user, time)| {
        format!("{{\"EventID\":4625,\"TargetUserName\":\"{user}\",\"@timestamp\":\"2024-05-01T{time}Z\"}}\n")
    })
    .collect();
    std::fs::write(&events, lines).unwrap();
    let (ok, text) = vigil(&[
        "hunt",
        "--jsonl",
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let hits: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(
        hits.len(),
        1,
        "one brute force (bob), the base hits kept quiet: {text}"
    );
    assert!(
        hits[0].contains("brute force") && hits[0].contains("bob"),
        "{text}"
    );
    let (ok, text) = vigil(&["rules", "check", rules.to_str().unwrap()]);
    assert!(
        ok && text.contains("loaded 1 correlation rule(s)"),
        "{text}"
    );
}

#[test]
fn config_check_refuses_absurd_check_values_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    let check = |extra: &str| {
        format!(
            "[[tenants]]\nname = \"acme\"\n[[assets]]\ntenant = \"acme\"\nname = \"sw1\"\naddress = \"192.0.2.1\"\n\
             [[checks]]\ntenant = \"acme\"\nasset = \"sw1\"\n{extra}\n"
        )
    };
    let cases = [
        (
            "kind = \"prometheus\"\ntarget = \"http://192.0.2.1:9100/metrics\"\ninterval = \"18446744073709551615s\"",
            "interval: \"18446744073709551615s\" is over the maximum of 24h",
        ),
        (
            "kind = \"snmp\"\ntarget = \"192.0.2.1\"\ntimeout = \"10m\"",
            "timeout:",
        ),
        (
            "kind = \"http\"\ntarget = \"https://192.0.2.1/\"\nca_file = \"/dev/urandom\"",
            "not a regular file",
        ),
    ];
    for (extra, want) in cases {
        std::fs::write(&file, check(extra)).unwrap();
        let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
        assert!(!ok, "{extra}: {text}");
        assert!(text.contains(want), "{extra}: {text}");
    }
}

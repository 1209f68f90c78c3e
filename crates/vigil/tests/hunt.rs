//! `vigil hunt`: Sigma rules over log files, run through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn hunt(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("hunt")
        .args(args)
        .output()
        .expect("run vigil");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

const RULES: &str = r#"title: Whoami, "recon"
id: 11111111-1111-1111-1111-111111111111
status: test
level: high
tags:
  - attack.discovery
  - attack.t1033
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|endswith: '\whoami.exe'
  condition: selection
---
title: Security log cleared
id: 22222222-2222-2222-2222-222222222222
status: stable
level: medium
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 1102
  condition: selection
---
title: Authentication failure
id: 33333333-3333-3333-3333-333333333333
status: experimental
level: low
logsource:
  category: syslog_lines
detection:
  keywords:
    - 'authentication failure'
  condition: keywords
---
title: Any authentication failure line
id: 44444444-4444-4444-4444-444444444444
status: experimental
level: informational
detection:
  keywords:
    - 'authentication failure'
  condition: keywords
"#;

fn flat(id: u32, channel: &str, computer: &str, time: &str, image: &str) -> String {
    serde_json::json!({
        "EventID": id,
        "Channel": channel,
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": computer,
        "TimeCreated": time,
        "Image": image,
    })
    .to_string()
}

/// A rule file and NDJSON files of Windows events (flat shape).
fn fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let logs = dir.join("logs");
    std::fs::create_dir_all(logs.join("b")).unwrap();
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    let a = [
        flat(
            1,
            sysmon,
            "ws1",
            "2024-01-01T10:00:00Z",
            r"C:\Windows\System32\whoami.exe",
        ),
        flat(
            1,
            sysmon,
            "ws1",
            "2024-01-01T10:01:00Z",
            r"C:\Windows\System32\cmd.exe",
        ),
        flat(1102, "Security", "dc1", "2024-01-01T10:02:00Z", ""),
        flat(
            1,
            sysmon,
            "ws2",
            "2024-01-01T10:03:00Z",
            r"C:\Windows\System32\WHOAMI.EXE",
        ),
    ];
    std::fs::write(logs.join("a.ndjson"), a.join("\n") + "\n").unwrap();
    // Many events in several files, so the threads share the work.
    for file in 0..6 {
        let mut lines = Vec::new();
        for i in 0..200 {
            let image = if i % 37 == file {
                r"C:\Windows\System32\whoami.exe"
            } else {
                r"C:\Windows\explorer.exe"
            };
            let time = format!("2024-01-02T00:{:02}:{:02}Z", file, i % 60);
            lines.push(flat(1, sysmon, &format!("host{file}"), &time, image));
        }
        std::fs::write(
            logs.join("b").join(format!("{file}.jsonl")),
            lines.join("\n") + "\n",
        )
        .unwrap();
    }
    (rules, logs)
}

fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn jsonl_hits_of_windows_events() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, logs) = fixture(dir.path());
    let a = logs.join("a.ndjson");
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--jsonl",
        a.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let hits = jsonl(&run.stdout);
    let summary: Vec<(String, String, String)> = hits
        .iter()
        .map(|h| {
            (
                h["time"].as_str().unwrap().to_string(),
                h["computer"].as_str().unwrap().to_string(),
                h["rule_id"].as_str().unwrap()[..8].to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "2024-01-01T10:00:00Z".into(),
                "ws1".into(),
                "11111111".into()
            ),
            (
                "2024-01-01T10:02:00Z".into(),
                "dc1".into(),
                "22222222".into()
            ),
            (
                "2024-01-01T10:03:00Z".into(),
                "ws2".into(),
                "11111111".into()
            ),
        ]
    );
    let first = &hits[0];
    assert_eq!(first["title"], "Whoami, \"recon\"");
    assert_eq!(first["level"], "high");
    assert_eq!(
        first["tags"],
        serde_json::json!(["attack.discovery", "attack.t1033"])
    );
    assert_eq!(first["event"]["Computer"], "ws1");
    // Where each hit came from: the file and its line.
    let sources: Vec<(&str, u64)> = hits
        .iter()
        .map(|h| (h["file"].as_str().unwrap(), h["record"].as_u64().unwrap()))
        .collect();
    let a = a.to_str().unwrap();
    assert_eq!(sources, vec![(a, 1), (a, 3), (a, 4)]);
    assert!(
        run.stderr.contains("hunt: 1 files, 4 events"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rules: 4 loaded, 0 not runnable"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hits: 3 (critical 0, high 2, medium 1, low 0, informational 0)"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_thread_or_many_give_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, logs) = fixture(dir.path());
    let args = |threads: &'static str, format: &'static str| {
        hunt(&[
            "--rules",
            rules.to_str().unwrap(),
            format,
            "--threads",
            threads,
            logs.to_str().unwrap(),
        ])
    };
    for format in ["--jsonl", "--csv"] {
        let one = args("1", format);
        let four = args("4", format);
        assert!(one.ok && four.ok, "{}{}", one.stderr, four.stderr);
        assert_eq!(one.stdout, four.stdout);
        assert!(one.stdout.lines().count() > 20, "{}", one.stdout);
    }
    // File order, then record order: a.ndjson before b/0.jsonl ...
    let hits = jsonl(&args("4", "--jsonl").stdout);
    let hosts: Vec<&str> = hits
        .iter()
        .map(|h| h["computer"].as_str().unwrap())
        .collect();
    let mut sorted = hosts.clone();
    sorted.sort_by_key(|h| match *h {
        "ws1" | "dc1" | "ws2" => "",
        other => other,
    });
    assert_eq!(hosts[..3], ["ws1", "dc1", "ws2"]);
    assert_eq!(hosts, sorted);
    let run = args("2", "--jsonl");
    assert!(
        run.stderr.contains("hunt: 7 files, 1204 events"),
        "{}",
        run.stderr
    );
}

#[test]
fn keyword_rules_over_a_syslog_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, _) = fixture(dir.path());
    let syslog = dir.path().join("auth.log");
    std::fs::write(
        &syslog,
        "Jan  1 10:00:00 web1 sshd[42]: Accepted password for bob\n\
         Jan  1 10:00:05 web1 su: pam_unix(su:auth): authentication failure; logname=bob\n\
         \n\
         Jan  1 10:00:09 web1 CRON[7]: session opened\n",
    )
    .unwrap();
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--jsonl",
        syslog.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let hits = jsonl(&run.stdout);
    // Text lines have no log source: only the rule that names none fires.
    assert_eq!(hits.len(), 1, "{}", run.stdout);
    assert_eq!(hits[0]["rule_id"], "44444444-4444-4444-4444-444444444444");
    assert!(hits[0]["event"]["message"]
        .as_str()
        .unwrap()
        .contains("authentication failure; logname=bob"));
    assert!(
        run.stderr.contains("hunt: 1 files, 3 events"),
        "{}",
        run.stderr
    );
}

#[test]
fn csv_has_a_header_and_quotes_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, logs) = fixture(dir.path());
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--csv",
        logs.join("a.ndjson").to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let a = logs.join("a.ndjson");
    let a = a.to_str().unwrap();
    assert_eq!(
        lines[0],
        "time,computer,rule_id,title,level,tags,file,record"
    );
    assert_eq!(
        lines[1],
        format!("2024-01-01T10:00:00Z,ws1,11111111-1111-1111-1111-111111111111,\"Whoami, \"\"recon\"\"\",high,attack.discovery;attack.t1033,{a},1")
    );
    assert_eq!(
        lines[2],
        format!("2024-01-01T10:02:00Z,dc1,22222222-2222-2222-2222-222222222222,Security log cleared,medium,,{a},3")
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn filters_table_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, logs) = fixture(dir.path());
    let a = logs.join("a.ndjson");
    let (rules, a) = (rules.to_str().unwrap(), a.to_str().unwrap());
    // Not a terminal: the table, without colours.
    let run = hunt(&["--rules", rules, a]);
    assert!(run.ok, "{}", run.stderr);
    assert!(!run.stdout.contains('\x1b'), "{}", run.stdout);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert!(rows[0].starts_with("LEVEL"), "{}", run.stdout);
    assert!(
        rows[1].starts_with("high") && rows[1].contains("ws1, ws2"),
        "{}",
        run.stdout
    );
    assert!(rows[0].ends_with("FIRST HIT AT"), "{}", run.stdout);
    assert!(rows[1].ends_with(&format!("{a}:1")), "{}", run.stdout);
    assert!(rows[2].ends_with(&format!("{a}:3")), "{}", run.stdout);
    assert!(rows[1].contains("2024-01-01 10:00:00") && rows[1].contains("2024-01-01 10:03:00"));
    assert!(rows[2].starts_with("medium"), "{}", run.stdout);

    let run = hunt(&["--rules", rules, "--min-level", "high", "--csv", a]);
    assert!(run.stderr.contains("rules: 1 loaded"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 3);
    let run = hunt(&["--rules", rules, "--status", "stable", "--csv", a]);
    assert!(run.stderr.contains("rules: 1 loaded"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);

    let run = hunt(&[a]);
    assert!(!run.ok);
    assert!(run.stderr.contains("--rules"), "{}", run.stderr);
    let run = hunt(&["--rules", rules, "/nonexistent/logs"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("cannot read /nonexistent/logs"),
        "{}",
        run.stderr
    );
    let run = hunt(&["--rules", rules, "--min-level", "severe", a]);
    assert!(!run.ok);
}

const PROCESS_CREATION: &str = r#"title: Any process creation
id: 55555555-5555-5555-5555-555555555555
level: low
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    EventID: 1
  condition: selection
"#;

/// A real EVTX of the corpora (Sysmon, 15 chunks), or `None` (with a
/// message) when VIGIL_CORPORA is not set.
fn corpus_evtx() -> Option<PathBuf> {
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA") else {
        eprintln!("skipped: set VIGIL_CORPORA to the corpora folder (shared/corpora)");
        return None;
    };
    Some(PathBuf::from(corpora).join(
        "evtx/EVTX-ATTACK-SAMPLES/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
    ))
}

fn csv_hits(stdout: &str) -> usize {
    stdout.lines().count() - 1
}

#[test]
fn a_truncated_evtx_warns_and_still_hunts_its_intact_part() {
    let Some(original) = corpus_evtx() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, PROCESS_CREATION).unwrap();
    let bytes = std::fs::read(&original).unwrap();
    let half = dir.path().join("half.evtx");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "nothing here\n").unwrap();

    let full = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--csv",
        original.to_str().unwrap(),
    ]);
    assert!(full.ok, "{}", full.stderr);
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--csv",
        dir.path().to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let warning = format!("warning: {}: chunk 8: truncated", half.display());
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    // The intact part still hunts, and the other file is read too.
    let (all, some) = (csv_hits(&full.stdout), csv_hits(&run.stdout));
    assert!(some > 100 && some < all, "{some} of {all}");
    assert!(
        run.stderr.contains("hunt: 3 files") && run.stderr.contains("2 skipped"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("skipped: {} (not a log", text.display())),
        "{}",
        run.stderr
    );
}

#[test]
fn a_corrupt_evtx_chunk_is_named_and_skipped() {
    let Some(original) = corpus_evtx() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, PROCESS_CREATION).unwrap();
    let mut bytes = std::fs::read(&original).unwrap();
    // Chunk 2's magic (after the 4 KiB file header, 64 KiB a chunk).
    let at = 4096 + 2 * 65536;
    bytes[at..at + 8].copy_from_slice(b"XXXXXXXX");
    let bad = dir.path().join("bad.evtx");
    std::fs::write(&bad, &bytes).unwrap();
    let full = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--csv",
        original.to_str().unwrap(),
    ]);
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--csv",
        bad.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let warning = format!("warning: {}: chunk 2: ", bad.display());
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    let (all, some) = (csv_hits(&full.stdout), csv_hits(&run.stdout));
    assert!(some > 100 && some < all, "{some} of {all}");
}

#[test]
fn binary_files_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: any\ndetection:\n  keywords:\n    - 'x'\n  condition: keywords\n",
    )
    .unwrap();
    let blob = dir.path().join("capture.pcap");
    std::fs::write(
        &blob,
        [0xd4u8, 0xc3, 0xb2, 0xa1, 0, 0, b'x', b'\n', 0, 1, 2],
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["hunt", "--jsonl", "--rules"])
        .arg(&rule)
        .arg(&blob)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "no hits from a binary file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "skipped: {} (binary, neither EVTX nor text)",
            blob.display()
        )),
        "{stderr}"
    );
    // It was the only input: nothing could be read.
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no input could be read"), "{stderr}");
}

#[test]
fn a_folder_is_read_by_content_and_prose_is_skipped_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, _) = fixture(dir.path());
    let logs = dir.path().join("mixed");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("README.md"),
        "# Logs of web1\n\nCollected for the authentication failure review.\nAsk the SOC.\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("LICENSE"),
        "MIT License\n\nCopyright (c) 2024 Example\n\nauthentication failure is not a log here\n",
    )
    .unwrap();
    // A log without an extension, and NDJSON named .log.
    std::fs::write(
        logs.join("messages"),
        "Jan  1 10:00:00 web1 sshd[42]: Accepted password for bob\n\
         Jan  1 10:00:05 web1 su: pam_unix(su:auth): authentication failure; logname=bob\n",
    )
    .unwrap();
    std::fs::write(
        logs.join("app.log"),
        "{\"msg\": \"ok\"}\n{\"msg\": \"authentication failure for eve\"}\n",
    )
    .unwrap();
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--jsonl",
        logs.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let hits = jsonl(&run.stdout);
    let sources: Vec<(String, u64)> = hits
        .iter()
        .map(|h| {
            let file = h["file"].as_str().unwrap();
            let name = file.rsplit('/').next().unwrap().to_string();
            (name, h["record"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        sources,
        vec![("app.log".to_string(), 2), ("messages".to_string(), 2)],
        "{}",
        run.stdout
    );
    for name in ["LICENSE", "README.md"] {
        let line = format!("skipped: {} (not a log", logs.join(name).display());
        assert!(run.stderr.contains(&line), "{}", run.stderr);
    }
    assert!(
        run.stderr.contains("hunt: 4 files, 4 events, 2 skipped"),
        "{}",
        run.stderr
    );
    // Loading and matching are timed apart.
    assert!(
        run.stderr.contains("rules loaded in") && run.stderr.contains("events read and matched in"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_readable_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, _) = fixture(dir.path());
    let rules = rules.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = hunt(&["--rules", rules, empty.to_str().unwrap()]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("no input could be read (0 file(s)"),
        "{}",
        run.stderr
    );
    // A damaged EVTX only: unreadable.
    let bad = dir.path().join("bad.evtx");
    std::fs::write(&bad, b"not an event log at all").unwrap();
    let run = hunt(&["--rules", rules, bad.to_str().unwrap()]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("1 unreadable") && run.stderr.contains("no input could be read"),
        "{}",
        run.stderr
    );
    // One good file beside it is enough.
    let good = dir.path().join("auth.log");
    std::fs::write(&good, "Jan  1 10:00:05 web1 su: authentication failure\n").unwrap();
    let run = hunt(&[
        "--rules",
        rules,
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
}

#[test]
fn evtx_hits_name_their_record_number() {
    let Some(original) = corpus_evtx() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, PROCESS_CREATION).unwrap();
    let run = hunt(&[
        "--rules",
        rules.to_str().unwrap(),
        "--jsonl",
        original.to_str().unwrap(),
    ]);
    assert!(run.ok, "{}", run.stderr);
    let hits = jsonl(&run.stdout);
    assert!(hits.len() > 100, "{}", hits.len());
    for hit in &hits {
        assert_eq!(hit["file"].as_str(), original.to_str());
        // The record number is the event's own EventRecordID.
        let record = hit["record"].as_u64().expect("a record number");
        let own = &hit["event"]["EventRecordID"];
        let own = own
            .as_u64()
            .or_else(|| own.as_str().and_then(|s| s.parse().ok()));
        if let Some(own) = own {
            assert_eq!(record, own);
        }
    }
    let records: Vec<u64> = hits.iter().map(|h| h["record"].as_u64().unwrap()).collect();
    println!(
        "evtx hits: {}, records {}..{}",
        records.len(),
        records[0],
        records[records.len() - 1]
    );
}

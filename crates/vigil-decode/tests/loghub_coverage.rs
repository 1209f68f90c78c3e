//! Coverage of the Linux decoders over loghub's OpenSSH and Linux samples.
//!
//! A line counts as covered when it decodes and every parameter loghub
//! found in it (the `<*>` of its EventTemplate, matched against Content) is
//! found among the decoded field values: equal to one, or part of one (loghub
//! splits some values, e.g. a date `Fri Jun 17 07:07:00 2005` into
//! `Fri Jun 17 07`, `07`, `00 2005`), or, for a parameter that spans several
//! values (`42393 ssh2`), each of its words part of one. Needs `VIGIL_CORPORA`; skipped without.

mod loghub;
use loghub::{csv_fields, parameters};

use vigil_decode::linux;

use serde_json::Value;
use std::path::Path;

/// `Dec 10 06:55:46 LabSZ sshd[24200]: message` -> (`sshd[24200]`, `message`).
fn split_syslog(line: &str) -> Option<(&str, &str)> {
    let mut rest = line;
    // Month, day, time, host: four fields separated by runs of spaces.
    for _ in 0..4 {
        rest = rest.trim_start();
        let end = rest.find(' ')?;
        rest = &rest[end..];
    }
    let (app, message) = rest.trim_start().split_once(": ")?;
    Some((app, message))
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Coverage {
    lines: usize,
    covered: usize,
    misses: Vec<String>,
}

fn coverage(log: &Path) -> Coverage {
    let text = std::fs::read_to_string(log).unwrap();
    let csv_path = log.with_file_name(format!(
        "{}_structured.csv",
        log.file_name().unwrap().to_str().unwrap()
    ));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut rows = csv.lines();
    let header = csv_fields(rows.next().unwrap());
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (content_col, template_col) = (column("Content"), column("EventTemplate"));
    let rows: Vec<Vec<String>> = rows.map(csv_fields).collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), lines.len(), "{}", csv_path.display());

    let mut result = Coverage {
        lines: lines.len(),
        covered: 0,
        misses: Vec::new(),
    };
    for (line, row) in lines.iter().zip(&rows) {
        let template = row[template_col].trim();
        let content = row[content_col].trim();
        let params = parameters(template, content)
            .unwrap_or_else(|| panic!("template {template:?} does not match {content:?}"));
        let decoded =
            split_syslog(line).and_then(|(app, message)| linux::decode_linux(app, message));
        let Some(decoded) = decoded else {
            result.misses.push(format!("undecoded: {line}"));
            continue;
        };
        let values: Vec<String> = decoded.fields.values().map(value_text).collect();
        let missing: Vec<&String> = params
            .iter()
            .filter(|p| {
                // A `<*>` may span several values (`42393 ssh2`): each word must be found.
                let found = |p: &str| values.iter().any(|v| v.contains(p));
                let p = p.trim();
                !p.is_empty() && !found(p) && !p.split_whitespace().all(found)
            })
            .collect();
        if missing.is_empty() {
            result.covered += 1;
        } else {
            result.misses.push(format!(
                "missing {missing:?}: {line} -> {:?}",
                decoded.fields
            ));
        }
    }
    result
}

#[test]
fn loghub_linux_and_openssh_coverage() {
    let Ok(corpora) = std::env::var("VIGIL_CORPORA") else {
        eprintln!("VIGIL_CORPORA is not set: loghub coverage skipped");
        return;
    };
    let root = Path::new(&corpora).join("loghub");
    for log in ["OpenSSH/OpenSSH_2k.log", "Linux/Linux_2k.log"] {
        let path = root.join(log);
        if !path.exists() {
            eprintln!("{} missing: skipped", path.display());
            continue;
        }
        let c = coverage(&path);
        let percent = 100.0 * c.covered as f64 / c.lines as f64;
        println!(
            "{log}: {}/{} lines covered ({percent:.1}%)",
            c.covered, c.lines
        );
        for miss in c.misses.iter().take(15) {
            println!("  {miss}");
        }
        assert!(percent >= 95.0, "{log}: {percent:.1}% < 95%");
    }
}

#[test]
fn split_syslog_lines() {
    assert_eq!(
        split_syslog("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user a from b"),
        Some(("sshd[24200]", "Invalid user a from b"))
    );
    assert_eq!(
        split_syslog("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2"),
        Some(("-- root[2421]", "ROOT LOGIN ON tty2"))
    );
    assert_eq!(
        split_syslog("Jun 19 04:09:11 combo syslogd 1.4.1: restart."),
        Some(("syslogd 1.4.1", "restart."))
    );
}

//! The condition grammar against the SigmaHQ rule corpus, when
//! `VIGIL_CORPORA` names it (`$VIGIL_CORPORA/sigma/rules`): every rule's
//! `detection.condition` parses and expands against the rule's own search
//! identifiers.

use std::path::{Path, PathBuf};

use vigil_sigma::condition::{parse_condition, parse_conditions, Condition, ConditionError};

/// Real rules that fail for good reasons: (file name, reason). None so far.
const KNOWN_BAD: &[(&str, &str)] = &[];

/// A rule's parsed condition and its search identifiers.
type RuleCondition = (Result<Condition, ConditionError>, Vec<String>);

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
}

/// The rule's condition and search identifiers (detection keys other than
/// `condition` and the legacy `timeframe`), from its first YAML document;
/// `None` when that document has no `detection.condition`.
fn rule_condition(text: &str) -> Result<Option<RuleCondition>, String> {
    let first = text.split("\n---\n").next().unwrap_or_default();
    let doc: yaml_serde::Value = yaml_serde::from_str(first).map_err(|e| format!("yaml: {e}"))?;
    let Some(detection) = doc.get("detection").and_then(|d| d.as_mapping()) else {
        return Ok(None);
    };
    let Some(condition) = detection.get("condition") else {
        return Ok(None);
    };
    let parsed = match condition {
        yaml_serde::Value::String(s) => parse_condition(s),
        yaml_serde::Value::Sequence(items) => {
            let list = items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(String::from)
                        .ok_or("condition list item not a string")
                })
                .collect::<Result<Vec<_>, _>>()?;
            parse_conditions(&list)
        }
        other => {
            return Err(format!(
                "condition is neither a string nor a list: {other:?}"
            ))
        }
    };
    let identifiers = detection
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| !matches!(*k, "condition" | "timeframe"))
        .map(String::from)
        .collect();
    Ok(Some((parsed, identifiers)))
}

#[test]
fn condition_corpus() {
    let Ok(corpora) = std::env::var("VIGIL_CORPORA") else {
        eprintln!("VIGIL_CORPORA not set: corpus test skipped");
        return;
    };
    let root = Path::new(&corpora).join("sigma/rules");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no rules under {}", root.display());

    let (mut parsed, mut expanded, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let file_name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let known_bad = KNOWN_BAD.iter().any(|(f, _)| *f == file_name);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: read: {e}"));
                continue;
            }
        };
        let (condition, identifiers) = match rule_condition(&text) {
            Ok(Some(found)) => found,
            Ok(None) => {
                skipped += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let result = condition.and_then(|c| {
            parsed += 1;
            // the rendering parses back to the same condition
            assert_eq!(parse_condition(&c.to_string()), Ok(c.clone()), "{name}");
            c.expand(&identifiers)
        });
        match (result, known_bad) {
            (Ok(_), false) => expanded += 1,
            (Ok(_), true) => failures.push(format!("{name}: listed in KNOWN_BAD but passes")),
            (Err(e), false) => failures.push(format!("{name}: {e}")),
            (Err(_), true) => {}
        }
    }
    println!(
        "sigma corpus: {} files, {parsed} conditions parsed, {expanded} expanded, {skipped} without a condition, {} known bad",
        files.len(),
        KNOWN_BAD.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! `vigil rules check` (parse and compile Sigma rules, naming every rule
//! that cannot run and why) and `vigil rules test` (SigmaHQ's regression
//! data: each named rule must fire on its events).

use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_sigma::rule::CompiledRule;
use vigil_sigma::value::CompileContext;
use vigil_sigma::windows::WindowsMapping;

pub use vigil_server::detection::load::{all_cores, load, placeholders, rule_files};

/// `vigil rules check`: returns whether every rule compiled.
pub fn check(paths: &[PathBuf], placeholder_file: Option<&Path>) -> anyhow::Result<bool> {
    let files = rule_files(paths)?;
    let placeholders = placeholders(placeholder_file)?;
    let ctx = CompileContext {
        placeholders: placeholders.as_ref(),
        limits: None,
    };
    let loaded = load(&files, &ctx, all_cores())?;
    for error in &loaded.errors {
        println!("cannot run: {error}");
    }
    for warning in &loaded.warnings {
        println!("warning: {warning}");
    }
    if !loaded.filters.is_empty() {
        println!("loaded {} filter(s)", loaded.filters.len());
    }
    if !loaded.correlations.is_empty() {
        println!("loaded {} correlation rule(s)", loaded.correlations.len());
    }
    println!(
        "compiled {} of {} rules",
        loaded.compiled.len(),
        loaded.total()
    );
    Ok(loaded.errors.is_empty())
}

/// One regression test: a rule id and the event files it must fire on.
struct RegressionTest {
    info: PathBuf,
    rule_id: String,
    events: Vec<PathBuf>,
}

/// Reads an `info.yml` of SigmaHQ's regression data. The events are the
/// files beside it: EVTX files (or their JSON rendering where the EVTX is
/// missing) and raw log lines (`.raw`).
fn regression_test(info: &Path) -> anyhow::Result<RegressionTest> {
    let text = std::fs::read_to_string(info)?;
    let value: yaml_serde::Value = yaml_serde::from_str(&text)
        .with_context(|| format!("invalid YAML in {}", info.display()))?;
    let rule_id = value
        .get("rule_metadata")
        .and_then(|m| m.get(0))
        .and_then(|m| m.get("id"))
        .and_then(|id| id.as_str())
        .with_context(|| format!("{} names no rule (rule_metadata[0].id)", info.display()))?
        .to_string();
    let dir = info.parent().unwrap_or(Path::new("."));
    let files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let has = |path: &Path, ext: &str| files.iter().any(|f| *f == path.with_extension(ext));
    // The EVTX files themselves; a JSON rendering only where its EVTX is
    // missing; raw log lines.
    let mut events: Vec<PathBuf> = files
        .iter()
        .filter(|p| match p.extension().and_then(|e| e.to_str()) {
            Some("evtx") | Some("raw") => true,
            Some("json") => !has(p, "evtx"),
            _ => false,
        })
        .cloned()
        .collect();
    events.sort();
    Ok(RegressionTest {
        info: info.to_path_buf(),
        rule_id,
        events,
    })
}

fn info_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            info_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "info.yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// How many events of `file` the rule fires on. EVTX and JSON events are
/// put in Sigma's view (log source included) as `vigil hunt` reads them;
/// raw files hold log lines whose source is not known, so the rule's log
/// source is not checked for them.
fn hits(rule: &CompiledRule, file: &Path, mapping: &WindowsMapping) -> anyhow::Result<usize> {
    let raw = file.extension().is_some_and(|e| e == "raw");
    let mut count = 0;
    let mut warnings = crate::hunt::input::Warnings::default();
    crate::hunt::input::read_file(
        file,
        mapping,
        &mut |event| {
            let applies = raw || rule.rule.logsource.accepts(&event.source);
            count += usize::from(applies && rule.matches(&event.fields));
        },
        &mut warnings,
    )
    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    for warning in &warnings.shown {
        eprintln!("warning: {warning}");
    }
    Ok(count)
}

/// `vigil rules test`: each regression test's rule must fire on its
/// events. Returns whether all passed.
pub fn test(
    rules: &[PathBuf],
    data: &Path,
    placeholder_file: Option<&Path>,
) -> anyhow::Result<bool> {
    let placeholders = placeholders(placeholder_file)?;
    let ctx = CompileContext {
        placeholders: placeholders.as_ref(),
        limits: None,
    };
    let loaded = load(&rule_files(rules)?, &ctx, all_cores())?;
    let by_id: HashMap<&str, &CompiledRule> = loaded
        .compiled
        .iter()
        .filter_map(|r| Some((r.rule.id.as_deref()?, r)))
        .collect();
    let mut infos = Vec::new();
    info_files(data, &mut infos).with_context(|| format!("cannot read {}", data.display()))?;
    infos.sort();
    let mapping = WindowsMapping::embedded();
    let (mut passed, total) = (0, infos.len());
    for info in &infos {
        let verdict = regression_test(info).and_then(|t| run_one(&t, &by_id, &mapping));
        match verdict {
            Ok(summary) => {
                passed += 1;
                println!("pass  {summary}");
            }
            Err(e) => println!("FAIL  {}: {e:#}", info.display()),
        }
    }
    println!("passed {passed} of {total}");
    Ok(passed == total)
}

fn run_one(
    test: &RegressionTest,
    by_id: &HashMap<&str, &CompiledRule>,
    mapping: &WindowsMapping,
) -> anyhow::Result<String> {
    let rule = by_id
        .get(test.rule_id.as_str())
        .with_context(|| format!("rule {} is not among the loaded rules", test.rule_id))?;
    anyhow::ensure!(!test.events.is_empty(), "no event files beside it");
    let mut total = 0;
    for file in &test.events {
        total += hits(rule, file, mapping)?;
    }
    anyhow::ensure!(
        total > 0,
        "rule {} ({}) did not fire",
        rule.rule.title,
        test.rule_id
    );
    Ok(format!(
        "{} ({} hit(s)): {}",
        rule.rule.title,
        total,
        test.info.display()
    ))
}

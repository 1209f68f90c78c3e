//! `vigil rules check` (parse and compile Sigma rules, naming every rule
//! that cannot run and why) and `vigil rules test` (SigmaHQ's regression
//! data: each named rule must fire on its events).

use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_sigma::correlation::CorrelationRule;
use vigil_sigma::filter::CompiledFilter;
use vigil_sigma::rule::{parse_file, CompiledRule, RuleError};
use vigil_sigma::value::CompileContext;
use vigil_sigma::windows::WindowsMapping;

/// What loading a set of rule files gave.
#[derive(Default)]
pub struct Loaded {
    pub compiled: Vec<CompiledRule>,
    pub filters: Vec<CompiledFilter>,
    pub correlations: Vec<CorrelationRule>,
    pub errors: Vec<RuleError>,
    /// Filters naming rules that are not loaded or whose log source differs.
    pub warnings: Vec<RuleError>,
}

impl Loaded {
    pub fn total(&self) -> usize {
        self.compiled.len() + self.errors.len()
    }
}

/// Every `.yml`/`.yaml` file under `paths` (files or folders), sorted.
pub fn rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files).with_context(|| format!("cannot read {}", path.display()))?;
    }
    files.sort();
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), files)?;
        }
    } else if matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml") | Some("yaml")
    ) {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// Parses and compiles every rule in `files`, on all cores (live detection
/// reloads rules often; a whole SigmaHQ set takes a fraction of a second).
/// The result is in file order whatever the number of threads.
/// `threads` is how many to use (see [`all_cores`]).
pub fn load(files: &[PathBuf], ctx: &CompileContext, threads: usize) -> anyhow::Result<Loaded> {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<anyhow::Result<Loaded>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || load_serial(part, ctx)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a rule loading thread panicked")))
            })
            .collect()
    });
    let mut loaded = Loaded::default();
    for part in parts {
        let part = part?;
        loaded.compiled.extend(part.compiled);
        loaded.filters.extend(part.filters);
        loaded.correlations.extend(part.correlations);
        loaded.errors.extend(part.errors);
    }
    for filter in &loaded.filters {
        let warnings = filter
            .filter
            .check_references(loaded.compiled.iter().map(|r| &r.rule));
        loaded.warnings.extend(warnings);
    }
    Ok(loaded)
}

/// The number of cores, the default number of threads.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn load_serial(files: &[PathBuf], ctx: &CompileContext) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read rule file {}", file.display()))?;
        let parsed = parse_file(&text, &file.display().to_string());
        loaded.errors.extend(parsed.errors);
        loaded.correlations.extend(parsed.correlations);
        for rule in parsed.rules {
            match CompiledRule::compile(rule, ctx) {
                Ok(compiled) => loaded.compiled.push(compiled),
                Err(e) => loaded.errors.push(e),
            }
        }
        for filter in parsed.filters {
            match CompiledFilter::compile(filter, ctx) {
                Ok(compiled) => loaded.filters.push(compiled),
                Err(e) => loaded.errors.push(e),
            }
        }
    }
    Ok(loaded)
}

/// Values of `expand` placeholders: a YAML mapping of names to a value or a
/// list of values. Without a file, rules that use `expand` cannot run and
/// are reported.
pub fn placeholders(file: Option<&Path>) -> anyhow::Result<Option<HashMap<String, Vec<String>>>> {
    let Some(file) = file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read placeholder file {}", file.display()))?;
    let raw: HashMap<String, yaml_serde::Value> = yaml_serde::from_str(&text)
        .with_context(|| format!("invalid placeholder file {}", file.display()))?;
    let mut map = HashMap::new();
    for (name, value) in raw {
        let values = match value {
            yaml_serde::Value::Sequence(items) => items.iter().map(scalar_text).collect(),
            other => vec![scalar_text(&other)],
        };
        map.insert(name, values);
    }
    Ok(Some(map))
}

fn scalar_text(value: &yaml_serde::Value) -> String {
    match value {
        yaml_serde::Value::String(s) => s.clone(),
        yaml_serde::Value::Number(n) => n.to_string(),
        yaml_serde::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `vigil rules check`: returns whether every rule compiled.
pub fn check(paths: &[PathBuf], placeholder_file: Option<&Path>) -> anyhow::Result<bool> {
    let files = rule_files(paths)?;
    let placeholders = placeholders(placeholder_file)?;
    let ctx = CompileContext {
        placeholders: placeholders.as_ref(),
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

//! Loading Sigma rules from files: parse and compile on every core.
//! `vigil rules`, `vigil hunt` and live detection share it.

use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vigil_sigma::correlation::CorrelationRule;
use vigil_sigma::filter::CompiledFilter;
use vigil_sigma::rule::{parse_file_with, CompiledRule, RuleError};
use vigil_sigma::value::CompileContext;

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
        loaded.add_text(&text, &file.display().to_string(), ctx);
    }
    Ok(loaded)
}

impl Loaded {
    /// Parses and compiles the rules of one file's text (`origin` names it
    /// in errors), within `ctx.limits` if any (text from outside).
    pub fn add_text(&mut self, text: &str, origin: &str, ctx: &CompileContext) {
        let parsed = parse_file_with(text, origin, ctx.limits);
        self.errors.extend(parsed.errors);
        self.correlations.extend(parsed.correlations);
        for rule in parsed.rules {
            match CompiledRule::compile(rule, ctx) {
                Ok(compiled) => self.compiled.push(compiled),
                Err(e) => self.errors.push(e),
            }
        }
        for filter in parsed.filters {
            match CompiledFilter::compile(filter, ctx) {
                Ok(compiled) => self.filters.push(compiled),
                Err(e) => self.errors.push(e),
            }
        }
    }
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

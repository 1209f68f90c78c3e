//! `vigil rules check`: parse and compile Sigma rules, naming every rule
//! that cannot run and why.

use anyhow::Context;
use std::path::{Path, PathBuf};
use vigil_sigma::rule::{parse_rules, CompiledRule, RuleError};
use vigil_sigma::value::CompileContext;

/// What loading a set of rule files gave.
pub struct Loaded {
    pub compiled: Vec<CompiledRule>,
    pub errors: Vec<RuleError>,
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

/// Parses and compiles every rule in `files`.
pub fn load(files: &[PathBuf], ctx: &CompileContext) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded {
        compiled: Vec::new(),
        errors: Vec::new(),
    };
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read rule file {}", file.display()))?;
        let (rules, errors) = parse_rules(&text, &file.display().to_string());
        loaded.errors.extend(errors);
        for rule in rules {
            match CompiledRule::compile(rule, ctx) {
                Ok(compiled) => loaded.compiled.push(compiled),
                Err(e) => loaded.errors.push(e),
            }
        }
    }
    Ok(loaded)
}

/// `vigil rules check`: returns whether every rule compiled.
pub fn check(paths: &[PathBuf]) -> anyhow::Result<bool> {
    let files = rule_files(paths)?;
    let ctx = CompileContext { placeholders: None };
    let loaded = load(&files, &ctx)?;
    for error in &loaded.errors {
        println!("cannot run: {error}");
    }
    println!(
        "compiled {} of {} rules",
        loaded.compiled.len(),
        loaded.total()
    );
    Ok(loaded.errors.is_empty())
}

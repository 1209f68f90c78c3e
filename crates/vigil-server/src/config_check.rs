//! Everything wrong with a config, found at once: `vigil config check`
//! lists it, and `serve` refuses the same (it reads the config through
//! [`Config::parse`] and checks the files with [`Config::file_problems`]
//! before it starts anything), so the two never disagree.
//!
//! Three passes, each collecting every problem rather than stopping at the
//! first:
//!
//! 1. keys and types ([`read_keys`]): the TOML is read section by section,
//!    key by key and array entry by array entry, so that every unknown key
//!    and every bad value is named with its path and line; the parts that
//!    fit are kept for the next pass;
//! 2. values and references ([`Config::problems`]): bounds, keys that go
//!    together, and every name of a tenant that `[[tenants]]` does not
//!    declare (an asset or check the server would refuse, a listener whose
//!    every message would go to quarantine);
//! 3. files ([`Config::file_problems`]): rule folders, the placeholder
//!    file, TLS certificates and keys.

use crate::config::Config;
use std::collections::HashSet;
use toml::{Table, Value};

/// One thing wrong with a config: where (`inputs.syslog[2].tenant`, and
/// the file's line when known) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// The key's path; empty when the message names the keys itself.
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            line: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The line (1-based) of a byte offset of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// One step of a key's path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// The document holding only `value` at `path`.
fn wrap(path: &[Step], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, step| match step {
        Step::Key(key) => {
            let mut table = Table::new();
            table.insert(key.clone(), inner);
            Value::Table(table)
        }
        Step::Index(_) => Value::Array(vec![inner]),
    })
}

fn fits(path: &[Step], value: &Value) -> Result<(), toml::de::Error> {
    wrap(path, value.clone()).try_into::<Config>().map(drop)
}

/// Reads a file's TOML table as a [`Config`], naming every key that does
/// not fit (unknown, or of the wrong type) and leaving it out, so that the
/// rest can still be checked. The names of `[[tenants]]` entries left out
/// are returned too: they are declared, only wrongly.
pub fn read_keys(text: &str, table: Table) -> (Config, Vec<Problem>, Vec<String>) {
    let declared: Vec<String> = table
        .get("tenants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
        .collect();
    let mut problems = Vec::new();
    let mut kept = Table::new();
    for (key, value) in table {
        let path = [Step::Key(key.clone())];
        if let Some(value) = prune(text, &path, value, &mut problems) {
            kept.insert(key, value);
        }
    }
    let config = Value::Table(kept).try_into::<Config>();
    // Each part fits alone; together they fit too (no key depends on
    // another at this level). Should that ever change, say so.
    let config = config.unwrap_or_else(|e| {
        problems.push(Problem::new("", e.message().to_string()));
        Config::default()
    });
    (config, problems, declared)
}

/// `value` at `path` with the parts that do not fit left out (and named
/// in `problems`); `None` when nothing of it fits.
fn prune(text: &str, path: &[Step], value: Value, problems: &mut Vec<Problem>) -> Option<Value> {
    let error = match fits(path, &value) {
        Ok(()) => return Some(value),
        Err(e) => e,
    };
    match value {
        // A table whose keys all have defaults: each key on its own.
        Value::Table(table) if fits(path, &Value::Table(Table::new())).is_ok() => {
            let mut kept = Table::new();
            for (key, inner) in table {
                let mut inner_path = path.to_vec();
                inner_path.push(Step::Key(key.clone()));
                if let Some(inner) = prune(text, &inner_path, inner, problems) {
                    kept.insert(key, inner);
                }
            }
            Some(Value::Table(kept))
        }
        Value::Array(items) => {
            let mut kept = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let mut item_path = path.to_vec();
                item_path.push(Step::Index(i));
                if let Some(item) = prune(text, &item_path, item, problems) {
                    kept.push(item);
                }
            }
            Some(Value::Array(kept))
        }
        _ => {
            let message = error.message().to_string();
            let named = named_field(&message);
            // An entry of an array is read whole: find the field it names.
            let mut full = path.to_vec();
            if let (Some(Step::Index(_)), Some(field)) = (path.last(), named) {
                full.push(Step::Key(field.to_string()));
            }
            problems.push(Problem {
                line: locate(text, &full).or_else(|| locate(text, path)),
                path: path_text(path),
                message,
            });
            None
        }
    }
}

/// The line of a problem found after reading (`checks[1]`, and the
/// setting its message starts with, `port: ...`), when the file is laid
/// out the usual way.
pub(crate) fn locate_problem(text: &str, problem: &Problem) -> Option<usize> {
    let mut path = Vec::new();
    for part in problem.path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        path.push(Step::Key(key.to_string()));
        if let Some(index) = rest.strip_suffix(']').and_then(|i| i.parse().ok()) {
            path.push(Step::Index(index));
        }
    }
    if problem.path.is_empty() {
        return None;
    }
    let setting = problem
        .message
        .split_once(": ")
        .map(|(head, _)| head)
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    if let (Some(Step::Index(_)), Some(setting)) = (path.last(), setting) {
        let mut full = path.clone();
        full.push(Step::Key(setting.to_string()));
        if let Some(line) = locate(text, &full).filter(|_| has_key(text, &full)) {
            return Some(line);
        }
    }
    locate(text, &path).or_else(|| {
        // An entry of a plain array (`rule_paths = [...]`): the key's line.
        match path.split_last() {
            Some((Step::Index(_), parent)) if parent.len() > 1 => locate(text, parent),
            _ => None,
        }
    })
}

/// Whether [`locate`] found the key itself rather than its header.
fn has_key(text: &str, path: &[Step]) -> bool {
    match path.last() {
        Some(Step::Key(key)) => locate(text, path)
            .and_then(|n| text.lines().nth(n - 1))
            .is_some_and(|line| line.trim_start().starts_with(key.as_str())),
        _ => false,
    }
}

/// The first name in backticks of a serde message (`unknown field `x``).
fn named_field(message: &str) -> Option<&str> {
    message.split('`').nth(1).filter(|n| !n.is_empty())
}

/// The line of the key at `path` in `text`, for the usual layout
/// (`[section]` or `[[array]]` headers, then `key = value` lines); `None`
/// when it is written otherwise (inline tables, dotted keys).
fn locate(text: &str, path: &[Step]) -> Option<usize> {
    // The header: the keys up to the last array index or table.
    let mut header = Vec::new();
    let mut index = None;
    let mut rest = path;
    while let Some((step, tail)) = rest.split_first() {
        match step {
            Step::Key(_) if tail.is_empty() && !header.is_empty() => break,
            Step::Key(key) => header.push(key.as_str()),
            Step::Index(i) => {
                index = Some(*i);
                rest = tail;
                break;
            }
        }
        rest = tail;
    }
    let key = rest.iter().find_map(|s| match s {
        Step::Key(k) => Some(k.as_str()),
        Step::Index(_) => None,
    });
    let header = header.join(".");
    let lines: Vec<&str> = text.lines().collect();
    let wanted = match index {
        Some(_) => format!("[[{header}]]"),
        None => format!("[{header}]"),
    };
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == wanted)
        .nth(index.unwrap_or(0))
        .map(|(n, _)| n);
    let Some(start) = start else {
        // A key of the top level (`key = ...` before any header).
        return (path.len() == 1)
            .then(|| find_key(&lines, 0, &header))
            .flatten();
    };
    match key {
        None => Some(start + 1),
        Some(key) => find_key(&lines, start + 1, key).or(Some(start + 1)),
    }
}

/// The line of `key = ...` from line `from` up to the next header.
fn find_key(lines: &[&str], from: usize, key: &str) -> Option<usize> {
    for (n, line) in lines.iter().enumerate().skip(from) {
        let line = line.trim_start();
        if line.starts_with('[') {
            return None;
        }
        let Some(rest) = line.strip_prefix(key) else {
            continue;
        };
        if rest.trim_start().starts_with('=') {
            return Some(n + 1);
        }
    }
    None
}

impl Config {
    /// Every value out of bounds, keys that do not go together, and names
    /// of tenants `[[tenants]]` does not declare. No file but a check's
    /// `ca_file` is read; see [`Config::file_problems`].
    pub fn problems(&self) -> Vec<Problem> {
        self.problems_declaring(&[])
    }

    /// [`Config::problems`], with tenants declared by entries that could
    /// not be read counted as declared (their own problem is named).
    pub(crate) fn problems_declaring(&self, also_declared: &[String]) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut add = |path: &str, result: Result<(), String>| {
            if let Err(message) = result {
                problems.push(Problem::new(path, message));
            }
        };
        self.bounds(&mut add);
        self.documents(&mut add);
        self.tenant_names(also_declared, &mut add);
        problems
    }

    fn bounds(&self, add: &mut impl FnMut(&str, Result<(), String>)) {
        use crate::config::MAX_SESSION_MINUTES;
        if !(1..=MAX_SESSION_MINUTES).contains(&self.server.session_minutes) {
            add(
                "",
                Err(format!(
                    "server.session_minutes must be 1 to {MAX_SESSION_MINUTES} (a year), got {}",
                    self.server.session_minutes
                )),
            );
        }
        add("", self.auth.validate());
        add("", self.server.validate_http());
        if self.ingest.max_line_bytes == 0 || self.ingest.max_body_bytes == 0 {
            add(
                "",
                Err("ingest.max_line_bytes and ingest.max_body_bytes must be above 0".into()),
            );
        }
        add("", self.ingest.validate_limits());
        if self.storage.index_threads == 0 || self.storage.max_open_writers == 0 {
            add(
                "",
                Err("storage.index_threads and storage.max_open_writers must be above 0".into()),
            );
        } else if self.storage.index_memory_mb < 15 * self.storage.index_threads {
            add(
                "",
                Err(format!(
                    "storage.index_memory_mb must be at least 15 per index thread ({})",
                    15 * self.storage.index_threads
                )),
            );
        }
        if !["informational", "low", "medium", "high", "critical"]
            .contains(&self.detection.min_level.as_str())
        {
            add(
                "detection.min_level",
                Err(format!(
                    "must be informational, low, medium, high or critical, got {:?}",
                    self.detection.min_level
                )),
            );
        }
        add("", self.detection.validate());
        if self.inputs.queue_batches == 0 || self.inputs.pipeline_workers == 0 {
            add(
                "",
                Err("inputs.queue_batches and inputs.pipeline_workers must be above 0".into()),
            );
        }
        for (i, input) in self.inputs.syslog.iter().enumerate() {
            let result = input
                .validate()
                .map_err(|e| format!("({}) {e}", input.listen));
            add(&format!("inputs.syslog[{i}]"), result);
        }
        add("", crate::noc::guard::Policies::validate(self));
        for (i, tenant) in self.tenants.iter().enumerate() {
            for source in &tenant.sources {
                let result = crate::pipeline::tenants::Cidr::parse(source)
                    .map(drop)
                    .map_err(|e| format!("tenant {:?}: {e}", tenant.name.as_str()));
                add(&format!("tenants[{i}].sources"), result);
            }
        }
        if let Err(e) = vigil_noc::Engine::new(Vec::new(), self.noc.clone()) {
            add("noc", Err(e.to_string()));
        }
    }

    /// Assets, checks, maintenance windows and NOC rules, read as the
    /// server reads them at start.
    fn documents(&self, add: &mut impl FnMut(&str, Result<(), String>)) {
        for (i, asset) in self.assets.iter().enumerate() {
            let result = asset.input().to_spec().map(drop);
            add(
                &format!("assets[{i}]"),
                result.map_err(|e| format!("asset {:?}: {e}", asset.name)),
            );
        }
        for (i, check) in self.checks.iter().enumerate() {
            let result = crate::inventory::config_check_record(check.spec.clone()).map(drop);
            add(&format!("checks[{i}]"), result);
        }
        let now = vigil_core::Timestamp::now();
        for (i, window) in self.maintenance_windows.iter().enumerate() {
            let result = crate::noc::definitions::window_from_json(window.spec.clone(), now);
            add(
                &format!("maintenance_windows[{i}]"),
                result.map(drop).map_err(|e| e.to_string()),
            );
        }
        for (i, rule) in self.noc_rules.iter().enumerate() {
            let result = crate::noc::definitions::rule_from_json(rule.spec.clone());
            add(
                &format!("noc_rules[{i}]"),
                result.map(drop).map_err(|e| e.to_string()),
            );
        }
    }

    /// Every tenant named is declared, once. The server creates the
    /// declared tenants at start; a name it cannot find stops it (assets,
    /// checks, NOC definitions, trap inputs) or, on a syslog listener,
    /// sends every message to quarantine.
    fn tenant_names(
        &self,
        also_declared: &[String],
        add: &mut impl FnMut(&str, Result<(), String>),
    ) {
        let mut declared = HashSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            if !declared.insert(tenant.name.as_str()) {
                add(
                    &format!("tenants[{i}].name"),
                    Err(format!(
                        "tenant {:?} is declared twice",
                        tenant.name.as_str()
                    )),
                );
            }
        }
        declared.extend(also_declared.iter().map(String::as_str));
        let undeclared = |name: &str| format!("tenant {name:?} is not declared in [[tenants]]");
        let mut named = |path: String, name: &str, consequence: &str| {
            if !declared.contains(name) {
                add(&path, Err(format!("{}{consequence}", undeclared(name))));
            }
        };
        for (i, input) in self.inputs.syslog.iter().enumerate() {
            if let Some(tenant) = &input.tenant {
                named(
                    format!("inputs.syslog[{i}].tenant"),
                    tenant,
                    " (every message of this listener would go to quarantine)",
                );
            }
        }
        for (i, input) in self.inputs.snmp_traps.iter().enumerate() {
            named(format!("inputs.snmp_traps[{i}].tenant"), &input.tenant, "");
        }
        for (i, asset) in self.assets.iter().enumerate() {
            named(format!("assets[{i}].tenant"), &asset.tenant, "");
        }
        let documents = [
            ("checks", &self.checks),
            ("maintenance_windows", &self.maintenance_windows),
            ("noc_rules", &self.noc_rules),
        ];
        for (section, list) in documents {
            for (i, doc) in list.iter().enumerate() {
                named(format!("{section}[{i}].tenant"), &doc.tenant, "");
            }
        }
    }

    /// The files the server reads at start: rule folders, the placeholder
    /// file, the API's and the syslog listeners' TLS certificates and keys.
    pub fn file_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut add = |path: String, result: anyhow::Result<()>| {
            if let Err(e) = result {
                problems.push(Problem::new(path, format!("{e:#}")));
            }
        };
        for (i, path) in self.detection.rule_paths.iter().enumerate() {
            let result = crate::detection::load::rule_files(std::slice::from_ref(path));
            add(format!("detection.rule_paths[{i}]"), result.map(drop));
        }
        let placeholders = self.detection.placeholders.as_deref();
        let result = crate::detection::load::placeholders(placeholders).map(drop);
        add("detection.placeholders".into(), result);
        if self.server.tls_cert.is_some() && self.server.tls_key.is_some() {
            let result = crate::http_server::ServeOptions::from_config(&self.server).map(drop);
            add("server.tls_cert".into(), result);
        }
        for (i, input) in self.inputs.syslog.iter().enumerate() {
            add(format!("inputs.syslog[{i}]"), input.check_files());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, "t", Vec::new()) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn every_bad_key_is_named_with_its_path_and_line() {
        let text = "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n\n[ingest]\nmax_lines = 5\nmax_line_bytes = \"big\"\n\n[[tenants]]\nname = \"acme\"\nretention = 7\n";
        let found = problems(text);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(
            found[0].starts_with("line 3: server.lisen: unknown field `lisen`"),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 6: ingest.max_lines: unknown field `max_lines`")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 7: ingest.max_line_bytes: invalid type")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 11: tenants[0]: unknown field `retention`")),
            "{found:#?}"
        );
    }

    #[test]
    fn undeclared_tenants_are_named_everywhere() {
        let text = "[[tenants]]\nname = \"acme\"\n[[inputs.syslog]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:5514\"\ntenant = \"acme\"\n[[inputs.syslog]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:5515\"\ntenant = \"acmee\"\n[[assets]]\ntenant = \"beta\"\nname = \"fw1\"\naddress = \"192.0.2.1\"\n";
        let found = problems(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0]
                .starts_with("line 10: inputs.syslog[1].tenant: tenant \"acmee\" is not declared"),
            "{found:#?}"
        );
        assert!(found[0].contains("quarantine"), "{found:#?}");
        assert!(
            found[1].starts_with("line 12: assets[0].tenant: tenant \"beta\""),
            "{found:#?}"
        );
    }

    #[test]
    fn a_tenant_entry_with_a_bad_key_still_declares_its_name() {
        let text = "[[tenants]]\nname = \"acme\"\nretention = 7\n[[assets]]\ntenant = \"acme\"\nname = \"fw1\"\naddress = \"192.0.2.1\"\n";
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("retention"), "{found:#?}");
    }

    #[test]
    fn files_are_checked() {
        let text = "[detection]\nrule_paths = [\"/nonexistent/rules\"]\nplaceholders = \"/nonexistent/p.yml\"\n";
        let config = Config::parse(text, "t", Vec::new()).expect("no problem without files");
        let found: Vec<String> = config
            .file_problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("detection.rule_paths[0]: cannot read /nonexistent/rules"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("detection.placeholders: cannot read placeholder file"),
            "{found:#?}"
        );
    }
}

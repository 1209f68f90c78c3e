//! `vigil hunt`: Sigma rules over log files, offline.
//!
//! Files (EVTX, JSON, text: see [`input`]) are the unit of work: a pool of
//! threads takes them from a shared queue, largest first, and each hands
//! back its hits. The main thread prints them in the order of the files
//! and, within a file, of its records, so the output is the same with one
//! thread or many. Warnings (a bad chunk, a bad line) go to stderr, in the
//! same order; a closing summary too: files read, skipped (named, with the
//! reason) and unreadable, the time spent loading the rules apart from the
//! time spent matching. The exit code is non-zero when no input could be
//! read at all.

mod correlation;
pub(crate) mod input;
mod output;

use crate::rules;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use input::{Event, Outcome, Warnings};
use output::{Format, Hit, Writer};
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use vigil_sigma::rule::{CompiledRule, Level, Rule};
use vigil_sigma::ruleset::RuleSet;
use vigil_sigma::value::CompileContext;
use vigil_sigma::windows::WindowsMapping;
use vigil_sigma::EventFields;

#[derive(clap::Args)]
pub struct HuntArgs {
    /// Sigma rule files or folders (repeatable; required).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Only rules of this level or above (informational, low, medium, high,
    /// critical); rules without a level are left out.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    min_level: Option<Level>,
    /// Only rules with this status (repeatable: any of them).
    #[arg(long, value_name = "S")]
    status: Vec<String>,
    /// A Windows mapping file replacing the embedded one.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// Values of `expand` placeholders (YAML: name → value or list).
    #[arg(long, value_name = "FILE")]
    placeholders: Option<PathBuf>,
    /// One JSON object a hit: time, computer, rule_id, title, level, tags,
    /// file, record (EVTX record number or line), event.
    #[arg(long, conflicts_with = "csv")]
    jsonl: bool,
    /// CSV: time, computer, rule_id, title, level, tags, file, record.
    #[arg(long)]
    csv: bool,
    /// Worker threads (default: all cores; 1 = single-threaded).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// Log files or folders (read recursively).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

fn parse_level(text: &str) -> Result<Level, String> {
    Level::parse(text).ok_or_else(|| {
        format!("unknown level {text:?} (informational, low, medium, high, critical)")
    })
}

/// What one file gave.
#[derive(Default)]
struct FileResult {
    events: u64,
    hits: Vec<Hit>,
    warnings: Warnings,
    error: Option<String>,
    /// Not a log: why.
    skipped: Option<String>,
}

pub fn run(args: HuntArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    anyhow::ensure!(
        !args.rules.is_empty(),
        "no rules: give --rules PATH (a Sigma rule file or a folder of them)"
    );
    let mapping = match &args.mapping {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read mapping file {}", file.display()))?;
            WindowsMapping::from_yaml(&text).with_context(|| file.display().to_string())?
        }
        None => WindowsMapping::embedded(),
    };
    let files = input::input_files(&args.inputs)?;
    let placeholders = rules::placeholders(args.placeholders.as_deref())?;
    let ctx = CompileContext {
        placeholders: placeholders.as_ref(),
        limits: None,
    };
    let threads = args.threads.map_or_else(rules::all_cores, |n| n as usize);
    let loading = Instant::now();
    let loaded = rules::load(&rules::rule_files(&args.rules)?, &ctx, threads)?;
    let not_runnable = loaded.errors;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let filters = loaded.filters;
    let correlations = loaded.correlations;
    let selected: Vec<CompiledRule> = loaded
        .compiled
        .into_iter()
        .filter(|r| keep(&r.rule, args.min_level, &args.status))
        .collect();
    if selected.is_empty() {
        print_not_runnable(&not_runnable);
    }
    anyhow::ensure!(
        !selected.is_empty(),
        "no rules to run ({} not runnable, the others filtered out by --min-level/--status)",
        not_runnable.len()
    );
    let ruleset = RuleSet::new(selected).with_filters(filters);
    // Correlation hits are written like rule hits: each correlation gets a
    // rule-shaped entry after the rules.
    let correlation_rules: Vec<Rule> = correlations.iter().map(correlation::as_rule).collect();
    let rules: Vec<&Rule> = ruleset
        .rules()
        .iter()
        .map(|r| &r.rule)
        .chain(correlation_rules.iter())
        .collect();
    let mut correlated = correlation::Correlated::new(&correlations, ruleset.rules());
    let index_of: RuleIndex = ruleset
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| (rule_address(r), i))
        .collect();

    let format = if args.jsonl {
        Format::Jsonl
    } else if args.csv {
        Format::Csv
    } else {
        Format::Table {
            color: std::io::stdout().is_terminal(),
        }
    };
    let threads = threads.min(files.len().max(1));
    let loading = loading.elapsed().as_secs_f64();
    let matching = Instant::now();

    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let stdout = std::io::stdout();
    let mut writer = Writer::new(
        std::io::BufWriter::new(stdout.lock()),
        format,
        &rules,
        &files,
    )?;
    let keep_events = format == Format::Jsonl || !correlations.is_empty();
    let mut totals = Totals::default();
    let mut write_error = None;

    // Biggest files first, so that one large file does not start last.
    let mut queue: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (std::fs::metadata(f).map_or(0, |m| m.len()), i))
        .collect();
    queue.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let next = AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<(usize, FileResult)>(threads * 2);

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let (queue, next, files, ruleset, mapping, index_of) =
                (&queue, &next, &files, &ruleset, &mapping, &index_of);
            scope.spawn(move || {
                while let Some(&(_, index)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = hunt_file(
                        &files[index],
                        index,
                        ruleset,
                        index_of,
                        mapping,
                        keep_events,
                    );
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Results come in any order; print them in file order.
        let mut pending: BTreeMap<usize, FileResult> = BTreeMap::new();
        let mut next_out = 0;
        for (index, result) in receiver {
            progress.inc(1);
            pending.insert(index, result);
            while let Some(mut result) = pending.remove(&next_out) {
                let file = &files[next_out];
                correlated.take(&mut result.hits);
                progress.suspend(|| report_file(file, &result));
                totals.add(file, &result, &rules);
                if write_error.is_none() {
                    write_error = writer.hits(&result.hits).err();
                }
                next_out += 1;
            }
        }
    });
    progress.finish_and_clear();
    let correlation_hits = correlated.finish(ruleset.len());
    if !correlation_hits.is_empty() && write_error.is_none() {
        write_error = writer.hits(&correlation_hits).err();
    }
    let finished = writer.finish();
    if let Some(e) = write_error.or(finished.err()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write the hits");
        }
    }
    let matching = matching.elapsed().as_secs_f64();
    print_not_runnable(&not_runnable);
    totals.print(files.len(), ruleset.len(), not_runnable.len());
    let rate = if matching > 0.0 {
        totals.events as f64 / matching
    } else {
        0.0
    };
    eprintln!(
        "time: {:.2} s: rules loaded in {loading:.2} s, events read and matched in {matching:.2} s ({rate:.0} events/s)",
        started.elapsed().as_secs_f64()
    );
    let read = files.len() - totals.unreadable - totals.skipped.len();
    anyhow::ensure!(
        read > 0,
        "no input could be read ({} file(s): {} unreadable, {} skipped as not logs)",
        files.len(),
        totals.unreadable,
        totals.skipped.len()
    );
    Ok(())
}

fn print_not_runnable(errors: &[vigil_sigma::rule::RuleError]) {
    for error in errors {
        eprintln!("rule not runnable: {error}");
    }
}

fn keep(rule: &Rule, min_level: Option<Level>, status: &[String]) -> bool {
    let level_ok = min_level.is_none_or(|min| rule.level.is_some_and(|l| l >= min));
    let status_ok = status.is_empty()
        || rule
            .status
            .as_deref()
            .is_some_and(|s| status.iter().any(|want| want.eq_ignore_ascii_case(s)));
    level_ok && status_ok
}

/// A rule's index among the rule set's rules, by its address (the rule
/// set hands back references).
type RuleIndex = HashMap<usize, usize>;

fn rule_address(rule: &CompiledRule) -> usize {
    rule as *const CompiledRule as usize
}

/// Runs the rules over one file.
fn hunt_file(
    path: &Path,
    file: usize,
    ruleset: &RuleSet,
    index_of: &RuleIndex,
    mapping: &WindowsMapping,
    keep_events: bool,
) -> FileResult {
    let mut result = FileResult::default();
    let mut on_event = |event: Event| {
        result.events += 1;
        let matched = ruleset.matching(&event.source, &event.fields);
        if matched.is_empty() {
            return;
        }
        let time = first_text(&event.fields, &["TimeCreated", "@timestamp", "timestamp"]);
        let computer = first_text(&event.fields, &["Computer", "host.name", "hostname"]);
        for rule in matched {
            result.hits.push(Hit {
                rule: index_of[&rule_address(rule)],
                time: time.clone(),
                computer: computer.clone(),
                file: Some(file),
                record: event.record,
                event: keep_events.then(|| {
                    // The Windows mapping adds its field aliases in hash
                    // order, which changes from run to run: sort the keys
                    // so that the output does not.
                    let mut fields = event.fields.clone();
                    fields.sort_keys();
                    fields
                }),
            });
        }
    };
    let mut warnings = Warnings::default();
    match input::read_input(path, mapping, &mut on_event, &mut warnings) {
        Ok(Outcome::Read) => {}
        Ok(Outcome::Skipped(reason)) => result.skipped = Some(reason),
        Err(error) => result.error = Some(error),
    }
    result.warnings = warnings;
    result
}

fn first_text(
    fields: &serde_json::Map<String, serde_json::Value>,
    names: &[&str],
) -> Option<String> {
    names.iter().find_map(|name| {
        fields
            .field_values(name)
            .first()
            .map(|v| v.as_text().into_owned())
            .filter(|t| !t.is_empty())
    })
}

fn report_file(file: &Path, result: &FileResult) {
    let name = file.display();
    if let Some(error) = &result.error {
        eprintln!("warning: {name}: cannot read: {error}");
    }
    for warning in &result.warnings.shown {
        eprintln!("warning: {name}: {warning}");
    }
    let more = result.warnings.total - result.warnings.shown.len();
    if more > 0 {
        eprintln!("warning: {name}: {more} more warning(s)");
    }
}

/// Skipped files named in the summary, at most; the rest are counted.
const MAX_SKIPPED_SHOWN: usize = 20;

/// What the summary counts.
#[derive(Default)]
struct Totals {
    events: u64,
    unreadable: usize,
    /// Files that are not logs, and why.
    skipped: Vec<(PathBuf, String)>,
    warnings: usize,
    /// Hits by level, `None` for rules without one.
    hits: BTreeMap<Option<Level>, u64>,
}

impl Totals {
    fn add(&mut self, file: &Path, result: &FileResult, rules: &[&Rule]) {
        self.events += result.events;
        if let Some(reason) = &result.skipped {
            self.skipped.push((file.to_path_buf(), reason.clone()));
        }
        self.unreadable += usize::from(result.error.is_some());
        self.warnings += result.warnings.total;
        for hit in &result.hits {
            *self.hits.entry(rules[hit.rule].level).or_default() += 1;
        }
    }

    fn print(&self, files: usize, rules: usize, not_runnable: usize) {
        let mut files_line = format!("hunt: {files} files, {} events", self.events);
        if self.unreadable > 0 {
            files_line.push_str(&format!(", {} unreadable", self.unreadable));
        }
        if !self.skipped.is_empty() {
            files_line.push_str(&format!(", {} skipped", self.skipped.len()));
        }
        if self.warnings > 0 {
            files_line.push_str(&format!(", {} warning(s)", self.warnings));
        }
        eprintln!("{files_line}");
        for (file, reason) in self.skipped.iter().take(MAX_SKIPPED_SHOWN) {
            eprintln!("skipped: {} ({reason})", file.display());
        }
        if self.skipped.len() > MAX_SKIPPED_SHOWN {
            eprintln!(
                "skipped: {} more file(s)",
                self.skipped.len() - MAX_SKIPPED_SHOWN
            );
        }
        eprintln!("rules: {rules} loaded, {not_runnable} not runnable");
        let total: u64 = self.hits.values().sum();
        let mut by_level: Vec<String> = [
            Level::Critical,
            Level::High,
            Level::Medium,
            Level::Low,
            Level::Informational,
        ]
        .iter()
        .map(|l| format!("{l} {}", self.hits.get(&Some(*l)).copied().unwrap_or(0)))
        .collect();
        if let Some(n) = self.hits.get(&None) {
            by_level.push(format!("no level {n}"));
        }
        eprintln!("hits: {total} ({})", by_level.join(", "));
    }
}

//! How hits are written: a table grouped by rule (for people), JSON lines
//! or CSV (for tools). Each hit names where it came from: its file and
//! its record there (the EVTX record number, or the line); the table
//! names the first hit of each rule, and how many files hold the others.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use vigil_sigma::rule::{Level, Rule};

/// One rule firing on one event.
pub struct Hit {
    /// The rule's index among the hunt's rules.
    pub rule: usize,
    pub time: Option<String>,
    pub computer: Option<String>,
    /// The index of its file among the hunt's files (`None`: a
    /// correlation's hit, drawn from many).
    pub file: Option<usize>,
    /// Its record in the file: the EVTX record number, or the line.
    pub record: Option<u64>,
    /// The event in the Sigma view; kept only for outputs that print it.
    pub event: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table { color: bool },
    Jsonl,
    Csv,
}

/// Writes hits as they come, file by file, and whatever is left at the end.
pub struct Writer<'a, W: Write> {
    out: W,
    format: Format,
    rules: &'a [&'a Rule],
    files: &'a [PathBuf],
    table: HashMap<usize, Group>,
}

/// What the table says about one rule.
#[derive(Default)]
struct Group {
    count: u64,
    first: Option<String>,
    last: Option<String>,
    hosts: BTreeSet<String>,
    /// The first hit's file and record, in file and record order.
    source: Option<(usize, Option<u64>)>,
    files: BTreeSet<usize>,
}

#[derive(Serialize)]
struct JsonHit<'a> {
    time: Option<&'a str>,
    computer: Option<&'a str>,
    rule_id: Option<&'a str>,
    title: &'a str,
    level: Option<&'static str>,
    tags: &'a [String],
    file: Option<String>,
    record: Option<u64>,
    event: &'a Map<String, Value>,
}

impl<'a, W: Write> Writer<'a, W> {
    pub fn new(
        out: W,
        format: Format,
        rules: &'a [&'a Rule],
        files: &'a [PathBuf],
    ) -> std::io::Result<Self> {
        let mut writer = Writer {
            out,
            format,
            rules,
            files,
            table: HashMap::new(),
        };
        if format == Format::Csv {
            writeln!(
                writer.out,
                "time,computer,rule_id,title,level,tags,file,record"
            )?;
        }
        Ok(writer)
    }

    fn file_name(&self, hit: &Hit) -> Option<String> {
        let file = self.files.get(hit.file?)?;
        Some(file.display().to_string())
    }

    pub fn hits(&mut self, hits: &[Hit]) -> std::io::Result<()> {
        for hit in hits {
            let rule = self.rules[hit.rule];
            match self.format {
                Format::Jsonl => {
                    let empty = Map::new();
                    let line = JsonHit {
                        time: hit.time.as_deref(),
                        computer: hit.computer.as_deref(),
                        rule_id: rule.id.as_deref(),
                        title: &rule.title,
                        level: rule.level.map(Level::as_str),
                        tags: &rule.tags,
                        file: self.file_name(hit),
                        record: hit.record,
                        event: hit.event.as_ref().unwrap_or(&empty),
                    };
                    serde_json::to_writer(&mut self.out, &line)?;
                    self.out.write_all(b"\n")?;
                }
                Format::Csv => {
                    let file = self.file_name(hit).unwrap_or_default();
                    let record = hit.record.map(|r| r.to_string()).unwrap_or_default();
                    let fields = [
                        hit.time.as_deref().unwrap_or(""),
                        hit.computer.as_deref().unwrap_or(""),
                        rule.id.as_deref().unwrap_or(""),
                        &rule.title,
                        rule.level.map(Level::as_str).unwrap_or(""),
                        &rule.tags.join(";"),
                        &file,
                        &record,
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    writeln!(self.out, "{}", line.join(","))?;
                }
                Format::Table { .. } => {
                    let group = self.table.entry(hit.rule).or_default();
                    group.count += 1;
                    if let Some(time) = &hit.time {
                        if group.first.as_ref().is_none_or(|f| time < f) {
                            group.first = Some(time.clone());
                        }
                        if group.last.as_ref().is_none_or(|l| time > l) {
                            group.last = Some(time.clone());
                        }
                    }
                    if let Some(host) = &hit.computer {
                        group.hosts.insert(host.clone());
                    }
                    if let Some(file) = hit.file {
                        group.source.get_or_insert((file, hit.record));
                        group.files.insert(file);
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the output: the table, if that is the format.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Format::Table { color } = self.format {
            self.table(color)?;
        }
        self.out.flush()
    }

    fn table(&mut self, color: bool) -> std::io::Result<()> {
        if self.table.is_empty() {
            return writeln!(self.out, "no hits");
        }
        let mut groups: Vec<(&usize, &Group)> = self.table.iter().collect();
        // Most severe first, then most hits, then by title.
        groups.sort_by(|(a, ga), (b, gb)| {
            let (ra, rb) = (self.rules[**a], self.rules[**b]);
            rb.level
                .cmp(&ra.level)
                .then(gb.count.cmp(&ga.count))
                .then(ra.title.cmp(&rb.title))
                .then(a.cmp(b))
        });
        // Titles padded to the longest (at most 60), so that the sources
        // line up after them.
        let width = groups
            .iter()
            .map(|(i, _)| self.rules[**i].title.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        writeln!(
            self.out,
            "{:<13} {:>7}  {:<19}  {:<19}  {:<30}  {:<width$}  FIRST HIT AT",
            "LEVEL", "HITS", "FIRST", "LAST", "HOSTS", "RULE"
        )?;
        for (index, group) in groups {
            let rule = self.rules[*index];
            let level = rule.level.map(Level::as_str).unwrap_or("-");
            let padded = format!("{level:<13}");
            let level_text = match (color, rule.level) {
                (true, Some(l)) => format!("{}{padded}\x1b[0m", ansi(l)),
                _ => padded,
            };
            let line = format!(
                "{level_text} {:>7}  {:<19}  {:<19}  {:<30}  {:<width$}  {}",
                group.count,
                short_time(group.first.as_deref()),
                short_time(group.last.as_deref()),
                hosts(&group.hosts),
                rule.title,
                self.source(group)
            );
            writeln!(self.out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// `file:record` of a group's first hit, and how many other files
    /// have hits.
    fn source(&self, group: &Group) -> String {
        let Some((file, record)) = group.source else {
            return "-".into();
        };
        let name = self
            .files
            .get(file)
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        let mut text = match record {
            Some(record) => format!("{name}:{record}"),
            None => name,
        };
        if group.files.len() > 1 {
            text.push_str(&format!(" (+{} files)", group.files.len() - 1));
        }
        text
    }
}

fn ansi(level: Level) -> &'static str {
    match level {
        Level::Critical => "\x1b[1;31m",
        Level::High => "\x1b[31m",
        Level::Medium => "\x1b[33m",
        Level::Low => "\x1b[36m",
        Level::Informational => "\x1b[2m",
    }
}

/// `2019-05-12T10:01:02.123Z` as `2019-05-12 10:01:02`.
fn short_time(time: Option<&str>) -> String {
    match time {
        None => "-".into(),
        Some(t) => t.chars().take(19).collect::<String>().replacen('T', " ", 1),
    }
}

fn hosts(hosts: &BTreeSet<String>) -> String {
    let mut names: Vec<&str> = hosts.iter().take(2).map(String::as_str).collect();
    if names.is_empty() {
        names.push("-");
    }
    let mut text = names.join(", ");
    if hosts.len() > 2 {
        text.push_str(&format!(" (+{})", hosts.len() - 2));
    }
    text
}

/// One CSV field, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn times_are_shortened_for_the_table() {
        assert_eq!(
            short_time(Some("2019-05-12T10:01:02.123Z")),
            "2019-05-12 10:01:02"
        );
        assert_eq!(short_time(None), "-");
    }
}

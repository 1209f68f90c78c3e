//! Hunt inputs: which files to read, and each file's events.
//!
//! A file is recognised by its content (its extension only breaks ties),
//! so that the README or LICENSE of a folder of logs is not hunted:
//!
//! - EVTX: starts with the EVTX magic `ElfFile\0` (or is named `.evtx`,
//!   and is then read as one, damaged or not). Rendered as JSON by the
//!   `evtx` crate (`{"Event": {"System": .., "EventData": ..}}`) and put in
//!   the Sigma view by the Windows mapping. Record id: the EVTX record
//!   number (`EventRecordID`).
//! - JSON lines: the first non-blank line is a JSON object (or the name
//!   ends `.jsonl` / `.ndjson`). Record id: the line number.
//! - a JSON stream: starts with `[` or `{` but its first line is not a
//!   whole object (or the name ends `.json`): one or many JSON values, any
//!   layout; a top-level array is a list of events. Record id: the line
//!   where the event starts.
//! - text logs: most of the first lines carry a time of day, a date, an
//!   epoch time or a syslog priority ([`looks_like_a_log`]); one event a
//!   line, `{"message": line}` with no log source, so only rules that name
//!   no product, category or service can match it (a line that is a JSON
//!   object is read as one). Record id: the line number.
//! - anything else (binary files, prose such as a README) is skipped, and
//!   the summary names it with the reason.
//!
//! JSON objects with a Windows event id (`EventID`, either shape) go through
//! the Windows mapping. Other objects keep their fields as they are; their
//! log source is read from top-level `product`, `category` and `service`
//! string fields when present (otherwise empty: only rules without those
//! constraints apply).

use anyhow::Context;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use vigil_sigma::logsource::EventSource;
use vigil_sigma::windows::WindowsMapping;

/// One event, ready for the rules.
pub struct Event {
    pub source: EventSource,
    pub fields: Map<String, Value>,
    /// Where it is in its file: the EVTX record number, or the line.
    pub record: Option<u64>,
}

/// What reading a file came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Read,
    /// Not a log: the reason.
    Skipped(String),
}

/// More warnings than this for one file are counted, not printed.
const MAX_WARNINGS_PER_FILE: usize = 20;

/// The warnings of one file, capped.
#[derive(Default)]
pub struct Warnings {
    pub shown: Vec<String>,
    pub total: usize,
}

impl Warnings {
    pub fn push(&mut self, warning: String) {
        self.total += 1;
        if self.shown.len() < MAX_WARNINGS_PER_FILE {
            self.shown.push(warning);
        }
    }
}

/// Every file under `paths` (files or folders, recursively): the inputs in
/// the order given, each folder's files sorted by path. An input that
/// cannot be read is an error.
pub fn input_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let before = files.len();
        collect(path, &mut files).with_context(|| format!("cannot read {}", path.display()))?;
        files[before..].sort();
    }
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), files)?;
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Evtx,
    JsonStream,
    JsonLines,
    Text,
    /// Not read: why.
    Skip(String),
}

use vigil_decode::evtx::EVTX_MAGIC;
use vigil_decode::sniff::looks_like_a_log;

/// Bytes of a file's start that decide its kind.
const HEAD_BYTES: u64 = 64 * 1024;
/// Non-blank lines of a text file looked at.
const SAMPLE_LINES: usize = 20;

/// A capture, a trace or an archive rather than log lines: more than one
/// byte in twenty of the file's start is NUL or a control character other
/// than tab, line feed and carriage return. (A stray NUL in a text log, as
/// web logs sometimes have, does not make it binary.)
fn looks_binary(head: &[u8]) -> bool {
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    control * 20 > head.len()
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The kind of a file, by its content. `any_text` reads any text file as
/// log lines (`vigil rules test`: raw lines without times).
fn kind_of(path: &Path, any_text: bool) -> Result<Kind, String> {
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
        .map_err(|e| e.to_string())?;
    let ext = extension(path);
    if head.starts_with(EVTX_MAGIC) || ext.as_deref() == Some("evtx") {
        return Ok(Kind::Evtx);
    }
    if looks_binary(&head) {
        return Ok(Kind::Skip("binary, neither EVTX nor text".into()));
    }
    let text = String::from_utf8_lossy(&head);
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Ok(Kind::Skip("empty".into()));
    };
    let first_is_object =
        first.starts_with('{') && serde_json::from_str::<Map<String, Value>>(first).is_ok();
    Ok(match ext.as_deref() {
        Some("jsonl") | Some("ndjson") => Kind::JsonLines,
        Some("json") => Kind::JsonStream,
        // JSON lines under another name: text mode reads object lines as
        // JSON, and any other line as a message.
        _ if first_is_object => Kind::Text,
        _ if first.starts_with('[') || first.starts_with('{') => Kind::JsonStream,
        _ if any_text || looks_like_a_log(&text, SAMPLE_LINES) => Kind::Text,
        _ => Kind::Skip(
            "not a log: most of its first lines have no time, date or syslog priority".into(),
        ),
    })
}

/// Reads every event of `path`, in file order, whatever text it holds
/// (`vigil rules test`). Problems inside the file (a bad chunk, a bad
/// line) are warnings and reading goes on; `Err` means the file could
/// not be read at all.
pub fn read_file(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<(), String> {
    match read(path, true, mapping, on_event, warnings)? {
        Outcome::Read => Ok(()),
        Outcome::Skipped(reason) => {
            warnings.push(format!("skipped: {reason}"));
            Ok(())
        }
    }
}

/// Reads every event of a hunt's input, in file order, or skips a file
/// that is not a log (see the module's doc).
pub fn read_input(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<Outcome, String> {
    read(path, false, mapping, on_event, warnings)
}

fn read(
    path: &Path,
    any_text: bool,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<Outcome, String> {
    match kind_of(path, any_text)? {
        Kind::Evtx => read_evtx(path, mapping, on_event, warnings)?,
        Kind::JsonStream => read_json_stream(path, mapping, on_event, warnings)?,
        Kind::JsonLines => read_lines(path, mapping, on_event, warnings, true)?,
        Kind::Text => read_lines(path, mapping, on_event, warnings, false)?,
        Kind::Skip(reason) => return Ok(Outcome::Skipped(reason)),
    }
    Ok(Outcome::Read)
}

/// A JSON value as events, all at `record`: objects are one event,
/// arrays a list of them.
fn json_events(
    value: Value,
    record: Option<u64>,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
) {
    match value {
        Value::Array(items) => {
            for item in items {
                if item.is_object() {
                    json_events(item, record, mapping, on_event);
                }
            }
        }
        Value::Object(object) => {
            let value = Value::Object(object);
            if let Some((source, fields)) = mapping.normalize(&value) {
                on_event(Event {
                    source,
                    fields,
                    record,
                });
                return;
            }
            let Value::Object(fields) = value else {
                return;
            };
            let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
            let source = EventSource {
                product: text("product"),
                categories: text("category").into_iter().collect(),
                service: text("service"),
            };
            on_event(Event {
                source,
                fields,
                record,
            });
        }
        _ => {}
    }
}

/// Line numbers of offsets into one text, asked in increasing order.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line where `part` (a slice of the text) starts.
    fn of(&mut self, part: &str) -> u64 {
        let at = (part.as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .min(self.text.len());
        if at >= self.offset {
            let between = &self.text.as_bytes()[self.offset..at];
            self.line += between.iter().filter(|&&b| b == b'\n').count() as u64;
            self.offset = at;
        }
        self.line
    }
}

fn read_json_stream(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<(), String> {
    use serde_json::value::RawValue;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = Lines::new(&text);
    // Raw values are slices of the text: each event's line is where its
    // slice starts, elements of a top-level array included.
    let stream = serde_json::Deserializer::from_str(&text).into_iter::<&RawValue>();
    for raw in stream {
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                // The stream cannot resynchronise after an error.
                warnings.push(format!("line {}: invalid JSON: {e}", e.line()));
                break;
            }
        };
        let items = match raw.get().starts_with('[') {
            true => serde_json::from_str::<Vec<&RawValue>>(raw.get()).unwrap_or_default(),
            false => vec![raw],
        };
        for item in items {
            let line = lines.of(item.get());
            if let Ok(value) = serde_json::from_str::<Value>(item.get()) {
                json_events(value, Some(line), mapping, on_event);
            }
        }
    }
    Ok(())
}

fn read_lines(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
    json: bool,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                warnings.push(format!("line {}: {e}", number + 1));
                break;
            }
        }
        number += 1;
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if json || line.trim_start().starts_with('{') {
            match serde_json::from_str::<Value>(line) {
                Ok(value) => {
                    json_events(value, Some(number), mapping, on_event);
                    continue;
                }
                Err(e) if json => {
                    warnings.push(format!("line {number}: invalid JSON: {e}"));
                    continue;
                }
                Err(_) => {}
            }
        }
        let mut fields = Map::new();
        fields.insert("message".into(), Value::String(line.to_string()));
        on_event(Event {
            source: EventSource::default(),
            fields,
            record: Some(number),
        });
    }
    Ok(())
}

/// An EVTX record's number, as the rendered record holds it.
fn evtx_record_id(record: &Value) -> Option<u64> {
    let id = record.pointer("/Event/System/EventRecordID")?;
    id.as_u64()
        .or_else(|| id.as_str().and_then(|s| s.trim().parse().ok()))
}

fn read_evtx(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    vigil_decode::evtx::decode_evtx(
        data,
        &mut |record| {
            let id = evtx_record_id(&record);
            json_events(record, id, mapping, on_event)
        },
        &mut |warning| warnings.push(warning),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(name: &str, text: &str) -> (Vec<Event>, Warnings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut events = Vec::new();
        let mut warnings = Warnings::default();
        let outcome = read_input(
            &path,
            &WindowsMapping::embedded(),
            &mut |e| events.push(e),
            &mut warnings,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Read, "{name}");
        (events, warnings)
    }

    #[test]
    fn windows_json_gets_the_mapping_and_others_their_own_source() {
        let (events, warnings) = events_of(
            "a.ndjson",
            "{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"x\"}\n\
             {\"product\": \"linux\", \"service\": \"auth\", \"msg\": \"y\"}\n\
             not json\n",
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].source.product.as_deref(), Some("windows"));
        assert_eq!(events[1].source.product.as_deref(), Some("linux"));
        assert_eq!(events[1].source.service.as_deref(), Some("auth"));
        assert_eq!(warnings.total, 1);
        assert!(warnings.shown[0].starts_with("line 3: invalid JSON"));
    }

    #[test]
    fn text_lines_are_messages_and_json_streams_may_be_arrays() {
        let (events, _) = events_of("syslog", "10:00:01 a b\n\n{\"k\": 1}\n10:00:02 c\n");
        let messages: Vec<_> = events
            .iter()
            .map(|e| e.fields.get("message").cloned())
            .collect();
        assert_eq!(
            messages,
            vec![
                Some(Value::from("10:00:01 a b")),
                None,
                Some(Value::from("10:00:02 c"))
            ]
        );
        let records: Vec<_> = events.iter().map(|e| e.record).collect();
        assert_eq!(records, vec![Some(1), Some(3), Some(4)]);
        let (events, warnings) = events_of("a.json", "[{\"a\": 1},\n {\"b\": 2}]\n\n{\"c\":\n 3}");
        assert_eq!(events.len(), 3);
        assert_eq!(warnings.total, 0);
        let records: Vec<_> = events.iter().map(|e| e.record).collect();
        assert_eq!(records, vec![Some(1), Some(2), Some(4)]);
    }

    #[test]
    fn files_are_recognised_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let kind = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            kind_of(&path, false).unwrap()
        };
        let readme = "# Vigil\n\nOne program for an MSP's NOC and SOC.\nSee the docs.\n";
        assert!(matches!(kind("README.md", readme), Kind::Skip(r) if r.starts_with("not a log")));
        let licence = "MIT License\n\nCopyright (c) 2024 The Vigil authors\n\nPermission is hereby granted...\n";
        assert!(matches!(kind("LICENSE", licence), Kind::Skip(_)));
        assert_eq!(kind("x.txt", ""), Kind::Skip("empty".into()));
        assert_eq!(kind("events", "{\"a\": 1}\n{\"a\": 2}\n"), Kind::Text);
        assert_eq!(kind("dump", "[\n {\"a\": 1}\n]\n"), Kind::JsonStream);
        assert_eq!(kind("evtx.bin", "ElfFile\0rest"), Kind::Evtx);
        for line in [
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster",
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: done",
            "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO",
            "<34>1 web1 su: authentication failure",
            "2016-09-28 04:30:30, Info CBS Loaded Servicing Stack",
            "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component",
        ] {
            assert!(vigil_decode::sniff::looks_like_a_log_line(line), "{line}");
        }
        for line in [
            "Version 2.0, January 2004",
            "port 8080: see http://h:8080/",
            "1. Definitions.",
        ] {
            assert!(!vigil_decode::sniff::looks_like_a_log_line(line), "{line}");
        }
    }
}

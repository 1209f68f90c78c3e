//! Hunt inputs: which files to read, and each file's events.
//!
//! A file is read by its extension, then by its content:
//!
//! - `.evtx` (or any file starting with the EVTX magic): Windows event logs,
//!   rendered as JSON by the `evtx` crate (`{"Event": {"System": .., "EventData": ..}}`)
//!   and put in the Sigma view by the Windows mapping.
//! - `.json`: a stream of JSON values (one or many, any layout; a top-level
//!   array is a list of events). `.jsonl` / `.ndjson`: one JSON value a line.
//! - anything else: text, one event a line. A line that is a JSON object is
//!   read as one (JSON logs under a `.log` name); any other line becomes
//!   `{"message": line}` with no log source, so only rules that name no
//!   product, category or service can match it.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Evtx,
    JsonStream,
    JsonLines,
    Text,
    /// Neither EVTX nor text (NUL bytes near the start): skipped with a warning.
    Binary,
}

use vigil_decode::evtx::EVTX_MAGIC;

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

fn kind_of(path: &Path) -> Kind {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("evtx") => Kind::Evtx,
        Some("json") => Kind::JsonStream,
        Some("jsonl") | Some("ndjson") => Kind::JsonLines,
        _ => {
            let mut head = Vec::with_capacity(4096);
            let read = std::fs::File::open(path)
                .and_then(|f| f.take(4096).read_to_end(&mut head))
                .is_ok();
            if read && head.starts_with(EVTX_MAGIC) {
                Kind::Evtx
            } else if read && looks_binary(&head) {
                Kind::Binary
            } else {
                Kind::Text
            }
        }
    }
}

/// Reads every event of `path`, in file order. Problems inside the file
/// (a bad chunk, a bad line) are warnings and reading goes on; `Err` means
/// the file could not be read at all.
pub fn read_file(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<(), String> {
    match kind_of(path) {
        Kind::Evtx => read_evtx(path, mapping, on_event, warnings),
        Kind::JsonStream => read_json_stream(path, mapping, on_event, warnings),
        Kind::JsonLines => read_lines(path, mapping, on_event, warnings, true),
        Kind::Text => read_lines(path, mapping, on_event, warnings, false),
        Kind::Binary => {
            warnings.push("skipped: a binary file, neither EVTX nor text".into());
            Ok(())
        }
    }
}

/// A JSON value as events: objects are one event, arrays a list of them.
fn json_events(value: Value, mapping: &WindowsMapping, on_event: &mut dyn FnMut(Event)) {
    match value {
        Value::Array(items) => {
            for item in items {
                if item.is_object() {
                    json_events(item, mapping, on_event);
                }
            }
        }
        Value::Object(object) => {
            let value = Value::Object(object);
            if let Some((source, fields)) = mapping.normalize(&value) {
                on_event(Event { source, fields });
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
            on_event(Event { source, fields });
        }
        _ => {}
    }
}

fn read_json_stream(
    path: &Path,
    mapping: &WindowsMapping,
    on_event: &mut dyn FnMut(Event),
    warnings: &mut Warnings,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let stream = serde_json::Deserializer::from_reader(BufReader::new(file)).into_iter::<Value>();
    for value in stream {
        match value {
            Ok(value) => json_events(value, mapping, on_event),
            Err(e) => {
                // The stream cannot resynchronise after an error.
                warnings.push(format!("line {}: invalid JSON: {e}", e.line()));
                break;
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
    let mut number = 0usize;
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
                    json_events(value, mapping, on_event);
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
        });
    }
    Ok(())
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
        &mut |record| json_events(record, mapping, on_event),
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
        read_file(
            &path,
            &WindowsMapping::embedded(),
            &mut |e| events.push(e),
            &mut warnings,
        )
        .unwrap();
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
        let (events, _) = events_of("syslog", "a b\n\n{\"k\": 1}\nc\n");
        let messages: Vec<_> = events
            .iter()
            .map(|e| e.fields.get("message").cloned())
            .collect();
        assert_eq!(
            messages,
            vec![Some(Value::from("a b")), None, Some(Value::from("c"))]
        );
        let (events, warnings) = events_of("a.json", "[{\"a\": 1}, {\"b\": 2}]\n{\"c\": 3}");
        assert_eq!(events.len(), 3);
        assert_eq!(warnings.total, 0);
    }
}

//! The Windows mapping over real events: SigmaHQ's regression events (their
//! EVTX rendering as JSON) and the `windows-json` corpus (NXLog shape).
//! Every event maps, keeps its own `Channel`, gets `host.name` and
//! `event.code`, and mapping its view again changes nothing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use vigil_sigma::windows::WindowsMapping;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read corpus folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Every JSON value of a file (one, a stream, or one a line).
fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read JSON");
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|v| v.expect("valid JSON"))
        .collect()
}

#[derive(Default, Debug)]
struct Counts {
    events: usize,
    users: usize,
    outcomes: usize,
    actions: usize,
}

fn check(mapping: &WindowsMapping, event: &Value, counts: &mut Counts) {
    let (source, fields) = mapping.normalize(event).expect("a Windows event");
    if let Some(channel) = event.pointer("/Event/System/Channel") {
        assert_eq!(fields.get("Channel"), Some(channel), "own channel kept");
    }
    assert!(fields.contains_key("host.name"), "{fields:?}");
    assert!(fields.contains_key("event.code"), "{fields:?}");
    let (again_source, again) = mapping
        .normalize(&Value::Object(fields.clone()))
        .expect("the view is a Windows event");
    assert_eq!(again, fields, "mapping the view again changed it");
    assert_eq!(again_source, source);
    counts.events += 1;
    counts.users += usize::from(fields.contains_key("user.name"));
    counts.outcomes += usize::from(fields.contains_key("event.outcome"));
    counts.actions += usize::from(fields.contains_key("event.action"));
}

#[test]
fn real_windows_events_map_with_common_names() {
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA").map(PathBuf::from) else {
        eprintln!("VIGIL_CORPORA is not set: the Windows corpus test is skipped");
        return;
    };
    let mapping = WindowsMapping::embedded();
    for folder in ["sigma/regression_data/rules/windows", "windows-json"] {
        let mut files = Vec::new();
        json_files(&corpora.join(folder), &mut files);
        let mut counts = Counts::default();
        for file in &files {
            for event in events(file) {
                check(&mapping, &event, &mut counts);
            }
        }
        println!("{folder}: {counts:?}");
        assert!(counts.events > 100, "{folder}: {counts:?}");
        assert!(
            counts.users > 0 && counts.actions > 0,
            "{folder}: {counts:?}"
        );
    }
}

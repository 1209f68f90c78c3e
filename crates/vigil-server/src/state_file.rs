//! Engine state kept across restarts (correlation windows, NOC alert
//! state): one JSON file per kind of engine in the data directory, an
//! object of tenant id → that tenant's snapshot.
//!
//! Written atomically (temporary file, fsync, rename), so a crash leaves
//! the old state or the new, never half. A file that cannot be read is
//! logged and set aside, never fatal: losing half-counted windows is better
//! than not starting.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use vigil_core::TenantId;

/// The snapshots in `path`; empty when there is none or it is unreadable
/// (`what` names the state in the log).
pub fn read(path: &Path, what: &str) -> HashMap<TenantId, Value> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the {what}");
            return HashMap::new();
        }
    };
    match serde_json::from_slice::<HashMap<i64, Value>>(&bytes) {
        Ok(map) => map.into_iter().map(|(k, v)| (TenantId(k), v)).collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the {what} is unreadable; starting afresh");
            HashMap::new()
        }
    }
}

/// Writes the snapshots to `path` atomically.
pub fn write(
    path: &Path,
    snapshots: impl IntoIterator<Item = (TenantId, Value)>,
) -> std::io::Result<()> {
    let all: Map<String, Value> = snapshots
        .into_iter()
        .map(|(tenant, snapshot)| (tenant.0.to_string(), snapshot))
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(&Value::Object(all)).unwrap_or_default())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshots_round_trip_and_bad_files_are_set_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/state.json");
        assert!(read(&path, "test state").is_empty(), "no file yet");
        write(&path, [(TenantId(3), json!({"a": 1}))]).expect("write");
        let back = read(&path, "test state");
        assert_eq!(back.get(&TenantId(3)), Some(&json!({"a": 1})));
        std::fs::write(&path, "{not json").expect("garble");
        assert!(read(&path, "test state").is_empty());
    }
}

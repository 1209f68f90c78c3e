//! The data directory holds every tenant's events, the state database and
//! the bootstrap admin token: it is 0700 and everything in it 0600 (its
//! directories 0700), whatever the umask the server was started with.
//!
//! [`restrict_umask`] makes every file the server creates from then on
//! private (the event store, the write-ahead log, the metric store, the
//! detection state files and SQLite's journals create files through many
//! libraries; the umask covers them all), and [`restrict_tree`] fixes what
//! an older version or another umask left behind.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The mode of the data directory and the directories in it.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file in the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process umask to 0o077: new files and directories are the
/// owner's alone.
pub fn restrict_umask() {
    // SAFETY: umask only swaps the process's file mode creation mask; it
    // cannot fail and touches no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

/// Walks `root` once and takes group and other bits off everything in it
/// (symbolic links are not followed). Returns how many entries changed.
pub fn restrict_tree(root: &Path) -> io::Result<usize> {
    let mut changed = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        changed += restrict(&dir, DIR_MODE)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                changed += restrict(&entry.path(), FILE_MODE)?;
            }
        }
    }
    Ok(changed)
}

/// Sets `mode` on `path` unless it already has no group or other bits.
fn restrict(path: &Path, mode: u32) -> io::Result<usize> {
    let current = std::fs::symlink_metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 == 0 && current & 0o700 == mode & 0o700 {
        return Ok(0);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loose_tree_becomes_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("events/1")).expect("dirs");
        std::fs::write(root.join("state.db"), "x").expect("file");
        std::fs::write(root.join("events/1/seg"), "x").expect("file");
        for (path, mode) in [
            (root.clone(), 0o755),
            (root.join("events"), 0o775),
            (root.join("state.db"), 0o644),
            (root.join("events/1/seg"), 0o666),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        assert!(restrict_tree(&root).expect("walk") >= 4);
        for (path, want) in [
            (root.clone(), DIR_MODE),
            (root.join("events"), DIR_MODE),
            (root.join("events/1"), DIR_MODE),
            (root.join("state.db"), FILE_MODE),
            (root.join("events/1/seg"), FILE_MODE),
        ] {
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, want, "{}", path.display());
        }
        assert_eq!(
            restrict_tree(&root).expect("again"),
            0,
            "nothing left to fix"
        );
    }
}

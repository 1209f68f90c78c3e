//! The command line: `vigil config check`, `vigil version`.

use std::process::Command;

fn vigil(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_SERVER_LISTEN")
        .output()
        .expect("run vigil");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn config_check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9000\"\n[[tenants]]\nname = \"acme\"\n",
    )
    .unwrap();
    let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok (1 tenant(s), listen 127.0.0.1:9000"),
        "{text}"
    );
}

#[test]
fn config_check_names_the_bad_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9000\"\n\n[ingest]\nmax_lines = 3\n",
    )
    .unwrap();
    let (ok, text) = vigil(&["config", "check", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        text.contains("line 5") && text.contains("max_lines"),
        "{text}"
    );
    let (ok, text) = vigil(&["config", "check", "/nonexistent/vigil.toml"]);
    assert!(!ok);
    assert!(text.contains("cannot read config file"), "{text}");
}

#[test]
fn version_prints_the_version() {
    let (ok, text) = vigil(&["version"]);
    assert!(ok);
    assert_eq!(text.trim(), format!("vigil {}", env!("CARGO_PKG_VERSION")));
}

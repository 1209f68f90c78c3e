//! The state conformance suite on SQLite (a fresh file per test, and once on
//! the in-memory store), plus what only a file database can show: secrets
//! never reach the disk, and data survives a restart.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use vigil_core::{TenantId, TenantName};
use vigil_store::state::{
    conformance::PASSWORD, NewToken, Role, SqliteState, StateStore, TenantScope,
};

/// A store in a temporary directory that lives as long as the store.
struct TempState {
    state: SqliteState,
    dir: TempDir,
}

impl TempState {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let state = SqliteState::open(&db_path(dir.path()))
            .await
            .expect("open state db");
        TempState { state, dir }
    }
}

impl Deref for TempState {
    type Target = SqliteState;

    fn deref(&self) -> &SqliteState {
        &self.state
    }
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("state.db")
}

vigil_store::state_conformance_tests!(TempState::new().await);

mod detection {
    use super::TempState;

    vigil_store::detection_conformance_tests!(TempState::new().await);
}

mod inventory {
    use super::TempState;

    vigil_store::inventory_conformance_tests!(TempState::new().await);
}

mod audit {
    use super::{SqliteState, TempState};

    vigil_store::audit_conformance_tests!(TempState::new().await);

    mod in_memory {
        use super::SqliteState;

        vigil_store::audit_conformance_tests!(Box::new(
            SqliteState::in_memory().await.expect("in-memory state")
        ));
    }
}

mod in_memory {
    use super::SqliteState;

    vigil_store::state_conformance_tests!(Box::new(
        SqliteState::in_memory().await.expect("in-memory state")
    ));
    vigil_store::detection_conformance_tests!(Box::new(
        SqliteState::in_memory().await.expect("in-memory state")
    ));
}

/// Every byte SQLite wrote: the database, its WAL and shared memory.
fn files_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read temp dir") {
        let path = entry.expect("dir entry").path();
        // SQLite may remove a journal between the listing and the read.
        match std::fs::read(&path) {
            Ok(bytes) => all.extend(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn token_plaintext_never_reaches_the_file() {
    let store = TempState::new().await;
    let acme = TenantName::new("acme").expect("valid");
    let tenant = store.create_tenant(&acme, 30).await.expect("tenant");
    let new = NewToken {
        role: Role::Ingest,
        tenant: Some(tenant.id),
        user_id: None,
        label: Some("probe".into()),
        expires_at: None,
    };
    let (_, secret) = store.create_token(new).await.expect("token");

    let before_close = files_bytes(store.dir.path());
    store.close().await;
    let after_close = files_bytes(store.dir.path());
    let hex = &secret["vgl_".len()..];
    for bytes in [&before_close, &after_close] {
        assert!(!contains(bytes, hex), "the token's secret is on disk");
        assert!(contains(bytes, "probe"), "the search cannot see the data");
    }
    let stored_hash = sha256_hex(&secret);
    assert!(
        contains(&before_close, &stored_hash) || contains(&after_close, &stored_hash),
        "the token's SHA-256 should be what is stored"
    );
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(dir.path());
    let store = SqliteState::open(&path).await.expect("open");
    let name = TenantName::new("acme").expect("valid");
    let tenant = store.create_tenant(&name, 45).await.expect("tenant");
    let user = store
        .create_user("alice", PASSWORD, Role::SocAnalyst, &[tenant.id])
        .await
        .expect("user");
    let user_token = NewToken {
        role: Role::SocAnalyst,
        tenant: None,
        user_id: Some(user.id),
        label: None,
        expires_at: None,
    };
    let (_, secret) = store.create_token(user_token).await.expect("token");
    store.close().await;
    drop(store);

    let store = SqliteState::open(&path).await.expect("reopen");
    assert_eq!(
        store.list_tenants().await.expect("list"),
        vec![tenant.clone()]
    );
    assert_eq!(store.list_users().await.expect("list"), vec![user.clone()]);
    let back = store
        .verify_password("alice", PASSWORD)
        .await
        .expect("verify");
    assert_eq!(back, Some(user));
    let p = store
        .authenticate(&secret)
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(p.scope, TenantScope::Only(vec![tenant.id]));
    let next = TenantName::new("beta").expect("valid");
    let beta = store
        .create_tenant(&next, 1)
        .await
        .expect("new tenant after reopen");
    assert!(beta.id > tenant.id, "ids keep increasing after a reopen");
}

#[tokio::test]
async fn reopening_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(dir.path());
    for _ in 0..3 {
        let store = SqliteState::open(&path).await.expect("open");
        store.close().await;
    }
}

#[tokio::test]
async fn opening_a_missing_directory_fails_with_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no").join("such").join("state.db");
    let err = SqliteState::open(&path).await.expect_err("cannot create");
    assert!(err.to_string().contains("state.db"), "{err}");
}

#[tokio::test]
async fn clones_share_one_database() {
    let store = SqliteState::in_memory().await.expect("memory");
    let clone = store.clone();
    let name = TenantName::new("acme").expect("valid");
    store.create_tenant(&name, 30).await.expect("tenant");
    assert!(clone.tenant_by_name("acme").await.expect("get").is_some());
    assert_eq!(
        clone
            .tenant(TenantId(1))
            .await
            .expect("get")
            .map(|t| t.name),
        Some(name)
    );
}

//! The behaviour every [`StateStore`] backend must show, as async test
//! functions, and [`state_conformance_tests!`](crate::state_conformance_tests)
//! which turns them into one `#[tokio::test]` each.
//!
//! Each function expects an empty store and panics on the first deviation.
//! They are public (not `cfg(test)`) because a backend's own test crate runs
//! them: `vigil_store::state_conformance_tests!(make_store().await);`.

use super::{
    NewSession, NewToken, Principal, Role, StateError, StateStore, Tenant, TenantScope, TokenInfo,
};
use vigil_core::{TenantId, TenantName, Timestamp};

/// Expands to one `#[tokio::test]` per conformance function.
///
/// The argument is an expression, evaluated in an async context once per
/// test (so it may contain `.await`), that yields an empty store behind a
/// pointer: `Box<S>`, `Arc<S>`, or a guard that `Deref`s to `S` (handy to
/// keep a temporary directory alive for the test), where `S: StateStore`.
/// The calling crate needs `tokio` with the `macros` and `rt` features.
///
/// ```ignore
/// vigil_store::state_conformance_tests!(Box::new(SqliteState::in_memory().await.unwrap()));
/// ```
#[macro_export]
macro_rules! state_conformance_tests {
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                let store = $make;
                $crate::state::conformance::$name(&*store).await;
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::state_conformance_tests!(@each $make;
            tenants_create_get_and_list,
            tenant_name_conflict,
            tenant_retention,
            users_with_roles_and_tenants,
            users_reject_bad_input,
            verify_password_right_wrong_unknown,
            token_plaintext_format,
            token_roles_and_scopes,
            token_rejects_bad_combinations,
            authenticate_right_wrong_revoked,
            user_token_follows_user_changes,
            tokens_never_cross_tenants,
            list_tokens_shows_owner_never_secret,
            expired_tokens_do_not_authenticate,
            purge_deletes_only_expired_tokens,
            concurrent_writes_all_succeed,
            user_names_are_one_whatever_case_width_or_invisibles,
            weak_passwords_are_refused,
            tenant_lookup_ignores_case,
            password_change_ends_other_sessions,
            disabling_ends_every_token_at_once,
            deleting_a_user_ends_their_tokens,
            sessions_listed_without_secret_and_revoked,
            idle_sessions_end,
        );
    };
}

/// A password that passes the rules.
pub const PASSWORD: &str = "correct horse battery staple";

async fn tenant(store: &dyn StateStore, name: &str) -> Tenant {
    let name = TenantName::new(name).expect("test tenant name is valid");
    store
        .create_tenant(&name, 30)
        .await
        .expect("create_tenant failed")
}

fn new_token(role: Role, tenant: Option<TenantId>, user_id: Option<i64>) -> NewToken {
    NewToken {
        role,
        tenant,
        user_id,
        label: None,
        expires_at: None,
    }
}

async fn token(store: &dyn StateStore, new: NewToken) -> (TokenInfo, String) {
    let what = format!("{new:?}");
    store
        .create_token(new)
        .await
        .unwrap_or_else(|e| panic!("create_token({what}) failed: {e}"))
}

async fn principal(store: &dyn StateStore, secret: &str) -> Principal {
    store
        .authenticate(secret)
        .await
        .expect("authenticate failed")
        .expect("a valid token must authenticate")
}

fn assert_recent(t: Timestamp) {
    let age = Timestamp::now().micros() - t.micros();
    assert!((0..60_000_000).contains(&age), "created_at {t} is not now");
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StateError>, what: &str) {
    assert!(
        matches!(r, Err(StateError::Invalid(_))),
        "{what}: expected Invalid, got {r:?}"
    );
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StateError>, what: &str) {
    assert!(
        matches!(r, Err(StateError::NotFound(_))),
        "{what}: expected NotFound, got {r:?}"
    );
}

pub async fn tenants_create_get_and_list(store: &dyn StateStore) {
    assert!(store.list_tenants().await.expect("list").is_empty());
    let beta = tenant(store, "beta").await;
    let name = TenantName::new("acme").expect("valid");
    let acme = store.create_tenant(&name, 90).await.expect("create acme");
    assert_eq!(acme.name, name);
    assert_eq!(acme.retention_days, 90);
    assert_ne!(acme.id, beta.id);
    assert_recent(acme.created_at);

    assert_eq!(
        store.tenant(acme.id).await.expect("get"),
        Some(acme.clone())
    );
    assert_eq!(
        store.tenant_by_name("acme").await.expect("by name"),
        Some(acme.clone())
    );
    assert_eq!(store.tenant_by_name("nope").await.expect("by name"), None);
    assert_eq!(store.tenant_by_name("").await.expect("by name"), None);
    assert_eq!(store.tenant(TenantId(987_654)).await.expect("get"), None);
    assert_eq!(store.list_tenants().await.expect("list"), vec![acme, beta]);
}

pub async fn tenant_name_conflict(store: &dyn StateStore) {
    let first = tenant(store, "acme").await;
    let name = TenantName::new("acme").expect("valid");
    let again = store.create_tenant(&name, 7).await;
    assert!(
        matches!(&again, Err(StateError::Conflict(m)) if m.contains("acme")),
        "expected a Conflict naming the tenant, got {again:?}"
    );
    assert_eq!(store.list_tenants().await.expect("list"), vec![first]);
}

pub async fn tenant_retention(store: &dyn StateStore) {
    let acme = tenant(store, "acme").await;
    store.set_retention(acme.id, 365).await.expect("set");
    let got = store.tenant(acme.id).await.expect("get").expect("exists");
    assert_eq!(got.retention_days, 365);

    assert_not_found(
        store.set_retention(TenantId(987_654), 30).await,
        "unknown tenant",
    );
    assert_invalid(store.set_retention(acme.id, 0).await, "zero days");
    let name = TenantName::new("zero").expect("valid");
    assert_invalid(store.create_tenant(&name, 0).await, "create with zero days");
    assert_invalid(
        store.create_tenant(&name, u32::MAX).await,
        "create with absurd retention",
    );
    let got = store.tenant(acme.id).await.expect("get").expect("exists");
    assert_eq!(got.retention_days, 365, "a refused change changes nothing");
}

pub async fn users_with_roles_and_tenants(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    assert_eq!(store.count_users().await.expect("count"), 0);
    let admin = store
        .create_user("admin", PASSWORD, Role::MspAdmin, &[])
        .await
        .expect("msp admin");
    let noc = store
        .create_user("noc", PASSWORD, Role::NocOperator, &[b, a, b])
        .await
        .expect("noc operator");
    let soc = store
        .create_user("soc", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("soc analyst");
    let viewer = store
        .create_user("viewer@client-b", PASSWORD, Role::ClientViewer, &[b])
        .await
        .expect("client viewer");

    assert_eq!(admin.tenants, vec![]);
    assert_eq!(noc.tenants, vec![a, b], "sorted, without duplicates");
    assert_eq!(soc.role, Role::SocAnalyst);
    assert_eq!(viewer.tenants, vec![b]);
    assert_recent(noc.created_at);
    assert_eq!(store.count_users().await.expect("count"), 4);
    assert_eq!(
        store.list_users().await.expect("list"),
        vec![admin, noc, soc, viewer],
        "ordered by name"
    );
}

pub async fn users_reject_bad_input(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    let bad_passwords = ["", "short", "elevenchars", "aaaaaaaaaaaa"];
    for pw in bad_passwords {
        let r = store.create_user("alice", pw, Role::SocAnalyst, &[a]).await;
        assert_invalid(r, &format!("password {pw:?}"));
    }
    let long_name = "x".repeat(65);
    for name in ["", "al ice", "alice\n", "tab\there", long_name.as_str()] {
        let r = store
            .create_user(name, PASSWORD, Role::SocAnalyst, &[a])
            .await;
        assert_invalid(r, &format!("user name {name:?}"));
    }
    for role in [Role::Ingest, Role::Read, Role::Admin] {
        let r = store.create_user("alice", PASSWORD, role, &[a]).await;
        assert_invalid(r, &format!("token role {role} for a user"));
    }
    let combos: [(Role, &[TenantId]); 3] = [
        (Role::MspAdmin, &[a]),
        (Role::ClientViewer, &[]),
        (Role::ClientViewer, &[a, b]),
    ];
    for (role, tenants) in combos {
        let r = store.create_user("alice", PASSWORD, role, tenants).await;
        assert_invalid(r, &format!("{role} with {tenants:?}"));
    }
    let r = store
        .create_user(
            "alice",
            PASSWORD,
            Role::NocOperator,
            &[a, TenantId(987_654)],
        )
        .await;
    assert_not_found(r, "unknown tenant");
    assert_eq!(
        store.count_users().await.expect("count"),
        0,
        "a refused user leaves nothing behind"
    );

    let ok = store
        .create_user("alice", "twelve chars", Role::SocAnalyst, &[a])
        .await
        .expect("12 characters is enough");
    let r = store
        .create_user("alice", PASSWORD, Role::SocAnalyst, &[b])
        .await;
    assert!(
        matches!(&r, Err(StateError::Conflict(m)) if m.contains("alice")),
        "duplicate name: expected a Conflict naming the user, got {r:?}"
    );
    assert_eq!(store.list_users().await.expect("list"), vec![ok]);
}

pub async fn verify_password_right_wrong_unknown(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let alice = store
        .create_user("alice", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("create");
    let right = store
        .verify_password("alice", PASSWORD)
        .await
        .expect("verify");
    assert_eq!(right, Some(alice));
    for wrong in ["", "correct horse battery staplE", "correct horse battery"] {
        let got = store.verify_password("alice", wrong).await.expect("verify");
        assert_eq!(got, None, "wrong password {wrong:?}");
    }
    let any_case = store
        .verify_password("ALICE", PASSWORD)
        .await
        .expect("verify");
    assert_eq!(
        any_case.map(|u| u.name),
        Some("alice".into()),
        "names ignore case"
    );
    for unknown in ["bob", "alice\u{200B}", ""] {
        let got = store
            .verify_password(unknown, PASSWORD)
            .await
            .expect("verify");
        assert_eq!(got, None, "unknown user {unknown:?}");
    }
}

pub async fn token_plaintext_format(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let (info, first) = token(store, new_token(Role::Ingest, Some(a), None)).await;
    let (_, second) = token(store, new_token(Role::Ingest, Some(a), None)).await;
    for secret in [&first, &second] {
        let hex = secret.strip_prefix("vgl_").expect("starts with vgl_");
        assert_eq!(hex.len(), 64, "{secret}");
        assert!(
            hex.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{secret} is not lowercase hex"
        );
    }
    assert_ne!(first, second);
    assert_eq!(info.role, Role::Ingest);
    assert_eq!(info.tenant, Some(a));
    assert_eq!(info.user, None);
    assert_recent(info.created_at);
    assert!(!format!("{info:?}").contains(&first[4..]));
}

pub async fn token_roles_and_scopes(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    for role in Role::ALL {
        let (info, secret) = token(store, new_token(role, Some(a), None)).await;
        let p = principal(store, &secret).await;
        assert_eq!(p.token_id, info.id);
        assert_eq!(p.role, role);
        assert_eq!(p.scope, TenantScope::Only(vec![a]), "{role} bound to a");
        assert_eq!(p.user, None);
    }
    let (_, msp) = token(store, new_token(Role::MspAdmin, None, None)).await;
    assert_eq!(principal(store, &msp).await.scope, TenantScope::All);

    let users = [
        ("admin", Role::MspAdmin, vec![], TenantScope::All),
        (
            "noc",
            Role::NocOperator,
            vec![b, a],
            TenantScope::Only(vec![a, b]),
        ),
        ("soc", Role::SocAnalyst, vec![b], TenantScope::Only(vec![b])),
        (
            "unassigned",
            Role::SocAnalyst,
            vec![],
            TenantScope::Only(vec![]),
        ),
        (
            "viewer",
            Role::ClientViewer,
            vec![a],
            TenantScope::Only(vec![a]),
        ),
    ];
    for (name, role, tenants, scope) in users {
        let user = store
            .create_user(name, PASSWORD, role, &tenants)
            .await
            .expect("create user");
        let (info, secret) = token(store, new_token(role, None, Some(user.id))).await;
        assert_eq!(info.user.as_deref(), Some(name));
        let p = principal(store, &secret).await;
        assert_eq!((p.role, p.scope), (role, scope), "token of user {name}");
        assert_eq!(p.user.as_deref(), Some(name));
    }
}

pub async fn token_rejects_bad_combinations(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let noc = store
        .create_user("noc", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create user")
        .id;
    let invalid = [
        new_token(Role::Ingest, None, None),
        new_token(Role::Read, None, None),
        new_token(Role::Admin, None, None),
        new_token(Role::NocOperator, None, None),
        new_token(Role::SocAnalyst, None, None),
        new_token(Role::ClientViewer, None, None),
        new_token(Role::Read, None, Some(noc)),
        new_token(Role::SocAnalyst, None, Some(noc)),
        new_token(Role::NocOperator, Some(a), Some(noc)),
        NewToken {
            label: Some("line\nbreak".into()),
            ..new_token(Role::Read, Some(a), None)
        },
    ];
    for new in invalid {
        let what = format!("{new:?}");
        assert_invalid(store.create_token(new).await, &what);
    }
    let r = store
        .create_token(new_token(Role::Read, Some(TenantId(987_654)), None))
        .await;
    assert_not_found(r, "unknown tenant");
    let r = store
        .create_token(new_token(Role::NocOperator, None, Some(987_654)))
        .await;
    assert_not_found(r, "unknown user");
    assert!(store.list_tokens(None).await.expect("list").is_empty());
}

pub async fn authenticate_right_wrong_revoked(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let (info, secret) = token(store, new_token(Role::Read, Some(a), None)).await;
    let (_, other) = token(store, new_token(Role::Admin, Some(a), None)).await;
    assert_eq!(principal(store, &secret).await.token_id, info.id);

    let unknown = format!("vgl_{}", "0".repeat(64));
    let wrong = [
        "",
        "vgl_",
        "Bearer x",
        unknown.as_str(),
        &secret.to_uppercase(),
        &secret[..secret.len() - 1],
        &format!("{secret} "),
        &secret[4..],
    ];
    for w in wrong {
        let got = store.authenticate(w).await.expect("authenticate");
        assert_eq!(got, None, "{w:?} must not authenticate");
    }

    store.revoke_token(info.id).await.expect("revoke");
    assert_eq!(store.authenticate(&secret).await.expect("auth"), None);
    assert_not_found(store.revoke_token(info.id).await, "revoked twice");
    assert_not_found(store.revoke_token(987_654).await, "unknown token");
    assert_eq!(principal(store, &other).await.role, Role::Admin);
    let ids: Vec<i64> = store
        .list_tokens(None)
        .await
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(!ids.contains(&info.id), "a revoked token is not listed");
}

pub async fn user_token_follows_user_changes(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    let user = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create");
    let (_, secret) = token(store, new_token(Role::NocOperator, None, Some(user.id))).await;
    assert_eq!(
        principal(store, &secret).await.scope,
        TenantScope::Only(vec![a])
    );

    let changed = store
        .update_user(user.id, Role::SocAnalyst, &[b, a])
        .await
        .expect("update");
    assert_eq!(
        (changed.role, changed.tenants.clone()),
        (Role::SocAnalyst, vec![a, b])
    );
    assert_eq!(
        (changed.name.as_str(), changed.created_at),
        ("pat", user.created_at)
    );
    let p = principal(store, &secret).await;
    assert_eq!(
        (p.role, p.scope),
        (Role::SocAnalyst, TenantScope::Only(vec![a, b]))
    );
    let listed = store.list_tokens(None).await.expect("list");
    assert_eq!(
        listed[0].role,
        Role::SocAnalyst,
        "listing shows the user's role"
    );

    store
        .update_user(user.id, Role::ClientViewer, &[b])
        .await
        .expect("update");
    let p = principal(store, &secret).await;
    assert_eq!(
        (p.role, p.scope),
        (Role::ClientViewer, TenantScope::Only(vec![b]))
    );

    store
        .update_user(user.id, Role::MspAdmin, &[])
        .await
        .expect("update");
    assert_eq!(principal(store, &secret).await.scope, TenantScope::All);

    assert_not_found(
        store.update_user(987_654, Role::SocAnalyst, &[a]).await,
        "unknown user",
    );
    assert_not_found(
        store
            .update_user(user.id, Role::SocAnalyst, &[TenantId(987_654)])
            .await,
        "unknown tenant",
    );
    assert_invalid(
        store
            .update_user(user.id, Role::ClientViewer, &[a, b])
            .await,
        "client viewer with two tenants",
    );
    let p = principal(store, &secret).await;
    assert_eq!(
        (p.role, p.scope),
        (Role::MspAdmin, TenantScope::All),
        "a refused update changes nothing"
    );
    let stored = store.list_users().await.expect("list");
    assert_eq!(
        (stored[0].role, stored[0].tenants.clone()),
        (Role::MspAdmin, vec![])
    );
}

pub async fn tokens_never_cross_tenants(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    let mut ids = [Vec::new(), Vec::new()];
    for (i, (mine, other)) in [(a, b), (b, a)].into_iter().enumerate() {
        for role in [Role::Ingest, Role::Read, Role::Admin, Role::ClientViewer] {
            let (info, secret) = token(store, new_token(role, Some(mine), None)).await;
            let scope = principal(store, &secret).await.scope;
            assert!(scope.allows(mine), "{role} token of {mine}");
            assert!(
                !scope.allows(other),
                "{role} token of {mine} reaches {other}"
            );
            ids[i].push(info.id);
        }
        let viewer = store
            .create_user(
                &format!("viewer-{mine}"),
                PASSWORD,
                Role::ClientViewer,
                &[mine],
            )
            .await
            .expect("create viewer");
        let (_, secret) = token(store, new_token(Role::ClientViewer, None, Some(viewer.id))).await;
        let scope = principal(store, &secret).await.scope;
        assert!(
            scope.allows(mine) && !scope.allows(other),
            "viewer of {mine}"
        );
    }
    for (tenant, expected) in [(a, &ids[0]), (b, &ids[1])] {
        let listed: Vec<i64> = store
            .list_tokens(Some(tenant))
            .await
            .expect("list")
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(&listed, expected, "tokens listed for tenant {tenant}");
    }
    assert_eq!(store.list_tokens(None).await.expect("list").len(), 10);
}

pub async fn list_tokens_shows_owner_never_secret(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let user = store
        .create_user("sam", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("create");
    let labelled = NewToken {
        label: Some("collector eu-1".into()),
        ..new_token(Role::Ingest, Some(a), None)
    };
    let (first, s1) = token(store, labelled).await;
    let (second, s2) = token(store, new_token(Role::SocAnalyst, None, Some(user.id))).await;
    let (third, s3) = token(store, new_token(Role::MspAdmin, None, None)).await;
    let listed = store.list_tokens(None).await.expect("list");
    assert_eq!(
        listed,
        vec![first.clone(), second.clone(), third],
        "ordered by id"
    );
    assert_eq!(first.label.as_deref(), Some("collector eu-1"));
    assert_eq!(second.user.as_deref(), Some("sam"));
    assert_eq!(second.tenant, None);
    let shown = format!("{listed:?}");
    for secret in [s1, s2, s3] {
        assert!(!shown.contains(&secret[4..]), "a listing shows a secret");
    }
    assert_eq!(store.list_tokens(Some(a)).await.expect("list"), vec![first]);
}

/// `Timestamp::now()` shifted by `secs` seconds.
fn seconds_from_now(secs: i64) -> Timestamp {
    Timestamp(Timestamp::now().micros() + secs * 1_000_000)
}

fn expiring(new: NewToken, at: Timestamp) -> NewToken {
    NewToken {
        expires_at: Some(at),
        ..new
    }
}

pub async fn expired_tokens_do_not_authenticate(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let user = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create user");
    let past = seconds_from_now(-1);
    let future = seconds_from_now(3600);

    let (info, expired) = token(store, expiring(new_token(Role::Read, Some(a), None), past)).await;
    assert_eq!(info.expires_at, Some(past));
    let (_, expired_session) = token(
        store,
        expiring(new_token(Role::NocOperator, None, Some(user.id)), past),
    )
    .await;
    for secret in [&expired, &expired_session] {
        let got = store.authenticate(secret).await.expect("authenticate");
        assert_eq!(got, None, "an expired token must not authenticate");
    }

    let (live, live_secret) = token(
        store,
        expiring(new_token(Role::Read, Some(a), None), future),
    )
    .await;
    assert_eq!(live.expires_at, Some(future));
    assert_eq!(principal(store, &live_secret).await.token_id, live.id);
    let (_, session) = token(
        store,
        expiring(new_token(Role::NocOperator, None, Some(user.id)), future),
    )
    .await;
    let p = principal(store, &session).await;
    assert_eq!(
        (p.role, p.scope, p.user.as_deref()),
        (Role::NocOperator, TenantScope::Only(vec![a]), Some("pat")),
        "a session before its expiry"
    );
    let (forever, forever_secret) = token(store, new_token(Role::Ingest, Some(a), None)).await;
    assert_eq!(forever.expires_at, None);
    assert_eq!(principal(store, &forever_secret).await.role, Role::Ingest);

    let listed = store.list_tokens(None).await.expect("list");
    let expiries: Vec<Option<Timestamp>> = listed.iter().map(|t| t.expires_at).collect();
    assert_eq!(
        expiries,
        vec![Some(past), Some(past), Some(future), Some(future), None],
        "listing shows each token's expiry, expired ones until purged"
    );
}

pub async fn purge_deletes_only_expired_tokens(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let user = store
        .create_user("pat", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("create user");
    let now = Timestamp::now();
    let at = |secs: i64| Timestamp(now.micros() + secs * 1_000_000);
    assert_eq!(store.purge_expired_tokens(now).await.expect("purge"), 0);

    let (old, _) = token(
        store,
        expiring(new_token(Role::Read, Some(a), None), at(-7200)),
    )
    .await;
    let (old_session, _) = token(
        store,
        expiring(new_token(Role::SocAnalyst, None, Some(user.id)), at(-1)),
    )
    .await;
    let (at_now, _) = token(store, expiring(new_token(Role::MspAdmin, None, None), now)).await;
    let (later, later_secret) = token(
        store,
        expiring(new_token(Role::SocAnalyst, None, Some(user.id)), at(3600)),
    )
    .await;
    let (forever, forever_secret) = token(store, new_token(Role::Ingest, Some(a), None)).await;

    let purged = store.purge_expired_tokens(now).await.expect("purge");
    assert_eq!(purged, 3, "two past and one expiring at `now` itself");
    let left: Vec<i64> = store
        .list_tokens(None)
        .await
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, vec![later.id, forever.id]);
    for gone in [old.id, old_session.id, at_now.id] {
        assert_not_found(store.revoke_token(gone).await, "a purged token");
    }
    assert_eq!(principal(store, &later_secret).await.token_id, later.id);
    assert_eq!(principal(store, &forever_secret).await.token_id, forever.id);
    assert_eq!(
        store.purge_expired_tokens(now).await.expect("purge again"),
        0,
        "nothing left to purge"
    );

    let far = Timestamp(now.micros() + 86_400 * 1_000_000);
    assert_eq!(
        store.purge_expired_tokens(far).await.expect("purge later"),
        1,
        "once its time has come the session goes too, never the token without expiry"
    );
    let left: Vec<i64> = store
        .list_tokens(None)
        .await
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, vec![forever.id]);
}

/// Writers on several connections at once must wait for each other, not
/// fail (SQLite: busy timeout and write-first transactions).
pub async fn concurrent_writes_all_succeed(store: &dyn StateStore) {
    let names = ["c1", "c2", "c3", "c4"].map(|n| TenantName::new(n).expect("valid"));
    let [n1, n2, n3, n4] = &names;
    let (r1, r2, r3, r4) = tokio::join!(
        store.create_tenant(n1, 1),
        store.create_tenant(n2, 2),
        store.create_tenant(n3, 3),
        store.create_tenant(n4, 4),
    );
    let ids = [r1, r2, r3, r4].map(|r| r.expect("concurrent create_tenant").id);
    let (u1, u2, t1, t2) = tokio::join!(
        store.create_user("u1", PASSWORD, Role::NocOperator, &ids[..2]),
        store.create_user("u2", PASSWORD, Role::SocAnalyst, &ids[2..]),
        store.create_token(new_token(Role::Read, Some(ids[0]), None)),
        store.create_token(new_token(Role::Ingest, Some(ids[3]), None)),
    );
    for r in [
        u1.map(|_| ()),
        u2.map(|_| ()),
        t1.map(|_| ()),
        t2.map(|_| ()),
    ] {
        r.expect("concurrent write");
    }
    assert_eq!(store.list_tenants().await.expect("list").len(), 4);
    assert_eq!(store.count_users().await.expect("count"), 2);
    assert_eq!(store.list_tokens(None).await.expect("list").len(), 2);
}

pub async fn user_names_are_one_whatever_case_width_or_invisibles(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let noc = store
        .create_user("noc_a", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create noc_a");
    for same in ["NOC_A", "Noc_A", "\u{FF4E}\u{FF4F}\u{FF43}\u{FF3F}\u{FF41}"] {
        let r = store
            .create_user(same, PASSWORD, Role::NocOperator, &[a])
            .await;
        assert!(
            matches!(&r, Err(StateError::Conflict(m)) if !m.contains("TenantName")),
            "{same:?} is noc_a: expected a Conflict, got {r:?}"
        );
    }
    for invisible in [
        "noc_a\u{200B}",
        "noc\u{200D}_a",
        "\u{202E}noc_a",
        "noc_a\u{0}",
    ] {
        let r = store
            .create_user(invisible, PASSWORD, Role::NocOperator, &[a])
            .await;
        assert_invalid(r, &format!("user name {invisible:?}"));
    }
    assert_eq!(store.count_users().await.expect("count"), 1);
    for spelling in ["noc_a", "NOC_A", "\u{FF4E}\u{FF4F}\u{FF43}\u{FF3F}\u{FF41}"] {
        let found = store.user_by_name(spelling).await.expect("by name");
        assert_eq!(found.as_ref().map(|u| u.id), Some(noc.id), "{spelling:?}");
        let login = store
            .verify_password(spelling, PASSWORD)
            .await
            .expect("verify");
        assert_eq!(login.map(|u| u.id), Some(noc.id), "login as {spelling:?}");
    }
    for other in ["noc_a\u{200B}", "noc_b", ""] {
        assert_eq!(store.user_by_name(other).await.expect("by name"), None);
        assert_eq!(
            store
                .verify_password(other, PASSWORD)
                .await
                .expect("verify"),
            None
        );
    }
    let full_width = store
        .create_user(
            "\u{FF42}\u{FF4F}\u{FF42}",
            PASSWORD,
            Role::NocOperator,
            &[a],
        )
        .await
        .expect("create bob in full width");
    assert_eq!(full_width.name, "bob", "stored in NFKC");
}

pub async fn weak_passwords_are_refused(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let r = store
        .create_user("alice", "aaaaaaaaaaaa", Role::SocAnalyst, &[a])
        .await;
    match r {
        Err(StateError::Invalid(m)) => {
            assert!(m.contains("too weak") && m.contains("repeats"), "{m}");
        }
        other => panic!("aaaaaaaaaaaa: expected Invalid, got {other:?}"),
    }
    for weak in ["password1234", "alicealicealice"] {
        let r = store
            .create_user("alice", weak, Role::SocAnalyst, &[a])
            .await;
        assert_invalid(r, weak);
    }
    let alice = store
        .create_user("alice", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("create");
    assert_invalid(
        store.set_password(alice.id, "aaaaaaaaaaaa", None).await,
        "a weak new password",
    );
    assert!(store
        .verify_password("alice", PASSWORD)
        .await
        .expect("verify")
        .is_some());
}

pub async fn tenant_lookup_ignores_case(store: &dyn StateStore) {
    let acme = tenant(store, "acme").await;
    for spelling in ["acme", "ACME", "Acme", "\u{FF41}\u{FF43}\u{FF4D}\u{FF45}"] {
        assert_eq!(
            store.tenant_by_name(spelling).await.expect("by name"),
            Some(acme.clone()),
            "{spelling:?}"
        );
    }
    assert_eq!(
        store.tenant_by_name("acme\u{200B}").await.expect("by name"),
        None
    );
}

fn session_of(user_id: i64, secs: i64) -> NewSession {
    NewSession {
        user_id,
        expires_at: seconds_from_now(secs),
        idle_timeout: None,
        source: Some("127.0.0.1".into()),
    }
}

async fn session(store: &dyn StateStore, new: NewSession) -> (i64, String) {
    let (info, secret) = store.create_session(new).await.expect("create session");
    (info.id, secret)
}

async fn authenticates(store: &dyn StateStore, secret: &str) -> bool {
    store
        .authenticate(secret)
        .await
        .expect("authenticate")
        .is_some()
}

pub async fn password_change_ends_other_sessions(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let pat = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create");
    let (mine, my_secret) = session(store, session_of(pat.id, 3600)).await;
    let (_, other_secret) = session(store, session_of(pat.id, 3600)).await;
    let (_, api_secret) = token(store, new_token(Role::NocOperator, None, Some(pat.id))).await;
    let new_password = "another fine passphrase";
    store
        .set_password(pat.id, new_password, Some(mine))
        .await
        .expect("change own password");
    assert!(
        authenticates(store, &my_secret).await,
        "the caller's session stays"
    );
    assert!(
        !authenticates(store, &other_secret).await,
        "other sessions end"
    );
    assert!(
        authenticates(store, &api_secret).await,
        "an API token of the user is not a login session"
    );
    assert_eq!(
        store
            .verify_password("pat", PASSWORD)
            .await
            .expect("verify"),
        None
    );
    assert!(store
        .verify_password("pat", new_password)
        .await
        .expect("verify")
        .is_some());

    store
        .set_password(pat.id, PASSWORD, None)
        .await
        .expect("admin reset");
    assert!(
        !authenticates(store, &my_secret).await,
        "a reset ends every session"
    );
    assert_not_found(
        store.set_password(987_654, PASSWORD, None).await,
        "unknown user",
    );
}

pub async fn disabling_ends_every_token_at_once(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let pat = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create");
    let (_, s1) = session(store, session_of(pat.id, 3600)).await;
    let (_, api) = token(store, new_token(Role::NocOperator, None, Some(pat.id))).await;
    let (_, tenant_token) = token(store, new_token(Role::Read, Some(a), None)).await;
    let disabled = store
        .set_user_disabled(pat.id, true)
        .await
        .expect("disable");
    assert!(disabled.disabled);
    assert!(!authenticates(store, &s1).await, "the session ended");
    assert!(
        !authenticates(store, &api).await,
        "the user's API token ended"
    );
    assert!(
        authenticates(store, &tenant_token).await,
        "others' tokens stay"
    );
    assert_eq!(
        store
            .verify_password("pat", PASSWORD)
            .await
            .expect("verify"),
        None,
        "a disabled user cannot log in"
    );
    assert_invalid(
        store.create_session(session_of(pat.id, 3600)).await,
        "a session of a disabled user",
    );
    assert!(store.list_sessions().await.expect("list").is_empty());
    let listed = store.list_users().await.expect("list");
    assert!(listed[0].disabled);

    let enabled = store
        .set_user_disabled(pat.id, false)
        .await
        .expect("enable");
    assert!(!enabled.disabled);
    assert!(
        !authenticates(store, &s1).await,
        "ended sessions stay ended"
    );
    assert!(store
        .verify_password("pat", PASSWORD)
        .await
        .expect("verify")
        .is_some());
    assert_not_found(store.set_user_disabled(987_654, true).await, "unknown user");
}

pub async fn deleting_a_user_ends_their_tokens(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let pat = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create");
    let sam = store
        .create_user("sam", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("create");
    let (_, s1) = session(store, session_of(pat.id, 3600)).await;
    let (_, api) = token(store, new_token(Role::NocOperator, None, Some(pat.id))).await;
    let (_, sams) = session(store, session_of(sam.id, 3600)).await;
    store.delete_user(pat.id).await.expect("delete");
    assert!(!authenticates(store, &s1).await);
    assert!(!authenticates(store, &api).await);
    assert!(
        authenticates(store, &sams).await,
        "another user's session stays"
    );
    assert_eq!(store.user(pat.id).await.expect("get"), None);
    assert_eq!(store.user_by_name("pat").await.expect("by name"), None);
    assert_eq!(store.list_users().await.expect("list"), vec![sam.clone()]);
    assert_not_found(store.delete_user(pat.id).await, "deleted twice");
    let again = store
        .create_user("PAT", PASSWORD, Role::SocAnalyst, &[a])
        .await
        .expect("the name is free again");
    assert_eq!(again.name, "PAT");
}

pub async fn sessions_listed_without_secret_and_revoked(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let b = tenant(store, "b").await.id;
    let pat = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[b, a])
        .await
        .expect("create");
    let (_, tenant_secret) = token(store, new_token(Role::Read, Some(a), None)).await;
    let (info, secret) = store
        .create_session(session_of(pat.id, 3600))
        .await
        .expect("session");
    assert_eq!(
        (
            info.user.as_str(),
            info.role,
            info.tenants.clone(),
            info.login
        ),
        ("pat", Role::NocOperator, vec![a, b], true)
    );
    assert_eq!(info.source.as_deref(), Some("127.0.0.1"));
    let (api, _) = token(store, new_token(Role::NocOperator, None, Some(pat.id))).await;
    let (_, expired) = store
        .create_session(session_of(pat.id, -1))
        .await
        .expect("expired session");
    assert!(!authenticates(store, &expired).await);
    let listed = store.list_sessions().await.expect("list");
    let ids: Vec<(i64, bool)> = listed.iter().map(|s| (s.id, s.login)).collect();
    assert_eq!(
        ids,
        vec![(info.id, true), (api.id, false)],
        "live user tokens, never tenant tokens or expired sessions"
    );
    assert_eq!(listed[0].created_at, info.created_at);
    let shown = format!("{listed:?}");
    assert!(!shown.contains(&secret[4..]), "a listing shows a secret");
    let p = principal(store, &secret).await;
    assert_eq!(p.user.as_deref(), Some("pat"));
    assert_eq!(p.token_id, info.id);

    store.revoke_session(info.id).await.expect("revoke");
    assert!(!authenticates(store, &secret).await);
    assert_not_found(store.revoke_session(info.id).await, "revoked twice");
    let tenant_token = principal(store, &tenant_secret).await.token_id;
    assert_not_found(
        store.revoke_session(tenant_token).await,
        "a tenant token is not a session",
    );
    assert!(authenticates(store, &tenant_secret).await);
    assert_not_found(
        store.create_session(session_of(987_654, 60)).await,
        "unknown user",
    );
}

pub async fn idle_sessions_end(store: &dyn StateStore) {
    let a = tenant(store, "a").await.id;
    let pat = store
        .create_user("pat", PASSWORD, Role::NocOperator, &[a])
        .await
        .expect("create");
    let idle = |micros| NewSession {
        idle_timeout: Some(std::time::Duration::from_micros(micros)),
        ..session_of(pat.id, 3600)
    };
    let (_, short) = session(store, idle(1)).await;
    let (_, long) = session(store, idle(3_600_000_000)).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(!authenticates(store, &short).await, "idle past its timeout");
    assert!(authenticates(store, &long).await);
    let purged = store
        .purge_expired_tokens(Timestamp::now())
        .await
        .expect("purge");
    assert_eq!(purged, 1, "the idle session is purged");
}

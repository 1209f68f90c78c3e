//! The behaviour every [`AuditStore`] backend must show, and
//! [`audit_conformance_tests!`](crate::audit_conformance_tests).

use super::audit::*;
use super::StateError;
use serde_json::json;
use vigil_core::{TenantId, Timestamp};

/// One `#[tokio::test]` per audit conformance function; the argument is
/// as for [`state_conformance_tests!`](crate::state_conformance_tests).
#[macro_export]
macro_rules! audit_conformance_tests {
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                let store = $make;
                $crate::state::audit_conformance::$name(&*store).await;
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::audit_conformance_tests!(@each $make;
            appended_entries_come_back_newest_first,
            tenants_see_only_their_entries,
            filters_narrow_the_listing,
            pages_follow_the_cursor_with_a_real_total,
            limits_are_checked,
        );
    };
}

fn entry(at: i64, actor: &str, tenant: Option<i64>, method: &str, path: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: Timestamp(at),
        actor: actor.into(),
        token_id: Some(7),
        role: Some("admin".into()),
        tenant: tenant.map(TenantId),
        source: Some("192.0.2.10".into()),
        method: method.into(),
        path: path.into(),
        status: Some(201),
        detail: Some(json!({"name": "web01", "password": "redacted"})),
    }
}

async fn fill(store: &dyn AuditStore) {
    let entries = [
        entry(1_000, "alice", Some(1), "POST", "/api/v1/assets"),
        entry(2_000, "token 4", Some(2), "PATCH", "/api/v1/checks/3"),
        entry(3_000, "admin", None, "POST", "/api/v1/tenants"),
        entry(4_000, "alice", Some(1), "DELETE", "/api/v1/assets/web01"),
        entry(5_000, "cli", None, "CLI", "admin set-password admin"),
    ];
    for e in entries {
        store.append(e).await.expect("append");
    }
}

fn paths(page: &AuditPage) -> Vec<&str> {
    page.entries.iter().map(|e| e.entry.path.as_str()).collect()
}

pub async fn appended_entries_come_back_newest_first(store: &dyn AuditStore) {
    let first = store
        .append(entry(10, "alice", Some(1), "POST", "/api/v1/rules"))
        .await
        .expect("append");
    let second = store
        .append(NewAuditEntry::cli("admin set-password admin", None))
        .await
        .expect("append");
    assert!(second.id > first.id, "ids increase");
    let page = store
        .list(&AuditFilter::new(AuditScope::All))
        .await
        .expect("list");
    assert_eq!(page.total, 2);
    assert_eq!(page.next, None);
    assert_eq!(page.entries, vec![second.clone(), first.clone()]);
    assert_eq!(
        page.entries[1].entry.detail,
        Some(json!({"name": "web01", "password": "redacted"}))
    );
    assert_eq!(second.entry.status, None);
    assert_eq!(second.entry.source.as_deref(), Some("local"));
}

pub async fn tenants_see_only_their_entries(store: &dyn AuditStore) {
    fill(store).await;
    let one = store
        .list(&AuditFilter::new(AuditScope::Tenants(vec![TenantId(1)])))
        .await
        .expect("list");
    assert_eq!(paths(&one), ["/api/v1/assets/web01", "/api/v1/assets"]);
    assert!(one
        .entries
        .iter()
        .all(|e| e.entry.tenant == Some(TenantId(1))));
    assert_eq!(one.total, 2);
    let none = store
        .list(&AuditFilter::new(AuditScope::Tenants(vec![])))
        .await
        .expect("list");
    assert_eq!(
        (none.entries.len(), none.total),
        (0, 0),
        "no tenant, no entry"
    );
    let unknown = store
        .list(&AuditFilter::new(AuditScope::Tenants(vec![TenantId(99)])))
        .await
        .expect("list");
    assert_eq!(unknown.total, 0, "the MSP's entries are never a tenant's");
    let all = store
        .list(&AuditFilter::new(AuditScope::All))
        .await
        .expect("list");
    assert_eq!(all.total, 5);
}

pub async fn filters_narrow_the_listing(store: &dyn AuditStore) {
    fill(store).await;
    let list = |f: AuditFilter| async move { store.list(&f).await.expect("list") };
    let base = AuditFilter::new(AuditScope::All);
    let alice = list(AuditFilter {
        actor: Some("alice".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(alice.total, 2);
    let posts = list(AuditFilter {
        method: Some("POST".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(paths(&posts), ["/api/v1/tenants", "/api/v1/assets"]);
    let assets = list(AuditFilter {
        path_prefix: Some("/api/v1/assets".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(assets.total, 2);
    let wildcard = list(AuditFilter {
        path_prefix: Some("/api/v1/%".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(wildcard.total, 0, "a prefix is literal");
    let window = list(AuditFilter {
        from: Some(Timestamp(2_000)),
        to: Some(Timestamp(4_000)),
        ..base.clone()
    })
    .await;
    assert_eq!(paths(&window), ["/api/v1/tenants", "/api/v1/checks/3"]);
    let combined = list(AuditFilter {
        scope: AuditScope::Tenants(vec![TenantId(1), TenantId(2)]),
        from: Some(Timestamp(1_500)),
        ..base
    })
    .await;
    assert_eq!(
        paths(&combined),
        ["/api/v1/assets/web01", "/api/v1/checks/3"]
    );
}

pub async fn pages_follow_the_cursor_with_a_real_total(store: &dyn AuditStore) {
    fill(store).await;
    let mut filter = AuditFilter {
        limit: 2,
        ..AuditFilter::new(AuditScope::All)
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list(&filter).await.expect("list");
        assert_eq!(page.total, 5, "the total counts every page");
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.id));
        pages += 1;
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
        assert!(pages < 10, "the cursor must end");
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no entry twice");
    assert_eq!(seen.len(), 5);
}

pub async fn limits_are_checked(store: &dyn AuditStore) {
    for limit in [0, MAX_AUDIT_PAGE + 1] {
        let r = store
            .list(&AuditFilter {
                limit,
                ..AuditFilter::new(AuditScope::All)
            })
            .await;
        assert!(matches!(r, Err(StateError::Invalid(_))), "{limit}: {r:?}");
    }
}

//! The behaviour every [`InventoryStore`] backend must show, and
//! [`inventory_conformance_tests!`](crate::inventory_conformance_tests).

use super::inventory::*;
use super::{StateError, StateStore};
use serde_json::json;
use vigil_core::{TenantId, TenantName};

/// One `#[tokio::test]` per inventory conformance function; the argument
/// is as for [`state_conformance_tests!`](crate::state_conformance_tests).
#[macro_export]
macro_rules! inventory_conformance_tests {
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                let store = $make;
                $crate::state::inventory_conformance::$name(&*store, &*store).await;
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::inventory_conformance_tests!(@each $make;
            assets_with_parents,
            asset_cycles_are_refused,
            checks_follow_their_asset,
            inventory_never_crosses_tenants,
            definitions_by_tenant_and_kind,
        );
    };
}

async fn tenant(state: &dyn StateStore, name: &str) -> TenantId {
    let name = TenantName::new(name).expect("valid test tenant name");
    state.create_tenant(&name, 30).await.expect("tenant").id
}

fn asset(name: &str, parent: Option<&str>) -> AssetSpec {
    AssetSpec {
        name: name.into(),
        address: "192.0.2.1".into(),
        kind: "host".into(),
        tags: vec!["dc1".into()],
        criticality: Criticality::High,
        parent: parent.map(str::to_string),
    }
}

fn check(asset: &str) -> CheckRecord {
    CheckRecord {
        asset: asset.into(),
        kind: "tcp".into(),
        target: "192.0.2.1:443".into(),
        interval_ms: 30_000,
        spec: json!({"kind": "tcp", "port": 443}),
        enabled: true,
    }
}

pub async fn assets_with_parents(state: &dyn StateStore, store: &dyn InventoryStore) {
    let t = tenant(state, "acme").await;
    store
        .create_asset(t, &asset("router", None))
        .await
        .expect("router");
    let web = store
        .create_asset(t, &asset("web01", Some("router")))
        .await
        .expect("web01");
    assert_eq!(web.spec.parent.as_deref(), Some("router"));
    assert_eq!(web.spec.tags, vec!["dc1".to_string()]);
    let dup = store.create_asset(t, &asset("web01", None)).await;
    assert!(matches!(dup, Err(StateError::Conflict(_))), "{dup:?}");
    let orphan = store.create_asset(t, &asset("x", Some("nope"))).await;
    assert!(matches!(orphan, Err(StateError::NotFound(_))), "{orphan:?}");
    let blank = store.create_asset(t, &asset(" ", None)).await;
    assert!(matches!(blank, Err(StateError::Invalid(_))), "{blank:?}");
    let names: Vec<String> = store
        .list_assets(t)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.spec.name)
        .collect();
    assert_eq!(names, ["router", "web01"]);
    store
        .delete_asset(t, "router")
        .await
        .expect("delete router");
    let web = store
        .asset(t, "web01")
        .await
        .expect("get")
        .expect("web01 stays");
    assert_eq!(
        web.spec.parent, None,
        "a deleted parent leaves no dangling name"
    );
}

pub async fn asset_cycles_are_refused(state: &dyn StateStore, store: &dyn InventoryStore) {
    let t = tenant(state, "acme").await;
    store.create_asset(t, &asset("a", None)).await.expect("a");
    store
        .create_asset(t, &asset("b", Some("a")))
        .await
        .expect("b");
    store
        .create_asset(t, &asset("c", Some("b")))
        .await
        .expect("c");
    let cycle = store.update_asset(t, "a", &asset("a", Some("c"))).await;
    assert!(matches!(cycle, Err(StateError::Invalid(_))), "{cycle:?}");
    let own = store.update_asset(t, "a", &asset("a", Some("a"))).await;
    assert!(matches!(own, Err(StateError::Invalid(_))), "{own:?}");
    let renamed = store
        .update_asset(t, "c", &asset("c2", Some("a")))
        .await
        .expect("rename and move");
    assert_eq!(
        (renamed.spec.name.as_str(), renamed.spec.parent.as_deref()),
        ("c2", Some("a"))
    );
}

pub async fn checks_follow_their_asset(state: &dyn StateStore, store: &dyn InventoryStore) {
    let t = tenant(state, "acme").await;
    store
        .create_asset(t, &asset("web01", None))
        .await
        .expect("asset");
    let created = store.create_check(t, &check("web01")).await.expect("check");
    assert_eq!(created.record, check("web01"));
    let mut changed = check("web01");
    changed.interval_ms = 10_000;
    changed.enabled = false;
    let updated = store
        .update_check(t, created.id, &changed)
        .await
        .expect("update");
    assert_eq!(updated.record, changed);
    let missing = store.create_check(t, &check("nope")).await;
    assert!(
        matches!(missing, Err(StateError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(store.list_checks(Some(t)).await.expect("list").len(), 1);
    store.delete_asset(t, "web01").await.expect("delete asset");
    assert!(
        store.list_checks(None).await.expect("list").is_empty(),
        "an asset's checks go with it"
    );
    let gone = store.delete_check(t, created.id).await;
    assert!(matches!(gone, Err(StateError::NotFound(_))), "{gone:?}");
}

pub async fn inventory_never_crosses_tenants(state: &dyn StateStore, store: &dyn InventoryStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    store
        .create_asset(b, &asset("router", None))
        .await
        .expect("b router");
    let theirs = store
        .create_check(b, &check("router"))
        .await
        .expect("b check");
    // The same name in another tenant is another asset.
    store
        .create_asset(a, &asset("router", None))
        .await
        .expect("a router");
    let parent_elsewhere = store
        .create_asset(a, &asset("x", Some("nothing-here")))
        .await;
    assert!(parent_elsewhere.is_err());
    assert_eq!(store.list_assets(a).await.expect("list").len(), 1);
    assert_eq!(store.check(a, theirs.id).await.expect("get"), None);
    assert!(store.list_checks(Some(a)).await.expect("list").is_empty());
    let r = store.update_check(a, theirs.id, &check("router")).await;
    assert!(matches!(r, Err(StateError::NotFound(_))), "{r:?}");
    let r = store.delete_check(a, theirs.id).await;
    assert!(matches!(r, Err(StateError::NotFound(_))), "{r:?}");
    assert_eq!(store.list_checks(None).await.expect("all").len(), 1);
}

pub async fn definitions_by_tenant_and_kind(state: &dyn StateStore, store: &dyn InventoryStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    let window = json!({"id": "patch", "schedule": {"kind": "once", "start_ms": 1, "end_ms": 2}});
    let made = store
        .create_definition(a, DefinitionKind::Window, "patch", &window)
        .await
        .expect("create");
    assert_eq!((made.name.as_str(), &made.spec), ("patch", &window));
    let again = store
        .create_definition(a, DefinitionKind::Window, "patch", &window)
        .await;
    assert!(matches!(again, Err(StateError::Conflict(_))), "{again:?}");
    // The same name as another kind, or in another tenant, is another thing.
    store
        .create_definition(a, DefinitionKind::Rule, "patch", &json!({"id": "patch"}))
        .await
        .expect("a rule of the same name");
    store
        .create_definition(b, DefinitionKind::Window, "patch", &json!({"b": true}))
        .await
        .expect("b's window");
    let empty = store
        .create_definition(a, DefinitionKind::Window, " ", &window)
        .await;
    assert!(matches!(empty, Err(StateError::Invalid(_))), "{empty:?}");

    let changed = json!({"id": "patch", "note": "moved"});
    let replaced = store
        .replace_definition(a, DefinitionKind::Window, "patch", &changed)
        .await
        .expect("replace");
    assert_eq!(replaced.spec, changed);
    assert!(replaced.updated_at >= made.created_at);
    let listed = store
        .list_definitions(a, DefinitionKind::Window)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].spec, changed);
    assert_eq!(listed[0].kind, DefinitionKind::Window);

    // b's window is untouched by all of it, and a cannot reach it by name.
    let theirs = store
        .list_definitions(b, DefinitionKind::Window)
        .await
        .expect("b list");
    assert_eq!(theirs[0].spec, json!({"b": true}));
    store
        .delete_definition(a, DefinitionKind::Window, "patch")
        .await
        .expect("delete");
    let gone = store
        .delete_definition(a, DefinitionKind::Window, "patch")
        .await;
    assert!(matches!(gone, Err(StateError::NotFound(_))), "{gone:?}");
    let missing = store
        .replace_definition(a, DefinitionKind::Window, "patch", &window)
        .await;
    assert!(
        matches!(missing, Err(StateError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(
        store
            .list_definitions(b, DefinitionKind::Window)
            .await
            .expect("b list")
            .len(),
        1
    );
    assert_eq!(
        store
            .list_definitions(a, DefinitionKind::Rule)
            .await
            .expect("a rules")
            .len(),
        1
    );
}

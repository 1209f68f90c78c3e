//! The behaviour every [`DetectionStore`] backend must show, and
//! [`detection_conformance_tests!`](crate::detection_conformance_tests).
//!
//! Each function gets a store that is also a [`StateStore`] (alerts
//! belong to tenants) and panics on the first deviation.

use super::detection::*;
use super::{StateError, StateStore};
use vigil_core::{TenantId, TenantName, Timestamp};

/// Expands to one `#[tokio::test]` per detection conformance function; the
/// argument is as for [`state_conformance_tests!`](crate::state_conformance_tests).
#[macro_export]
macro_rules! detection_conformance_tests {
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                let store = $make;
                $crate::state::detection_conformance::$name(&*store, &*store).await;
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::detection_conformance_tests!(@each $make;
            repeated_hits_count_into_one_open_alert,
            different_entities_make_different_alerts,
            closed_alerts_do_not_absorb_new_hits,
            alerts_resolve_by_themselves,
            suppressed_alerts_show_and_open_later,
            alerts_filter_and_order,
            alerts_never_cross_tenants,
            uploaded_rules_and_switches,
            login_sources_remember_per_user,
        );
    };
}

async fn tenant(state: &dyn StateStore, name: &str) -> TenantId {
    let name = TenantName::new(name).expect("valid test tenant name");
    state.create_tenant(&name, 30).await.expect("tenant").id
}

fn hit(tenant: TenantId, rule: &str, host: &str, time: i64) -> NewAlert {
    NewAlert {
        tenant,
        team: Team::Soc,
        rule_id: rule.into(),
        rule_title: format!("title of {rule}"),
        severity: Severity::High,
        tags: vec!["attack.t1110".into()],
        entities: Entities {
            host: Some(host.into()),
            user: Some("root".into()),
            source_ip: Some("192.0.2.7".into()),
            resource: None,
        },
        event_id: Some(format!("ev{time}")),
        description: "what happened".into(),
        time: Timestamp(time),
    }
}

fn all() -> AlertFilter {
    AlertFilter {
        limit: 100,
        ..AlertFilter::default()
    }
}

pub async fn repeated_hits_count_into_one_open_alert(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let first = store
        .record_alerts(&[hit(t, "r1", "web01", 10)])
        .await
        .expect("record");
    assert!(first[0].1, "the first hit opens an alert");
    let more = store
        .record_alerts(&[hit(t, "r1", "web01", 30), hit(t, "r1", "web01", 20)])
        .await
        .expect("record");
    assert!(more.iter().all(|(_, opened)| !opened));
    let alerts = store.list_alerts(t, &all()).await.expect("list");
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        (a.count, a.first_seen, a.last_seen),
        (3, Timestamp(10), Timestamp(30))
    );
    assert_eq!(a.event_id.as_deref(), Some("ev10"));
    assert_eq!(a.last_event_id.as_deref(), Some("ev20"));
    assert_eq!(a.status, AlertStatus::Open);
    assert_eq!(a.tags, vec!["attack.t1110".to_string()]);
}

pub async fn different_entities_make_different_alerts(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let mut other_user = hit(t, "r1", "web01", 2);
    other_user.entities.user = None;
    let mut other_resource = hit(t, "r1", "web01", 3);
    other_resource.entities.resource = Some("mountpoint=/var".into());
    store
        .record_alerts(&[
            hit(t, "r1", "web01", 1),
            hit(t, "r1", "web02", 1),
            other_user,
            other_resource,
        ])
        .await
        .expect("record");
    store
        .record_alerts(&[hit(t, "r2", "web01", 1)])
        .await
        .expect("record");
    assert_eq!(store.list_alerts(t, &all()).await.expect("list").len(), 5);
}

pub async fn closed_alerts_do_not_absorb_new_hits(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let (first, _) = store
        .record_alerts(&[hit(t, "r1", "h", 1)])
        .await
        .expect("record")[0]
        .clone();
    let acked = store
        .set_alert_status(t, first.id, AlertStatus::Acknowledged)
        .await
        .expect("ack");
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    let (same, opened) = store
        .record_alerts(&[hit(t, "r1", "h", 2)])
        .await
        .expect("record")[0]
        .clone();
    assert!(!opened, "an acknowledged alert still counts hits");
    assert_eq!((same.id, same.count), (first.id, 2));
    store
        .set_alert_status(t, first.id, AlertStatus::Closed)
        .await
        .expect("close");
    let (next, opened) = store
        .record_alerts(&[hit(t, "r1", "h", 3)])
        .await
        .expect("record")[0]
        .clone();
    assert!(opened && next.id != first.id, "a closed alert is done");
    let reopen = store.set_alert_status(t, first.id, AlertStatus::Open).await;
    assert!(
        matches!(reopen, Err(StateError::Conflict(_))),
        "reopening beside an open twin: {reopen:?}"
    );
    let missing = store.set_alert_status(t, 9999, AlertStatus::Closed).await;
    assert!(
        matches!(missing, Err(StateError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn alerts_filter_and_order(state: &dyn StateStore, store: &dyn DetectionStore) {
    let t = tenant(state, "acme").await;
    let mut low = hit(t, "r-low", "db01", 100);
    low.severity = Severity::Low;
    let mut noc = hit(t, "r-noc", "sw1", 300);
    noc.team = Team::Noc;
    store
        .record_alerts(&[hit(t, "r1", "web01", 200), low, noc])
        .await
        .expect("record");
    let ids = |alerts: Vec<Alert>| alerts.into_iter().map(|a| a.rule_id).collect::<Vec<_>>();
    let list = |f: AlertFilter| async move { ids(store.list_alerts(t, &f).await.expect("list")) };
    assert_eq!(
        list(all()).await,
        ["r-noc", "r1", "r-low"],
        "most recent first"
    );
    let f = AlertFilter {
        severities: vec![Severity::High],
        ..all()
    };
    assert_eq!(list(f).await, ["r-noc", "r1"]);
    let f = AlertFilter {
        host: Some("db01".into()),
        ..all()
    };
    assert_eq!(list(f).await, ["r-low"]);
    let f = AlertFilter {
        rule: Some("title of r1".into()),
        ..all()
    };
    assert_eq!(list(f).await, ["r1"], "a rule by its title");
    let f = AlertFilter {
        team: Some(Team::Noc),
        ..all()
    };
    assert_eq!(list(f).await, ["r-noc"]);
    let f = AlertFilter {
        from: Some(Timestamp(150)),
        to: Some(Timestamp(250)),
        ..all()
    };
    assert_eq!(list(f).await, ["r1"], "time window");
    let f = AlertFilter {
        statuses: vec![AlertStatus::Closed],
        ..all()
    };
    assert!(list(f).await.is_empty());
    let f = AlertFilter { limit: 1, ..all() };
    assert_eq!(list(f).await.len(), 1);
}

pub async fn alerts_never_cross_tenants(state: &dyn StateStore, store: &dyn DetectionStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    let (alert_b, _) = store
        .record_alerts(&[hit(b, "r1", "h", 1)])
        .await
        .expect("record")[0]
        .clone();
    let (alert_a, opened) = store
        .record_alerts(&[hit(a, "r1", "h", 1)])
        .await
        .expect("record")[0]
        .clone();
    assert!(
        opened,
        "the same rule and entities in another tenant is another alert"
    );
    assert_eq!(
        store.list_alerts(a, &all()).await.expect("list"),
        vec![alert_a]
    );
    assert_eq!(store.alert(a, alert_b.id).await.expect("get"), None);
    let r = store
        .set_alert_status(a, alert_b.id, AlertStatus::Closed)
        .await;
    assert!(matches!(r, Err(StateError::NotFound(_))), "{r:?}");
    let unknown = store
        .record_alerts(&[hit(TenantId(4242), "r1", "h", 1)])
        .await;
    assert!(
        matches!(unknown, Err(StateError::NotFound(_))),
        "{unknown:?}"
    );
}

pub async fn uploaded_rules_and_switches(state: &dyn StateStore, store: &dyn DetectionStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    let rule = |tenant, title: &str| StoredRule {
        tenant,
        rule_id: "r1".into(),
        title: title.into(),
        yaml: format!("title: {title}\n"),
        created_at: Timestamp(1),
    };
    store.put_rule(&rule(a, "one")).await.expect("put");
    store
        .put_rule(&rule(a, "one, again"))
        .await
        .expect("replace");
    store.put_rule(&rule(b, "theirs")).await.expect("put");
    let rules = store.all_rules().await.expect("all");
    assert_eq!(rules, vec![rule(a, "one, again"), rule(b, "theirs")]);
    store.delete_rule(a, "r1").await.expect("delete");
    let r = store.delete_rule(a, "r1").await;
    assert!(matches!(r, Err(StateError::NotFound(_))), "{r:?}");
    assert_eq!(
        store.all_rules().await.expect("all"),
        vec![rule(b, "theirs")]
    );

    store
        .set_rule_enabled(a, "sigma-1", false)
        .await
        .expect("off");
    store
        .set_rule_enabled(a, "sigma-1", false)
        .await
        .expect("off twice");
    store
        .set_rule_enabled(b, "sigma-2", false)
        .await
        .expect("off");
    let mut off = store.disabled_rules().await.expect("disabled");
    off.sort();
    assert_eq!(off, vec![(a, "sigma-1".into()), (b, "sigma-2".into())]);
    store
        .set_rule_enabled(a, "sigma-1", true)
        .await
        .expect("on");
    assert_eq!(
        store.disabled_rules().await.expect("disabled"),
        vec![(b, "sigma-2".into())]
    );
}

pub async fn login_sources_remember_per_user(state: &dyn StateStore, store: &dyn DetectionStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    let login = |tenant, user: &str, source: &str, time| LoginSeen {
        tenant,
        user: user.into(),
        source: source.into(),
        time: Timestamp(time),
    };
    let seen = store
        .observe_logins(&[
            login(a, "alice", "10.0.0.1", 100),
            login(a, "alice", "10.0.0.1", 200),
            login(a, "alice", "10.0.0.2", 300),
            login(b, "alice", "10.0.0.2", 400),
        ])
        .await
        .expect("observe");
    let got: Vec<(bool, Option<Timestamp>)> = seen
        .iter()
        .map(|n| (n.new_source, n.user_first_seen))
        .collect();
    assert_eq!(
        got,
        vec![
            (true, None),
            (false, Some(Timestamp(100))),
            (true, Some(Timestamp(100))),
            (true, None),
        ],
        "the same user in another tenant is another user"
    );
}

pub async fn alerts_resolve_by_themselves(state: &dyn StateStore, store: &dyn DetectionStore) {
    let t = tenant(state, "acme").await;
    let mut down = hit(t, "noc-host-down", "web01", 10);
    down.team = Team::Noc;
    let (alert, _) = store.record_alerts(&[down.clone()]).await.expect("record")[0].clone();
    let resolve = ResolvedAlert {
        tenant: t,
        rule_id: "noc-host-down".into(),
        entities: down.entities.clone(),
        reason: "cleared: 3 pings answered".into(),
        time: Timestamp(50),
    };
    let resolved = store
        .resolve_alerts(std::slice::from_ref(&resolve))
        .await
        .expect("resolve");
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].id, alert.id);
    assert_eq!(resolved[0].status, AlertStatus::Resolved);
    assert_eq!(
        resolved[0].resolution.as_deref(),
        Some("cleared: 3 pings answered")
    );
    assert_eq!(resolved[0].last_seen, Timestamp(50));
    let again = store
        .resolve_alerts(&[resolve])
        .await
        .expect("resolve twice");
    assert!(again.is_empty(), "nothing open is left to resolve");
    let (next, opened) = store.record_alerts(&[down]).await.expect("record")[0].clone();
    assert!(opened && next.id != alert.id, "a new outage is a new alert");
    let f = AlertFilter {
        statuses: vec![AlertStatus::Resolved],
        ..all()
    };
    assert_eq!(store.list_alerts(t, &f).await.expect("list").len(), 1);
}

pub async fn suppressed_alerts_show_and_open_later(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let mut down = hit(t, "host-down", "web01", 10);
    down.team = Team::Noc;
    let held = store
        .suppress_alerts(&[(down.clone(), "behind router, which is down".into())])
        .await
        .expect("suppress");
    assert_eq!(held[0].status, AlertStatus::Suppressed);
    assert_eq!(
        held[0].resolution.as_deref(),
        Some("behind router, which is down")
    );
    let again = store
        .suppress_alerts(&[(down.clone(), "in maintenance window w1".into())])
        .await
        .expect("suppress again");
    assert_eq!(again[0].id, held[0].id, "one row per key");
    assert_eq!(
        again[0].resolution.as_deref(),
        Some("in maintenance window w1")
    );
    let mut paged = down.clone();
    paged.description = "no reply (held back: in maintenance window w1)".into();
    let (opened, _) = store.record_alerts(&[paged.clone()]).await.expect("fire")[0].clone();
    assert_eq!(opened.id, held[0].id, "the held alert opens");
    assert_eq!(opened.status, AlertStatus::Open);
    assert_eq!(opened.resolution, None);
    assert_eq!(
        opened.description, paged.description,
        "the page says it was held back"
    );
    let mut later = paged.clone();
    later.description = "another hit".into();
    let (same, _) = store.record_alerts(&[later]).await.expect("again")[0].clone();
    assert_eq!(
        same.description, paged.description,
        "an open alert keeps its description"
    );
    let nothing = store
        .suppress_alerts(&[(down, "later".into())])
        .await
        .expect("suppress an open one");
    assert!(
        nothing.is_empty(),
        "an open alert is not held back after the fact"
    );
}

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
            a_hit_after_the_window_opens_a_linked_alert,
            windows_come_from_the_rule_or_the_tenant,
            user_names_are_one_identity,
            evidence_is_kept_and_bounded,
            paging_with_a_cursor_is_stable_and_counts_all,
            listing_spans_the_tenants_given,
            alerts_are_found_by_detection_time,
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
        evidence: Vec::new(),
        window: None,
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
    let alerts = store.list_alerts(&[t], &all()).await.expect("list");
    assert_eq!((alerts.alerts.len(), alerts.total), (1, 1));
    let a = &alerts.alerts[0];
    assert_eq!(
        (a.count, a.first_seen, a.last_seen),
        (3, Timestamp(10), Timestamp(30))
    );
    assert_eq!(a.event_id.as_deref(), Some("ev10"));
    assert_eq!(
        a.last_event_id.as_deref(),
        Some("ev30"),
        "the latest event by event time"
    );
    assert_eq!(a.evidence.first, ["ev10", "ev30", "ev20"]);
    assert_eq!(a.evidence.count, 3);
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
    assert_eq!(
        store.list_alerts(&[t], &all()).await.expect("list").total,
        5
    );
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
    for one in [hit(t, "r1", "web01", 200), low, noc] {
        store.record_alerts(&[one]).await.expect("record");
    }
    let ids = |page: AlertPage| {
        page.alerts
            .into_iter()
            .map(|a| a.rule_id)
            .collect::<Vec<_>>()
    };
    let list =
        |f: AlertFilter| async move { ids(store.list_alerts(&[t], &f).await.expect("list")) };
    assert_eq!(
        list(all()).await,
        ["r-noc", "r-low", "r1"],
        "newest detection first"
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
        event_from: Some(Timestamp(150)),
        event_to: Some(Timestamp(250)),
        ..all()
    };
    assert_eq!(list(f).await, ["r1"], "event time window");
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
        store.list_alerts(&[a], &all()).await.expect("list").alerts,
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
    down.time = Timestamp(60);
    let (next, opened) = store.record_alerts(&[down]).await.expect("record")[0].clone();
    assert!(opened && next.id != alert.id, "a new outage is a new alert");
    assert_eq!(next.previous_id, Some(alert.id), "it links the last one");
    let f = AlertFilter {
        statuses: vec![AlertStatus::Resolved],
        ..all()
    };
    assert_eq!(store.list_alerts(&[t], &f).await.expect("list").total, 1);
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

const HOUR: i64 = 3_600_000_000;

pub async fn a_hit_after_the_window_opens_a_linked_alert(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let day0 = 1_562_000_000_000_000; // 2019-07
    let record =
        |h: NewAlert| async move { store.record_alerts(&[h]).await.expect("record")[0].clone() };
    let (first, _) = record(hit(t, "r1", "h", day0)).await;
    let (same, opened) = record(hit(t, "r1", "h", day0 + 23 * HOUR)).await;
    assert!(
        !opened && same.id == first.id,
        "within 24 h of the last hit"
    );
    let (next, opened) = record(hit(t, "r1", "h", day0 + 23 * HOUR + 25 * HOUR)).await;
    assert!(
        opened && next.id != first.id,
        "past the window: a new alert"
    );
    assert_eq!(next.previous_id, Some(first.id), "linked to the one before");
    assert_eq!(next.status, AlertStatus::Open);
    let ended = store.alert(t, first.id).await.expect("get").expect("kept");
    assert_eq!(ended.status, AlertStatus::Resolved);
    assert!(
        ended
            .resolution
            .as_deref()
            .is_some_and(|r| r.starts_with("expired")),
        "{:?}",
        ended.resolution
    );
    // A late event of the first burst counts into the first alert.
    let (late, opened) = record(hit(t, "r1", "h", day0 + HOUR)).await;
    assert!(!opened, "late evidence");
    assert_eq!((late.id, late.count), (first.id, 3));
    // A late event older than every alert's window: its own, ended alert.
    let (older, opened) = record(hit(t, "r1", "h", day0 - 100 * HOUR)).await;
    assert!(opened && older.id != first.id && older.id != next.id);
    assert_eq!(older.status, AlertStatus::Resolved, "late: pages nobody");
    let open = AlertFilter {
        statuses: vec![AlertStatus::Open],
        ..all()
    };
    let page = store.list_alerts(&[t], &open).await.expect("list");
    assert_eq!(page.alerts.len(), 1, "one open alert per key");
    assert_eq!(page.alerts[0].id, next.id);
    println!(
        "alerts: first {} (resolved), next {} (previous {:?}), late {}",
        first.id, next.id, next.previous_id, older.id
    );
}

pub async fn windows_come_from_the_rule_or_the_tenant(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    assert_eq!(store.alert_window(t).await.expect("window"), None);
    store
        .set_alert_window(t, Some(HOUR))
        .await
        .expect("set window");
    assert_eq!(store.alert_window(t).await.expect("window"), Some(HOUR));
    for bad in [0, -1, 1_000_000, 400 * 24 * HOUR] {
        let r = store.set_alert_window(t, Some(bad)).await;
        assert!(matches!(r, Err(StateError::Invalid(_))), "{bad}: {r:?}");
    }
    let r = store.set_alert_window(TenantId(4242), Some(HOUR)).await;
    assert!(matches!(r, Err(StateError::NotFound(_))), "{r:?}");
    let opened = |hits: Vec<NewAlert>| async move {
        store
            .record_alerts(&hits)
            .await
            .expect("record")
            .into_iter()
            .filter(|(_, o)| *o)
            .count()
    };
    // The tenant's hour: two hours later is a new alert.
    assert_eq!(
        opened(vec![hit(t, "r1", "h", 0), hit(t, "r1", "h", 2 * HOUR)]).await,
        2
    );
    // The rule's own window comes first.
    let mut a = hit(t, "r2", "h", 0);
    a.window = Some(3 * HOUR);
    let mut b = hit(t, "r2", "h", 2 * HOUR);
    b.window = Some(3 * HOUR);
    assert_eq!(opened(vec![a, b]).await, 1);
    store.set_alert_window(t, None).await.expect("reset");
    assert_eq!(store.alert_window(t).await.expect("window"), None);
    assert_eq!(
        opened(vec![hit(t, "r3", "h", 0), hit(t, "r3", "h", 20 * HOUR)]).await,
        1,
        "the default is a day"
    );
}

pub async fn user_names_are_one_identity(state: &dyn StateStore, store: &dyn DetectionStore) {
    let t = tenant(state, "acme").await;
    let as_user = |name: &str, time: i64| {
        let mut h = hit(t, "r1", "WORKSTATION5", time);
        h.entities.user = Some(name.into());
        h
    };
    let recorded = store
        .record_alerts(&[
            as_user("WORKSTATION5\\wardog", 1),
            as_user("wardog", 2),
            as_user("WarDog@shire.example", 3),
            as_user("pgustavo", 4),
        ])
        .await
        .expect("record");
    let opened = recorded.iter().filter(|(_, o)| *o).count();
    assert_eq!(opened, 2, "wardog three ways is one user; pgustavo another");
    assert_eq!(recorded[2].0.count, 3);
    assert_eq!(
        recorded[2].0.entities.user.as_deref(),
        Some("WORKSTATION5\\wardog"),
        "the name as first logged is kept for display"
    );
    let by_user = AlertFilter {
        user: Some("SHIRE\\WARDOG".into()),
        ..all()
    };
    let found = store.list_alerts(&[t], &by_user).await.expect("list");
    assert_eq!(found.total, 1, "any spelling finds the user's alert");
}

pub async fn evidence_is_kept_and_bounded(state: &dyn StateStore, store: &dyn DetectionStore) {
    let t = tenant(state, "acme").await;
    let mut correlation = hit(t, "corr", "h", 10);
    correlation.evidence = (0..150).map(|i| format!("e{i:03}")).collect();
    correlation.event_id = Some("e149".into());
    let (alert, _) = store.record_alerts(&[correlation]).await.expect("record")[0].clone();
    let ev = &alert.evidence;
    assert_eq!(ev.count, 150, "every event counted");
    assert_eq!(ev.first.len(), EVIDENCE_FIRST_MAX);
    assert_eq!(ev.first[0], "e149", "the completing event first");
    assert_eq!(ev.first[1], "e000");
    assert_eq!(ev.latest.len(), EVIDENCE_LATEST_MAX);
    assert_eq!(ev.latest.last().map(String::as_str), Some("e148"));
    // Repeats of kept ids do not count; new ones enter the ring.
    let mut again = hit(t, "corr", "h", 20);
    again.event_id = Some("new1".into());
    again.evidence = vec!["e000".into(), "e148".into(), "new1".into()];
    let (alert, _) = store.record_alerts(&[again]).await.expect("record")[0].clone();
    assert_eq!(alert.evidence.count, 151);
    assert_eq!(alert.evidence.latest.len(), EVIDENCE_LATEST_MAX);
    assert_eq!(
        alert.evidence.latest.last().map(String::as_str),
        Some("new1")
    );
    assert_eq!(alert.count, 2, "hits, not events");
    let stored = store.alert(t, alert.id).await.expect("get").expect("kept");
    assert_eq!(stored.evidence, alert.evidence, "stored as returned");
    println!(
        "evidence: {} first + {} latest of {}",
        stored.evidence.first.len(),
        stored.evidence.latest.len(),
        stored.evidence.count
    );
}

pub async fn paging_with_a_cursor_is_stable_and_counts_all(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let host_hits = |range: std::ops::Range<i64>| {
        range
            .map(|i| hit(t, "r1", &format!("h{i}"), i))
            .collect::<Vec<_>>()
    };
    store
        .record_alerts(&host_hits(0..25))
        .await
        .expect("record");
    let page = |after: Option<AlertCursor>| async move {
        let f = AlertFilter {
            limit: 10,
            after,
            ..all()
        };
        store.list_alerts(&[t], &f).await.expect("list")
    };
    let first = page(None).await;
    assert_eq!((first.alerts.len(), first.total), (10, 25));
    let mut seen: Vec<i64> = first.alerts.iter().map(|a| a.id).collect();
    // Alerts opened while paging come before the cursor: not on later pages.
    store
        .record_alerts(&host_hits(100..105))
        .await
        .expect("record more");
    let mut next = first.next;
    let mut pages = 1;
    while let Some(cursor) = next {
        let p = page(Some(cursor)).await;
        assert_eq!(p.total, 30, "the total is of all pages, now");
        seen.extend(p.alerts.iter().map(|a| a.id));
        next = p.next;
        pages += 1;
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        (seen.len(), unique.len()),
        (25, 25),
        "each older alert once"
    );
    let decoded = AlertCursor::decode(&first.next.expect("cursor").encode()).expect("decode");
    assert_eq!(Some(decoded), first.next);
    assert!(AlertCursor::decode("nonsense").is_err());
    println!("paging: {} alerts in {pages} pages", seen.len());
}

pub async fn listing_spans_the_tenants_given(state: &dyn StateStore, store: &dyn DetectionStore) {
    let a = tenant(state, "acme").await;
    let b = tenant(state, "globex").await;
    let c = tenant(state, "initech").await;
    store
        .record_alerts(&[
            hit(a, "r1", "h", 1),
            hit(b, "r1", "h", 2),
            hit(c, "r1", "h", 3),
        ])
        .await
        .expect("record");
    let both = store.list_alerts(&[a, b], &all()).await.expect("list");
    assert_eq!(both.total, 2);
    let mut tenants: Vec<TenantId> = both.alerts.iter().map(|x| x.tenant).collect();
    tenants.sort();
    assert_eq!(tenants, vec![a, b], "each alert says its tenant");
    let only_b = store.list_alerts(&[b], &all()).await.expect("list");
    assert!(only_b.alerts.iter().all(|x| x.tenant == b));
    let none = store.list_alerts(&[], &all()).await.expect("list");
    assert_eq!((none.total, none.alerts.len()), (0, 0));
}

pub async fn alerts_are_found_by_detection_time(
    state: &dyn StateStore,
    store: &dyn DetectionStore,
) {
    let t = tenant(state, "acme").await;
    let before = Timestamp::now();
    let old = 1_562_000_000_000_000; // events of 2019
    let (alert, _) = store
        .record_alerts(&[hit(t, "r1", "h", old)])
        .await
        .expect("record")[0]
        .clone();
    assert!(alert.detected_at >= before, "detected now, not in 2019");
    assert_eq!(alert.first_seen, Timestamp(old));
    let list = |f: AlertFilter| async move {
        store
            .list_alerts(&[t], &f)
            .await
            .expect("list")
            .alerts
            .len()
    };
    let last_day = Timestamp(before.micros() - 24 * HOUR);
    assert_eq!(
        list(AlertFilter {
            from: Some(last_day),
            ..all()
        })
        .await,
        1,
        "detected in the last day"
    );
    assert_eq!(
        list(AlertFilter {
            event_from: Some(last_day),
            ..all()
        })
        .await,
        0,
        "its events are old"
    );
    assert_eq!(
        list(AlertFilter {
            to: Some(before),
            ..all()
        })
        .await,
        0,
        "not detected before the test"
    );
    assert_eq!(
        list(AlertFilter {
            event_to: Some(Timestamp(old + 1)),
            ..all()
        })
        .await,
        1
    );
}

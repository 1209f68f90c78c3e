//! The NOC loop: the inventory's checks run on the scheduler; each result
//! becomes metric samples (the metric store) and a check state; a NOC
//! engine per tenant turns them into alert transitions, recorded as NOC
//! alerts in the same queue as the SOC's.
//!
//! ```text
//! InventoryStore ──sync (every few s, and on change)──► Scheduler (vigil-checks)
//!                                                          │ (CheckId, CheckResult)
//!                                                          ▼
//!                     MetricStore::append ◄── samples ── handle ── CheckState ──► Engine (vigil-noc, per tenant)
//!                                                                                   │ AlertEvent
//!                     DetectionStore::record_alerts / resolve_alerts ◄───────────────┘
//! ```
//!
//! Topology (each asset's parent) comes from the inventory, so a router
//! that goes down gives one alert, and the hosts behind it are held back.
//!
//! One tenant's item cannot stop the others: a stored check is read with
//! the bounds of the API again before it runs (a row from before them is
//! refused, its status says why); a run, a scrape, a poll, a result or an
//! engine's tick that panics is caught, logged, counted
//! (`vigil_task_panics_total`), and its check marked failed; the loops go
//! on.

pub mod alerts;
pub mod definitions;
pub mod guard;
pub mod scrape;
pub mod snmp;
pub mod spec;
pub mod status;
pub mod traps;

use crate::metrics::count_panic;
use futures_util::FutureExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use vigil_checks::{CheckId, CheckResult, Scheduler};
use vigil_core::{TenantId, Timestamp};
use vigil_metrics::{MetricStore, Sample, SeriesKey};
use vigil_noc::{
    AlertEvent, Engine, EngineConfig, MaintenanceWindow, Observation, RuleSpec, SeriesRef, Topology,
};
use vigil_store::state::{DetectionStore, InventoryStore};

/// Checks running at once, at most.
const MAX_RUNNING: usize = 512;

/// How often the inventory is read again without being told of a change.
const SYNC_EVERY: Duration = Duration::from_secs(10);

/// How often the metric store flushes and downsamples what is due.
const COMPACT_EVERY: Duration = Duration::from_secs(60);

/// How often the engines judge durations (`for`, no data).
const TICK_EVERY: Duration = Duration::from_secs(5);

/// One sample before it has a series id: metric name, labels, value.
type Row = (String, Vec<(String, String)>, f64);

/// What a scheduled check is, beside its spec.
#[derive(Clone, PartialEq)]
struct CheckMeta {
    tenant: TenantId,
    asset: String,
    kind: String,
    spec: Value,
}

impl CheckMeta {
    /// The target as alerts name it: as the operator wrote it, with a
    /// TCP check's separate `port` added (`db01:5432`).
    fn shown_target(&self) -> String {
        let target = self
            .spec
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match self.spec.get("port").and_then(Value::as_u64) {
            Some(port) if self.kind == "tcp" && !target.ends_with(&format!(":{port}")) => {
                match target.contains(':') {
                    true => format!("[{target}]:{port}"),
                    false => format!("{target}:{port}"),
                }
            }
            _ => target.to_string(),
        }
    }
}

/// The file, under the data directory, holding the engines' state.
pub const STATE_FILE: &str = "noc/engines.json";

/// How often the engines' state is written.
const SAVE_EVERY: Duration = Duration::from_secs(30);

/// A Prometheus scrape or an SNMP poll, on its own loop beside the
/// scheduler.
struct ScrapeJob {
    meta: CheckMeta,
    interval: Duration,
    timeout: Duration,
    next: tokio::time::Instant,
    running: bool,
}

pub struct Noc {
    scheduler: Scheduler,
    scrapes: Mutex<HashMap<u64, ScrapeJob>>,
    /// Per SNMP check: the counters of its previous poll.
    snmp_rates: Mutex<HashMap<u64, vigil_snmp::InterfaceRates>>,
    data: std::path::PathBuf,
    /// Engine state read at start, for tenants whose engine is not built yet.
    restored: Mutex<HashMap<TenantId, Value>>,
    metrics: Arc<MetricStore>,
    detections: Arc<dyn DetectionStore>,
    inventory: Arc<dyn InventoryStore>,
    engines: Mutex<HashMap<TenantId, Engine>>,
    /// Every tenant's engine settings (`[noc]`).
    engine_config: EngineConfig,
    checks: Mutex<HashMap<u64, CheckMeta>>,
    /// Stored checks refused when read back, with the reason (their
    /// status says it).
    refused: Mutex<HashMap<u64, String>>,
    changed: Notify,
    /// Each check's last result, for the API.
    statuses: status::Statuses,
    /// Where each tenant's checks may connect.
    policies: guard::Policies,
}

impl Noc {
    /// Starts the scheduler and the NOC's loops; they run until the
    /// returned tasks are aborted.
    pub fn start(
        data: &std::path::Path,
        metrics: Arc<MetricStore>,
        detections: Arc<dyn DetectionStore>,
        inventory: Arc<dyn InventoryStore>,
        engine_config: EngineConfig,
        policies: guard::Policies,
    ) -> (Arc<Noc>, Vec<tokio::task::JoinHandle<()>>) {
        let (results, mut incoming) = mpsc::channel(4096);
        let noc = Arc::new(Noc {
            scheduler: Scheduler::new(MAX_RUNNING, results),
            scrapes: Mutex::new(HashMap::new()),
            snmp_rates: Mutex::new(HashMap::new()),
            data: data.to_path_buf(),
            restored: Mutex::new(crate::state_file::read(&data.join(STATE_FILE), "NOC state")),
            metrics,
            detections,
            inventory,
            engine_config,
            engines: Mutex::new(HashMap::new()),
            checks: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            statuses: status::Statuses::default(),
            policies,
        });
        let handler = noc.clone();
        let handle = tokio::spawn(async move {
            while let Some((id, result)) = incoming.recv().await {
                let handled = AssertUnwindSafe(handler.handle(id, result));
                if handled.catch_unwind().await.is_err() {
                    count_panic("noc");
                    tracing::error!(
                        check = id.0,
                        "handling a check result panicked; the result is lost, the loop goes on"
                    );
                }
            }
        });
        let syncer = noc.clone();
        let sync = tokio::spawn(async move {
            loop {
                match AssertUnwindSafe(syncer.sync()).catch_unwind().await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "reading the NOC inventory failed"),
                    Err(_) => {
                        count_panic("noc");
                        tracing::error!(
                            "reading the NOC inventory panicked; tried again at the next sync"
                        );
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(SYNC_EVERY) => {}
                    _ = syncer.changed.notified() => {}
                }
            }
        });
        let ticker = noc.clone();
        let tick = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK_EVERY).await;
                let now = Timestamp::now().micros() / 1000;
                let events: Vec<(TenantId, Vec<AlertEvent>)> = {
                    let mut engines = ticker.engines.lock().unwrap_or_else(|p| p.into_inner());
                    engines
                        .iter_mut()
                        .map(|(tenant, engine)| (*tenant, tick_caught(*tenant, engine, now)))
                        .collect()
                };
                for (tenant, events) in events {
                    ticker.apply(tenant, events).await;
                }
            }
        });
        let compactor = noc.clone();
        let compact = tokio::spawn(async move {
            loop {
                tokio::time::sleep(COMPACT_EVERY).await;
                let store = compactor.metrics.clone();
                let now = Timestamp::now().micros() / 1000;
                match tokio::task::spawn_blocking(move || store.compact(now)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "metric compaction failed"),
                    Err(e) => tracing::error!(error = %e, "metric compaction stopped"),
                }
            }
        });
        let scraper = noc.clone();
        let scrape = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                for (id, meta, timeout) in scraper.due_scrapes() {
                    let noc = scraper.clone();
                    tokio::spawn(async move {
                        let run = noc.run_scrape(id, meta.clone(), timeout);
                        noc.scrape_caught(id, &meta, run).await;
                    });
                }
            }
        });
        let saver = noc.clone();
        let save = tokio::spawn(async move {
            loop {
                tokio::time::sleep(SAVE_EVERY).await;
                if let Err(e) = saver.save_state() {
                    tracing::error!(error = %e, "cannot save the NOC engines' state");
                }
            }
        });
        (noc, vec![handle, sync, tick, compact, save, scrape])
    }

    /// The network policy of `tenant`'s checks.
    pub fn policy(&self, tenant: TenantId) -> Arc<vigil_checks::NetworkPolicy> {
        self.policies.of(tenant)
    }

    /// Vigil's own listeners, which checks may not reach by default.
    pub fn own_listeners(&self) -> &vigil_checks::OwnListeners {
        self.policies.own_listeners()
    }

    /// The inventory changed: read it again now.
    pub fn inventory_changed(&self) {
        self.changed.notify_one();
    }

    /// The last result of check `id` of `tenant`, while the check is
    /// scheduled (a deleted or disabled check has none once the inventory
    /// is read again).
    pub fn check_status(&self, tenant: TenantId, id: i64) -> Option<status::CheckStatus> {
        let id = u64::try_from(id).ok()?;
        let scheduled = self
            .checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
            || self
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&id)
            || self
                .scrapes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&id);
        scheduled.then(|| self.statuses.get(tenant, id)).flatten()
    }

    /// Drops a check's status at once (deleted or disabled through the
    /// API), before the inventory is read again.
    pub fn forget_status(&self, id: i64) {
        if let Ok(id) = u64::try_from(id) {
            self.statuses.forget(id);
        }
    }

    /// Records a run's status. Statuses of checks that are gone are
    /// dropped once there are more statuses than scheduled checks, so
    /// memory stays bounded by the inventory without a sweep of its own.
    fn record_status(&self, tenant: TenantId, id: u64, outcome: &status::Outcome) {
        self.statuses.record(tenant, id, outcome);
        let checks = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        let scrapes = self.scrapes.lock().unwrap_or_else(|p| p.into_inner());
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        // A check is in one map or another, by its kind.
        if self.statuses.len() > checks.len() + scrapes.len() + refused.len() {
            let live = checks.keys().chain(scrapes.keys()).chain(refused.keys());
            self.statuses.retain(&live.copied().collect());
        }
    }

    /// Brings the scheduler and the topologies in line with the inventory.
    async fn sync(&self) -> anyhow::Result<()> {
        let checks = self.inventory.list_checks(None).await?;
        let mut wanted: HashMap<u64, CheckMeta> = HashMap::new();
        let mut scrapes: HashMap<u64, ScrapeWanted> = HashMap::new();
        let mut refused: HashMap<u64, (TenantId, String)> = HashMap::new();
        for check in checks.into_iter().filter(|c| c.record.enabled) {
            let Ok(id) = u64::try_from(check.id) else {
                continue;
            };
            let meta = CheckMeta {
                tenant: check.tenant,
                asset: check.record.asset.clone(),
                kind: check.record.kind.clone(),
                spec: check.record.spec.clone(),
            };
            // The bounds of the API, again: a row stored before them (or
            // changed behind the API's back) is refused, never run.
            match crate::inventory::read_stored_check(&meta.kind, &meta.spec) {
                Err(reason) => {
                    refused.insert(id, (meta.tenant, reason));
                }
                Ok(read) if read.run.is_none() => {
                    scrapes.insert(id, (meta, read.interval, read.timeout));
                }
                Ok(_) => {
                    wanted.insert(id, meta);
                }
            }
        }
        self.set_refused(refused);
        let mut tenants_of_scrapes: Vec<TenantId> =
            scrapes.values().map(|(m, _, _)| m.tenant).collect();
        self.set_scrapes(scrapes);
        let mut tenants: Vec<TenantId> = wanted.values().map(|m| m.tenant).collect();
        tenants.append(&mut tenants_of_scrapes);
        tenants.sort();
        tenants.dedup();
        let mut setups = Vec::new();
        for tenant in tenants {
            let watched = self.watched_assets(tenant, wanted.values());
            setups.push(self.tenant_setup(tenant, watched).await?);
        }
        self.schedule(wanted);
        let mut pending = Vec::new();
        {
            let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
            for setup in setups {
                let tenant = setup.tenant;
                let events = match engines.entry(tenant) {
                    std::collections::hash_map::Entry::Occupied(e) => {
                        retune(tenant, e.into_mut(), setup, &self.engine_config)
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let (mut engine, events) = self.new_engine(tenant, setup.rules.clone())?;
                        retune(tenant, &mut engine, setup, &self.engine_config);
                        v.insert(engine);
                        events
                    }
                };
                pending.push((tenant, events));
            }
        }
        for (tenant, events) in pending {
            self.apply(tenant, events).await;
        }
        Ok(())
    }

    /// What a tenant's engine should run, from the inventory: the assets'
    /// parents and tags, the tenant's rules and maintenance windows.
    /// A tenant's assets with reachability checks scheduled: a child's
    /// page waits for their results even before their first one.
    fn watched_assets<'a>(
        &self,
        tenant: TenantId,
        checks: impl Iterator<Item = &'a CheckMeta>,
    ) -> BTreeSet<String> {
        let kinds = &self.engine_config.reachability_kinds;
        checks
            .filter(|m| m.tenant == tenant && kinds.contains(&m.kind))
            .map(|m| m.asset.clone())
            .collect()
    }

    async fn tenant_setup(
        &self,
        tenant: TenantId,
        watched: BTreeSet<String>,
    ) -> anyhow::Result<TenantSetup> {
        let assets = self.inventory.list_assets(tenant).await?;
        let parents: BTreeMap<String, String> = assets
            .iter()
            .filter_map(|a| Some((a.spec.name.clone(), a.spec.parent.clone()?)))
            .collect();
        let tags = assets
            .into_iter()
            .map(|a| (a.spec.name, a.spec.tags.into_iter().collect()))
            .collect();
        let (rules, windows) = definitions::tenant_tuning(self.inventory.as_ref(), tenant).await?;
        Ok(TenantSetup {
            tenant,
            parents,
            tags,
            watched,
            rules,
            windows,
        })
    }

    /// A tenant's engine, from its saved state when there is one (the
    /// events are what the restore decided, e.g. alerts whose rule is gone).
    fn new_engine(
        &self,
        tenant: TenantId,
        rules: Vec<RuleSpec>,
    ) -> anyhow::Result<(Engine, Vec<AlertEvent>)> {
        let saved = self
            .restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&tenant);
        if let Some(snapshot) = saved {
            match Engine::restore(rules.clone(), self.engine_config.clone(), &snapshot) {
                Ok(restored) => return Ok(restored),
                Err(e) => tracing::warn!(tenant = %tenant, error = %e, "NOC state not restored"),
            }
        }
        Ok((Engine::new(rules, self.engine_config.clone())?, Vec::new()))
    }

    /// Writes every engine's state to the data directory.
    pub fn save_state(&self) -> std::io::Result<()> {
        let mut snapshots: Vec<(TenantId, Value)> = self
            .restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(t, s)| (*t, s.clone()))
            .collect();
        let engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        snapshots.extend(engines.iter().map(|(t, e)| (*t, e.snapshot())));
        crate::state_file::write(&self.data.join(STATE_FILE), snapshots)
    }

    /// Upserts changed checks and removes those gone.
    fn schedule(&self, wanted: HashMap<u64, CheckMeta>) {
        let mut current = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        current.retain(|id, _| {
            let keep = wanted.contains_key(id);
            if !keep {
                self.scheduler.remove(CheckId(*id));
            }
            keep
        });
        for (id, meta) in wanted {
            if current.get(&id) == Some(&meta) {
                continue;
            }
            match spec::check_spec(&meta.kind, &meta.spec) {
                Ok(spec) => match self.scheduler.upsert_with(
                    CheckId(id),
                    spec,
                    self.policies.of(meta.tenant),
                ) {
                    Ok(()) => {
                        current.insert(id, meta);
                    }
                    Err(e) => tracing::warn!(check = id, error = %e, "check not scheduled"),
                },
                Err(e) => tracing::warn!(check = id, error = %e, "check not scheduled"),
            }
        }
    }

    /// Marks the checks refused when read back: each is down with the
    /// reason (logged once, when it is first refused), and not run.
    fn set_refused(&self, now: HashMap<u64, (TenantId, String)>) {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        refused.retain(|id, _| now.contains_key(id));
        for (id, (tenant, reason)) in now {
            if refused.get(&id) == Some(&reason) {
                continue;
            }
            tracing::warn!(check = id, error = %reason, "a stored check is refused and not run");
            let outcome = status::Outcome {
                up: false,
                reason: format!("refused: {reason}; change the check to run it"),
                note: None,
                started: std::time::SystemTime::now(),
                duration: None,
                latency: None,
            };
            self.statuses.record(tenant, id, &outcome);
            refused.insert(id, reason);
        }
    }

    /// Runs one scrape or poll (`run`) so that a panic in it is
    /// [`Self::scrape_panicked`], not the end of anything else.
    async fn scrape_caught(&self, id: u64, meta: &CheckMeta, run: impl Future<Output = ()>) {
        if AssertUnwindSafe(run).catch_unwind().await.is_err() {
            self.scrape_panicked(id, meta);
        }
    }

    /// Frees the job of check `id` to run again; false when it is gone
    /// meanwhile (a check deleted or changed, whose status is not
    /// recorded again).
    fn finish_job(&self, id: u64) -> bool {
        match self
            .scrapes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&id)
        {
            Some(job) => {
                job.running = false;
                true
            }
            None => false,
        }
    }

    /// A scrape or a poll that panicked: counted, logged, its check marked
    /// failed with a reason of our own, and its job free to run again.
    fn scrape_panicked(&self, id: u64, meta: &CheckMeta) {
        let loop_name = if meta.kind == "snmp" {
            "snmp"
        } else {
            "scrape"
        };
        count_panic(loop_name);
        tracing::error!(check = id, kind = %meta.kind, "a scrape panicked; its check is marked failed, the loop goes on");
        let still_wanted = self.finish_job(id);
        if still_wanted {
            let outcome = status::Outcome {
                up: false,
                reason: vigil_checks::INTERNAL_FAULT.to_string(),
                note: None,
                started: std::time::SystemTime::now(),
                duration: None,
                latency: None,
            };
            self.record_status(meta.tenant, id, &outcome);
        }
    }

    /// Keeps the scrape jobs in line with the inventory; a job whose check
    /// did not change keeps its timing.
    fn set_scrapes(&self, wanted: HashMap<u64, ScrapeWanted>) {
        let mut jobs = self.scrapes.lock().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|id, job| wanted.get(id).is_some_and(|(meta, _, _)| *meta == job.meta));
        for (id, (meta, interval, timeout)) in wanted {
            if jobs.contains_key(&id) {
                continue;
            }
            jobs.insert(
                id,
                ScrapeJob {
                    meta,
                    interval,
                    timeout,
                    next: tokio::time::Instant::now(),
                    running: false,
                },
            );
        }
    }

    /// Scrapes that are due and not still running (a slow exporter skips
    /// its slots rather than piling scrapes up).
    fn due_scrapes(&self) -> Vec<(u64, CheckMeta, Duration)> {
        let now = tokio::time::Instant::now();
        let mut jobs = self.scrapes.lock().unwrap_or_else(|p| p.into_inner());
        let mut due = Vec::new();
        for (id, job) in jobs.iter_mut() {
            if job.running || job.next > now {
                continue;
            }
            job.next = next_due(job.next, job.interval, now);
            job.running = true;
            due.push((*id, job.meta.clone(), job.timeout));
        }
        due
    }

    async fn run_scrape(&self, id: u64, meta: CheckMeta, timeout: Duration) {
        let target = meta
            .spec
            .get("target")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_string();
        let started = std::time::SystemTime::now();
        let clock = tokio::time::Instant::now();
        let policy = self.policies.of(meta.tenant);
        let outcome = match meta.kind.as_str() {
            "snmp" => self
                .poll_snmp(id, &meta, timeout, &policy)
                .await
                .map(|rows| (rows, None)),
            _ => scrape::scrape(&target, timeout, &policy)
                .await
                .and_then(scrape::rows_of),
        };
        let duration = clock.elapsed();
        // A job gone meanwhile is a check deleted or changed: its status
        // is not recorded again.
        let still_wanted = self.finish_job(id);
        let time_ms = started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let (up, reason, note, samples) = match outcome {
            Ok((samples, note)) => (true, String::new(), note, samples),
            Err(reason) => (false, reason, None, Vec::new()),
        };
        if let Some(note) = &note {
            tracing::debug!(check = id, %note, "exporter lines refused");
        }
        if still_wanted {
            let outcome = status::Outcome {
                up,
                reason: reason.clone(),
                note,
                started,
                duration: Some(duration),
                latency: None,
            };
            self.record_status(meta.tenant, id, &outcome);
        }
        let check = id.to_string();
        let mut rows: Vec<Row> = samples;
        rows.push((
            "vigil_check_up".into(),
            vec![("check".into(), meta.kind.clone())],
            if up { 1.0 } else { 0.0 },
        ));
        self.append_samples(&meta, &check, &rows, time_ms);
        let mut observations = vec![Observation::CheckState {
            check: check.clone(),
            kind: meta.kind.clone(),
            asset: meta.asset.clone(),
            time_ms,
            up,
            reason,
            target: meta.shown_target(),
        }];
        let rows = with_rule_names(rows, time_ms);
        observations.extend(samples_of(&meta.asset, &rows, time_ms));
        self.observe(meta.tenant, &observations).await;
    }

    /// One SNMP poll with this check's counter memory (taken out of the map
    /// for the poll, so no lock is held across it).
    async fn poll_snmp(
        &self,
        id: u64,
        meta: &CheckMeta,
        timeout: Duration,
        policy: &vigil_checks::NetworkPolicy,
    ) -> Result<Vec<Row>, String> {
        let known = self
            .snmp_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let mut rates = known.unwrap_or_else(|| self.resumed_rates(id, meta.tenant));
        let result = snmp::poll(&meta.spec, timeout, &mut rates, policy).await;
        self.snmp_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, rates);
        result
    }

    /// Counter memory for a check polled for the first time since start:
    /// the uptime it published last carries its sysUpTime wraps over, so a
    /// device up for over 497 days does not read as rebooted after every
    /// restart of Vigil.
    fn resumed_rates(&self, id: u64, tenant: TenantId) -> vigil_snmp::InterfaceRates {
        let mut rates = vigil_snmp::InterfaceRates::default();
        let now = Timestamp::now().micros() / 1000;
        let week = 7 * 86_400_000;
        let expr = format!("vigil_uptime_seconds{{check_id=\"{id}\"}}");
        let last = match self.metrics.query(tenant, &expr, now - week, now, 0) {
            Ok(series) => series
                .into_iter()
                .filter_map(|s| s.points.last().copied())
                .max_by_key(|(t, _)| *t),
            Err(e) => {
                tracing::debug!(check = id, error = %e, "no uptime to resume from");
                None
            }
        };
        if let Some((t, seconds)) = last {
            let elapsed = Duration::from_millis(now.saturating_sub(t).max(0) as u64);
            rates.resume_uptime(seconds, elapsed);
        }
        rates
    }

    /// Feeds observations to the tenant's engine and records what it decides.
    async fn observe(&self, tenant: TenantId, observations: &[Observation]) {
        let events: Vec<AlertEvent> = {
            let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
            let Some(engine) = engines.get_mut(&tenant) else {
                return;
            };
            observations
                .iter()
                .flat_map(|o| engine.observe(o))
                .collect()
        };
        self.apply(tenant, events).await;
    }

    /// Samples labelled with the asset and the check, into the metric store.
    fn append_samples(&self, meta: &CheckMeta, check: &str, rows: &[Row], time_ms: i64) {
        let mut samples = Vec::with_capacity(rows.len());
        for (name, labels, value) in rows {
            let labels = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .filter(|(k, _)| *k != "asset" && *k != "check_id")
                .chain([("asset", meta.asset.as_str()), ("check_id", check)]);
            let key = match SeriesKey::new(name, labels) {
                Ok(key) => key,
                Err(e) => {
                    tracing::debug!(error = %e, "a sample has an invalid series");
                    continue;
                }
            };
            match self.metrics.series_id(meta.tenant, &key) {
                Ok(series) => samples.push(Sample {
                    series,
                    t: time_ms,
                    v: *value,
                }),
                Err(e) => tracing::warn!(error = %e, "a sample could not be stored"),
            }
        }
        if let Err(e) = self.metrics.append(meta.tenant, &samples) {
            tracing::warn!(error = %e, "samples could not be stored");
        }
    }

    async fn handle(&self, id: CheckId, result: CheckResult) {
        if result.panicked {
            count_panic("checks");
            tracing::error!(
                check = id.0,
                "a check run panicked; its check is marked failed, the others go on"
            );
        }
        let Some(meta) = self
            .checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id.0)
            .cloned()
        else {
            return;
        };
        let time_ms = result
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let rows: Vec<Row> = result
            .samples
            .iter()
            .map(|s| {
                let labels = s.labels.iter().map(|(k, v)| (k.to_string(), v.clone()));
                (s.name.to_string(), labels.collect(), s.value)
            })
            .collect();
        let check = id.0.to_string();
        self.append_samples(&meta, &check, &rows, time_ms);
        let outcome = status::Outcome {
            up: result.state.is_up(),
            reason: result.state.reason().unwrap_or_default().to_string(),
            note: None,
            started: result.started,
            // The run ended about when its result arrives here.
            duration: result.started.elapsed().ok(),
            latency: result.latency,
        };
        self.record_status(meta.tenant, id.0, &outcome);
        let mut observations = vec![Observation::CheckState {
            check,
            kind: meta.kind.clone(),
            asset: meta.asset.clone(),
            time_ms,
            up: outcome.up,
            reason: outcome.reason,
            target: meta.shown_target(),
        }];
        let rows = with_rule_names(rows, time_ms);
        observations.extend(samples_of(&meta.asset, &rows, time_ms));
        self.observe(meta.tenant, &observations).await;
    }

    /// Records what the engine decided (see [`alerts::record`]).
    async fn apply(&self, tenant: TenantId, events: Vec<AlertEvent>) {
        alerts::record(self.detections.as_ref(), tenant, events).await;
    }
}

/// A scrape job as the inventory wants it: the check, its interval and
/// its timeout (both within bounds).
type ScrapeWanted = (CheckMeta, Duration, Duration);

/// The first slot after `now` on a job's grid (`next + k × interval`),
/// without a loop and without overflow.
fn next_due(
    next: tokio::time::Instant,
    interval: Duration,
    now: tokio::time::Instant,
) -> tokio::time::Instant {
    let interval = interval.max(Duration::from_millis(1));
    let behind = now.saturating_duration_since(next).as_nanos();
    let steps = u32::try_from(behind / interval.as_nanos() + 1).unwrap_or(u32::MAX);
    next.checked_add(interval.saturating_mul(steps))
        .filter(|due| *due > now)
        .or_else(|| now.checked_add(interval))
        .or_else(|| now.checked_add(vigil_checks::settings::MAX_INTERVAL))
        .unwrap_or(now)
}

/// One engine's tick; a panic in it is caught (the tenant's engine may be
/// left mid-way, the others are untouched) and counted.
fn tick_caught(tenant: TenantId, engine: &mut Engine, now: i64) -> Vec<AlertEvent> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| engine.tick(now))) {
        Ok(events) => events,
        Err(_) => {
            count_panic("noc");
            tracing::error!(tenant = %tenant, "a NOC engine's tick panicked; the other tenants go on");
            Vec::new()
        }
    }
}

/// What the inventory says a tenant's engine runs with.
struct TenantSetup {
    tenant: TenantId,
    parents: BTreeMap<String, String>,
    tags: BTreeMap<String, BTreeSet<String>>,
    /// Assets with reachability checks scheduled.
    watched: BTreeSet<String>,
    rules: Vec<RuleSpec>,
    windows: Vec<MaintenanceWindow>,
}

/// Brings an engine in line with its tenant's setup. New or changed rules
/// rebuild it from its own snapshot, so the alerts of unchanged rules go
/// on and those of removed or changed rules are closed (the returned
/// events say so).
fn retune(
    tenant: TenantId,
    engine: &mut Engine,
    setup: TenantSetup,
    config: &EngineConfig,
) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    if !engine.rules().eq(setup.rules.iter()) {
        match Engine::restore(setup.rules, config.clone(), &engine.snapshot()) {
            Ok((rebuilt, closed)) => {
                *engine = rebuilt;
                events = closed;
                tracing::info!(tenant = %tenant, "NOC rules changed; engine rebuilt");
            }
            Err(e) => tracing::error!(tenant = %tenant, error = %e, "NOC rules refused"),
        }
    }
    match Topology::new(setup.parents) {
        Ok(topology) => {
            engine.set_topology(topology.with_tags(setup.tags).with_watched(setup.watched))
        }
        Err(e) => tracing::error!(tenant = %tenant, error = %e, "asset parents refused"),
    }
    if let Err(e) = engine.set_windows(setup.windows) {
        tracing::error!(tenant = %tenant, error = %e, "maintenance windows refused");
    }
    events
}

/// The rows, plus the same values under the names and units the built-in
/// NOC rules read (percent and milliseconds, blackbox exporter's
/// certificate expiry as a time), so that one rule serves checks and
/// scraped exporters alike.
fn with_rule_names(mut rows: Vec<Row>, time_ms: i64) -> Vec<Row> {
    let mut extra = Vec::new();
    for (name, labels, value) in &rows {
        let alias = match name.as_str() {
            "vigil_icmp_loss_ratio" => Some(("vigil_icmp_loss_percent", value * 100.0)),
            "vigil_icmp_rtt_seconds" => Some(("vigil_icmp_rtt_ms", value * 1000.0)),
            "vigil_tls_cert_expiry_days" => Some((
                "probe_ssl_earliest_cert_expiry",
                time_ms as f64 / 1000.0 + value * 86_400.0,
            )),
            _ => None,
        };
        if let Some((alias, value)) = alias {
            extra.push((alias.to_string(), labels.clone(), value));
        }
    }
    rows.append(&mut extra);
    rows
}

/// Rows of samples as the engine's observations of `asset`.
fn samples_of<'a>(
    asset: &'a str,
    rows: &'a [Row],
    time_ms: i64,
) -> impl Iterator<Item = Observation> + 'a {
    rows.iter().map(move |(name, labels, value)| {
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Observation::Sample {
            series: SeriesRef::new(name, asset, &labels),
            time_ms,
            value: *value,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_slots_never_overflow_nor_loop() {
        let now = tokio::time::Instant::now();
        let huge = Duration::from_secs(u64::MAX);
        assert!(next_due(now, huge, now) >= now);
        assert!(next_due(now, Duration::ZERO, now + Duration::from_secs(3600)) > now);
        let due = next_due(now, Duration::from_secs(10), now + Duration::from_secs(25));
        assert_eq!(due, now + Duration::from_secs(30));
    }

    fn panics(loop_name: &'static str) -> u64 {
        crate::metrics::task_panics()
            .get_or_create(&crate::metrics::LoopLabel { r#loop: loop_name })
            .get()
    }

    /// A NOC over `state` whose checks may reach no network at all:
    /// nothing these tests store can send a packet, whatever it holds.
    async fn started(
        dir: &std::path::Path,
        state: Arc<vigil_store::state::SqliteState>,
    ) -> (Arc<Noc>, Vec<tokio::task::JoinHandle<()>>) {
        let metrics =
            Arc::new(MetricStore::open(&dir.join("m"), Default::default()).expect("metrics"));
        let mut config = crate::config::Config::default();
        config.check_policy.deny_networks = vec!["0.0.0.0/0".into(), "::/0".into()];
        let policies = guard::Policies::from_config(&config, state.as_ref())
            .await
            .expect("policies");
        Noc::start(
            dir,
            metrics,
            state.clone(),
            state,
            EngineConfig::default(),
            policies,
        )
    }

    fn job(tenant: i64, kind: &str) -> ScrapeJob {
        ScrapeJob {
            meta: CheckMeta {
                tenant: TenantId(tenant),
                asset: "a".into(),
                kind: kind.into(),
                spec: serde_json::json!({"target": "192.0.2.1"}),
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            next: tokio::time::Instant::now(),
            running: true,
        }
    }

    /// An SNMP poll of tenant 1 that panics: caught, counted under `snmp`,
    /// its check down with our reason and free to run again; tenant 2's
    /// job is untouched, and the loop's own task never saw the panic.
    #[tokio::test]
    async fn a_panicking_poll_is_caught_counted_and_marked_failed() {
        let dir = tempfile::tempdir().expect("dir");
        let state = Arc::new(
            vigil_store::state::SqliteState::in_memory()
                .await
                .expect("db"),
        );
        let (noc, tasks) = started(dir.path(), state.clone()).await;
        noc.scrapes.lock().unwrap().insert(7, job(1, "snmp"));
        noc.scrapes.lock().unwrap().insert(8, job(2, "prometheus"));
        let before = panics("snmp");
        let meta = noc.scrapes.lock().unwrap()[&7].meta.clone();
        noc.scrape_caught(7, &meta, async { panic!("injected fault") })
            .await;
        assert_eq!(panics("snmp"), before + 1);
        let status = noc.check_status(TenantId(1), 7).expect("a status");
        assert_eq!(status.state, status::State::Down);
        assert_eq!(status.reason.as_deref(), Some(vigil_checks::INTERNAL_FAULT));
        assert!(
            !noc.scrapes.lock().unwrap()[&7].running,
            "free to run again"
        );
        assert!(
            noc.scrapes.lock().unwrap()[&8].running,
            "tenant 2 untouched"
        );
        assert!(
            noc.check_status(TenantId(2), 7).is_none(),
            "not seen by another tenant"
        );
        for task in tasks {
            assert!(!task.is_finished(), "every loop still runs");
            task.abort();
        }
    }

    /// Rows stored before the bounds existed (the issue's overflowing
    /// interval, a CA read from a device): refused when read back, down
    /// with the reason, never scheduled, no panic.
    #[tokio::test]
    async fn bad_stored_rows_are_refused_with_the_reason() {
        use vigil_store::state::{AssetSpec, CheckRecord, Criticality, StateStore};
        let dir = tempfile::tempdir().expect("dir");
        let state = Arc::new(
            vigil_store::state::SqliteState::in_memory()
                .await
                .expect("db"),
        );
        let name = vigil_core::TenantName::new("acme").expect("name");
        let tenant = state.create_tenant(&name, 30).await.expect("tenant").id;
        let asset = AssetSpec {
            name: "a".into(),
            address: "192.0.2.1".into(),
            kind: "host".into(),
            tags: Vec::new(),
            criticality: Criticality::parse("medium").expect("criticality"),
            parent: None,
        };
        state.create_asset(tenant, &asset).await.expect("asset");
        let rows = [
            (
                "prometheus",
                serde_json::json!({"target": "http://192.0.2.1:9100/metrics", "interval": "18446744073709551615s"}),
            ),
            (
                "snmp",
                serde_json::json!({"target": "192.0.2.1", "interval": 18446744073709551615u64}),
            ),
            (
                "http",
                serde_json::json!({"target": "https://192.0.2.1/", "ca_file": "/dev/urandom"}),
            ),
        ];
        let mut ids = Vec::new();
        for (kind, spec) in rows {
            let record = CheckRecord {
                asset: "a".into(),
                kind: kind.into(),
                target: spec["target"].as_str().unwrap_or_default().into(),
                interval_ms: -1,
                spec,
                enabled: true,
            };
            ids.push(
                state
                    .create_check(tenant, &record)
                    .await
                    .expect("stored")
                    .id,
            );
        }
        let (noc, tasks) = started(dir.path(), state.clone()).await;
        noc.sync().await.expect("sync");
        for (id, field) in ids.into_iter().zip(["interval", "interval", "ca_file"]) {
            let status = noc.check_status(tenant, id).expect("a status");
            assert_eq!(status.state, status::State::Down);
            let reason = status.reason.unwrap_or_default();
            assert!(
                reason.starts_with(&format!("refused: {field}:")),
                "{reason}"
            );
        }
        assert!(noc.scrapes.lock().unwrap().is_empty());
        assert!(noc.checks.lock().unwrap().is_empty());
        for task in tasks {
            assert!(!task.is_finished());
            task.abort();
        }
    }

    #[test]
    fn a_tick_that_does_not_panic_is_not_counted() {
        let before = panics("noc");
        let mut engine = Engine::new(Vec::new(), EngineConfig::default()).expect("engine");
        assert!(tick_caught(TenantId(1), &mut engine, 0).is_empty());
        assert_eq!(panics("noc"), before);
    }

    #[test]
    fn check_samples_get_the_names_the_rules_read() {
        let rows = vec![
            ("vigil_icmp_loss_ratio".to_string(), Vec::new(), 0.25),
            ("vigil_icmp_rtt_seconds".to_string(), Vec::new(), 0.012),
            ("vigil_tls_cert_expiry_days".to_string(), Vec::new(), 10.0),
            ("vigil_check_up".to_string(), Vec::new(), 1.0),
        ];
        let all = with_rule_names(rows, 1_000_000);
        let value = |name: &str| all.iter().find(|r| r.0 == name).map(|r| r.2);
        assert_eq!(value("vigil_icmp_loss_percent"), Some(25.0));
        assert_eq!(value("vigil_icmp_rtt_ms"), Some(12.0));
        assert_eq!(
            value("probe_ssl_earliest_cert_expiry"),
            Some(1000.0 + 864_000.0)
        );
        assert_eq!(all.len(), 7, "the originals stay");
    }
}

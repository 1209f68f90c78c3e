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

pub mod alerts;
pub mod definitions;
pub mod guard;
pub mod scrape;
pub mod snmp;
pub mod spec;
pub mod status;
pub mod traps;

use crate::inventory::{interval_of, timeout_of, DEFAULT_INTERVAL, DEFAULT_TIMEOUT};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
            changed: Notify::new(),
            statuses: status::Statuses::default(),
            policies,
        });
        let handler = noc.clone();
        let handle = tokio::spawn(async move {
            while let Some((id, result)) = incoming.recv().await {
                handler.handle(id, result).await;
            }
        });
        let syncer = noc.clone();
        let sync = tokio::spawn(async move {
            loop {
                if let Err(e) = syncer.sync().await {
                    tracing::error!(error = %e, "reading the NOC inventory failed");
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
                        .map(|(tenant, engine)| (*tenant, engine.tick(now)))
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
                    tokio::spawn(async move { noc.run_scrape(id, meta, timeout).await });
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
        // A check is in one map or the other, by its kind.
        if self.statuses.len() > checks.len() + scrapes.len() {
            let live = checks.keys().chain(scrapes.keys()).copied().collect();
            self.statuses.retain(&live);
        }
    }

    /// Brings the scheduler and the topologies in line with the inventory.
    async fn sync(&self) -> anyhow::Result<()> {
        let checks = self.inventory.list_checks(None).await?;
        let mut wanted: HashMap<u64, CheckMeta> = HashMap::new();
        let mut scrapes: HashMap<u64, CheckMeta> = HashMap::new();
        for check in checks.into_iter().filter(|c| c.record.enabled) {
            let meta = CheckMeta {
                tenant: check.tenant,
                asset: check.record.asset.clone(),
                kind: check.record.kind.clone(),
                spec: check.record.spec.clone(),
            };
            if check.record.kind == "prometheus" || check.record.kind == "snmp" {
                scrapes.insert(check.id as u64, meta);
            } else if spec::RUNNABLE.contains(&check.record.kind.as_str()) {
                wanted.insert(check.id as u64, meta);
            }
        }
        let mut tenants_of_scrapes: Vec<TenantId> = scrapes.values().map(|m| m.tenant).collect();
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

    /// Keeps the scrape jobs in line with the inventory; a job whose check
    /// did not change keeps its timing.
    fn set_scrapes(&self, wanted: HashMap<u64, CheckMeta>) {
        let mut jobs = self.scrapes.lock().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|id, job| wanted.get(id) == Some(&job.meta));
        for (id, meta) in wanted {
            if jobs.contains_key(&id) {
                continue;
            }
            // Checked when the check was stored.
            let settings = meta.spec.as_object().cloned().unwrap_or_default();
            let interval = interval_of(&settings).unwrap_or(DEFAULT_INTERVAL);
            let timeout = timeout_of(&settings, interval)
                .unwrap_or(DEFAULT_TIMEOUT)
                .min(interval);
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
            while job.next <= now {
                job.next += job.interval;
            }
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
        let still_wanted = match self
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
        };
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

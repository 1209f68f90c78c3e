//! Live detection: every event passes the rules before it is stored, and
//! what fires becomes an alert.
//!
//! - [`load`]: rule files into compiled rules.
//! - [`rulebook`]: one generation of compiled rules (shared, per tenant,
//!   switched off), swapped whole on change.
//! - [`correlate`]: correlation engines per tenant, kept across restarts.
//! - [`novelty`]: the login-from-a-new-source detection.
//! - [`entities`]: what an alert is about.
//! - [`window`]: a rule's own alert window (`vigil: alert_window:`).
//!
//! Rules come from the config's folders (re-read when a file changes),
//! Vigil's own rules (embedded), and the API (per tenant, in the detection
//! store). A change compiles its own scope only (the shared rules, or one
//! tenant's uploads) on a blocking thread and swaps a new book in; events
//! in flight finish on the book they started with. Uploads are bounded by
//! [`Limits`] and compiled on a few compile workers.

pub mod correlate;
pub mod entities;
pub mod load;
pub mod metrics;
pub mod novelty;
pub mod rulebook;
pub mod window;

use crate::config::DetectionConfig;
use anyhow::Context;
use correlate::Correlations;
use load::Loaded;
use metrics::DetectionMetrics;
use rulebook::{correlation_key, RuleBook, Scope};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use vigil_core::{Event, TenantId, Timestamp};
use vigil_sigma::correlation::{BaseHit, CorrelationHit};
use vigil_sigma::limits::{LimitError, Limits};
use vigil_sigma::logsource::EventSource;
use vigil_sigma::value::CompileContext;
use vigil_store::state::{DetectionStore, LoginSeen, NewAlert, Severity, StoredRule, Team};

/// Vigil's own rules, written for what an MSP needs and Sigma's set does
/// not cover well (see `rules/` beside this crate).
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "vigil:ssh_brute_force.yml",
        include_str!("../../rules/ssh_brute_force.yml"),
    ),
    (
        "vigil:new_local_admin.yml",
        include_str!("../../rules/new_local_admin.yml"),
    ),
    (
        "vigil:firewall_deny_storm.yml",
        include_str!("../../rules/firewall_deny_storm.yml"),
    ),
];

/// What detection made of a batch of one tenant's events; settled (logins
/// judged, alerts recorded) once the events are stored.
#[derive(Default)]
pub struct Verdicts {
    pub alerts: Vec<NewAlert>,
    /// Successful logins, with the id of their event.
    pub logins: Vec<(LoginSeen, String, vigil_store::state::Entities)>,
}

pub struct Detection {
    book: RwLock<Arc<RuleBook>>,
    /// True once the first load of every scope is done; events wait for it.
    ready: tokio::sync::watch::Sender<bool>,
    correlations: Mutex<Correlations>,
    config: DetectionConfig,
    placeholders: Option<HashMap<String, Vec<String>>>,
    limits: Limits,
    data: PathBuf,
    store: Arc<dyn DetectionStore>,
    min_severity: Severity,
    metrics: DetectionMetrics,
    /// The rule folders' files and modification times at the last load.
    folders_seen: Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
    /// One shared rebuild at a time.
    rebuilding_shared: tokio::sync::Mutex<()>,
    /// One change at a time per tenant (upload, removal, rebuild), so a
    /// tenant's uploads take one compile worker at a time.
    tenant_locks: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
    /// The blocking threads tenants' parse and compile may take at once.
    compile_workers: Arc<tokio::sync::Semaphore>,
    /// One alert writer at a time: SQLite has one writer anyway, and
    /// queueing here never runs into its busy timeout.
    recording: tokio::sync::Mutex<()>,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over a bound of [`Limits`] before parsing: size or depth.
    #[error("{0}")]
    Limit(LimitError),
    /// The tenant has too many uploaded rules.
    #[error("the tenant would have {count} uploaded rules, more than the limit of {limit}")]
    TenantFull { count: usize, limit: usize },
    /// A rule cannot run (a limit met while parsing included).
    #[error("the rule cannot run: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Detection {
    /// Detection with no rules yet: [`Detection::load`] compiles them
    /// (in the background at start, so that HTTP answers at once). A rule
    /// folder that cannot be read is an error now; a rule in it that does
    /// not compile is logged and left out later.
    pub fn new(
        config: &DetectionConfig,
        data: &Path,
        store: Arc<dyn DetectionStore>,
        metrics: DetectionMetrics,
    ) -> anyhow::Result<Arc<Detection>> {
        let placeholders = load::placeholders(config.placeholders.as_deref())?;
        load::rule_files(&config.rule_paths)?;
        Ok(Arc::new(Detection {
            book: RwLock::new(Arc::new(RuleBook::empty())),
            ready: tokio::sync::watch::channel(false).0,
            correlations: Mutex::new(Correlations::load(data)),
            config: config.clone(),
            placeholders,
            limits: config.upload_limits(),
            data: data.to_path_buf(),
            store,
            min_severity: Severity::from_sigma_level(Some(&config.min_level)),
            metrics,
            folders_seen: Mutex::new(Vec::new()),
            rebuilding_shared: tokio::sync::Mutex::new(()),
            tenant_locks: Mutex::new(HashMap::new()),
            compile_workers: Arc::new(tokio::sync::Semaphore::new(config.compile_workers.max(1))),
            recording: tokio::sync::Mutex::new(()),
        }))
    }

    /// [`Detection::new`], then [`Detection::load`]: every rule loaded.
    pub async fn open(
        config: &DetectionConfig,
        data: &Path,
        store: Arc<dyn DetectionStore>,
        metrics: DetectionMetrics,
    ) -> anyhow::Result<Arc<Detection>> {
        let detection = Detection::new(config, data, store, metrics)?;
        detection.load().await?;
        Ok(detection)
    }

    /// Compiles every scope (shared, then each tenant's uploads) and the
    /// switches, then marks detection ready. Marked ready even when a
    /// scope fails (logged): events must not wait forever, and the
    /// previous rules of that scope (none) stay in use until a change.
    pub async fn load(self: &Arc<Self>) -> anyhow::Result<()> {
        let result = self.load_all().await;
        self.ready.send_replace(true);
        result
    }

    async fn load_all(self: &Arc<Self>) -> anyhow::Result<()> {
        self.refresh_switches().await?;
        self.rebuild_shared().await?;
        let mut tenants: Vec<TenantId> = self
            .store
            .all_rules()
            .await?
            .into_iter()
            .map(|r| r.tenant)
            .collect();
        tenants.sort();
        tenants.dedup();
        for tenant in tenants {
            self.rebuild_tenant(tenant).await?;
        }
        Ok(())
    }

    /// Whether the rules are loaded (`/healthz`).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the rules are loaded: events that arrive while they
    /// load wait here rather than being stored unmatched.
    pub async fn wait_ready(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|r| *r).await;
    }

    /// The rules in use now.
    pub fn book(&self) -> Arc<RuleBook> {
        self.book
            .read()
            .map(|b| b.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Swaps in a book changed by `change` (applied to the book in use
    /// now, under the lock, so concurrent changes of other scopes are
    /// kept).
    fn swap(&self, change: impl FnOnce(&mut RuleBook)) -> u64 {
        let mut slot = self.book.write().unwrap_or_else(|p| p.into_inner());
        let mut book = RuleBook::clone(&slot);
        change(&mut book);
        book.generation += 1;
        let generation = book.generation;
        *slot = Arc::new(book);
        generation
    }

    /// Recompiles the shared scope (rule folders and Vigil's own rules)
    /// and swaps it in; the tenants' scopes are not touched.
    pub async fn rebuild_shared(self: &Arc<Self>) -> anyhow::Result<()> {
        let _one = self.rebuilding_shared.lock().await;
        let this = self.clone();
        let scope = tokio::task::spawn_blocking(move || this.compile_shared())
            .await
            .context("rule compilation stopped")??;
        self.metrics.compiled(&metrics::SHARED, scope.set.len());
        let (rules, correlations, errors) = (
            scope.set.len(),
            scope.correlations.len(),
            scope.errors.len(),
        );
        for error in scope.errors.iter().take(20) {
            tracing::warn!(%error, "rule left out");
        }
        let generation = self.swap(|book| book.shared = Arc::new(scope));
        tracing::info!(
            rules,
            correlations,
            errors,
            generation,
            "shared detection rules loaded"
        );
        Ok(())
    }

    fn compile_shared(&self) -> anyhow::Result<Scope> {
        let ctx = CompileContext {
            placeholders: self.placeholders.as_ref(),
            limits: None,
        };
        let files = load::rule_files(&self.config.rule_paths)?;
        *self.folders_seen.lock().unwrap_or_else(|p| p.into_inner()) = stat(&files);
        let mut shared = load::load(&files, &ctx, load::all_cores())?;
        if self.config.builtin_rules {
            for (origin, text) in BUILTIN_RULES {
                shared.add_text(text, origin, &ctx);
            }
        }
        Ok(Scope::new(shared))
    }

    fn tenant_lock(&self, tenant: TenantId) -> Arc<tokio::sync::Mutex<()>> {
        self.tenant_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant)
            .or_default()
            .clone()
    }

    /// Recompiles `tenant`'s uploads and swaps them in; no other scope is
    /// compiled.
    pub async fn rebuild_tenant(self: &Arc<Self>, tenant: TenantId) -> anyhow::Result<()> {
        let lock = self.tenant_lock(tenant);
        let _one = lock.lock().await;
        self.rebuild_tenant_locked(tenant).await
    }

    async fn rebuild_tenant_locked(self: &Arc<Self>, tenant: TenantId) -> anyhow::Result<()> {
        let uploads: Vec<StoredRule> = self
            .store
            .all_rules()
            .await?
            .into_iter()
            .filter(|r| r.tenant == tenant)
            .collect();
        let this = self.clone();
        let scope = self
            .on_compile_worker(move || this.compile_tenant(&uploads))
            .await?;
        self.metrics.compiled(&metrics::TENANT, scope.set.len());
        for error in scope.errors.iter().take(5) {
            tracing::warn!(%tenant, %error, "uploaded rule left out");
        }
        self.swap(|book| {
            if scope.is_empty() && scope.errors.is_empty() {
                book.tenants.remove(&tenant);
            } else {
                book.tenants.insert(tenant, Arc::new(scope));
            }
        });
        Ok(())
    }

    /// Runs `work` on a blocking thread once a compile worker is free.
    async fn on_compile_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _worker = self
            .compile_workers
            .clone()
            .acquire_owned()
            .await
            .context("the compile workers are closed")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("rule compilation stopped")
    }

    fn upload_context(&self) -> CompileContext<'_> {
        CompileContext {
            placeholders: self.placeholders.as_ref(),
            limits: Some(&self.limits),
        }
    }

    fn compile_tenant(&self, uploads: &[StoredRule]) -> Scope {
        let ctx = self.upload_context();
        let mut loaded = Loaded::default();
        for rule in uploads {
            // Stored before the limits existed or under looser ones: a
            // rule over today's limits is left out and reported.
            loaded.add_text(&rule.yaml, &rulebook::upload_origin(&rule.rule_id), &ctx);
        }
        Scope::new(loaded)
    }

    /// Reads the switched-off rules again; compiles nothing.
    pub async fn refresh_switches(&self) -> anyhow::Result<()> {
        let disabled: HashSet<(TenantId, String)> =
            self.store.disabled_rules().await?.into_iter().collect();
        self.swap(|book| book.disabled = Arc::new(disabled));
        Ok(())
    }

    /// Whether a rule folder's files changed since the last load.
    pub fn folders_changed(&self) -> bool {
        let Ok(files) = load::rule_files(&self.config.rule_paths) else {
            return false;
        };
        let now = stat(&files);
        *self.folders_seen.lock().unwrap_or_else(|p| p.into_inner()) != now
    }

    /// The bounds of an upload.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks, stores and compiles an upload of `tenant`: the text must
    /// be within the limits and every document must compile. Returns the
    /// rules' `(key, title)`. Parse and compile run on a compile worker,
    /// one at a time per tenant.
    pub async fn upload(
        self: &Arc<Self>,
        tenant: TenantId,
        text: String,
    ) -> Result<Vec<(String, String)>, UploadError> {
        let refused = |e: UploadError| {
            self.metrics.uploads_refused.inc();
            e
        };
        self.limits
            .check_text(&text)
            .map_err(|e| refused(UploadError::Limit(e)))?;
        let lock = self.tenant_lock(tenant);
        let _one = lock.lock().await;
        let this = self.clone();
        let checked = {
            let text = text.clone();
            self.on_compile_worker(move || this.check_upload(&text))
                .await?
        };
        let rules = checked.map_err(|reasons| refused(UploadError::Invalid(reasons)))?;
        let (id, title) = rules[0].clone();
        let kept = self
            .book()
            .tenants
            .get(&tenant)
            .map_or(0, |scope| scope.len() - scope.len_of_upload(&id));
        let count = kept + rules.len();
        if count > self.config.tenant_max_rules {
            return Err(refused(UploadError::TenantFull {
                count,
                limit: self.config.tenant_max_rules,
            }));
        }
        self.store
            .put_rule(&StoredRule {
                tenant,
                rule_id: id,
                title,
                yaml: text,
                created_at: Timestamp::now(),
            })
            .await
            .map_err(anyhow::Error::from)?;
        self.rebuild_tenant_locked(tenant).await?;
        Ok(rules)
    }

    /// Checks uploaded rule text: within the limits, and every document
    /// compiles. Returns the rules' `(key, title)`, or every reason it
    /// cannot run. CPU only: call it on a blocking thread.
    pub fn check_upload(&self, text: &str) -> Result<Vec<(String, String)>, Vec<String>> {
        let mut loaded = Loaded::default();
        loaded.add_text(text, "upload", &self.upload_context());
        if !loaded.errors.is_empty() {
            return Err(loaded.errors.iter().map(|e| e.to_string()).collect());
        }
        let bad_windows: Vec<String> = loaded
            .compiled
            .iter()
            .filter_map(|r| {
                let e = window::of_rule(&r.rule.attributes).err()?;
                Some(format!("rule {:?}: {e}", r.rule.title))
            })
            .collect();
        if !bad_windows.is_empty() {
            return Err(bad_windows);
        }
        let mut rules: Vec<(String, String)> = loaded
            .compiled
            .iter()
            .map(|r| (rulebook::rule_key(&r.rule), r.rule.title.clone()))
            .collect();
        rules.extend(
            loaded
                .correlations
                .iter()
                .map(|c| (correlation_key(c), c.title.clone())),
        );
        if rules.is_empty() {
            return Err(vec!["the upload holds no rule".into()]);
        }
        Ok(rules)
    }

    /// Runs `tenant`'s rules over `events` (each with its log source).
    /// CPU only: call it on a blocking thread. Matching runs without locks;
    /// only feeding the correlation engine holds one, briefly.
    pub fn evaluate(&self, tenant: TenantId, events: &[(Event, EventSource)]) -> Verdicts {
        let book = self.book();
        let mut verdicts = Verdicts::default();
        let mut base_hits: Vec<(usize, BaseHit)> = Vec::new();
        for (index, (event, source)) in events.iter().enumerate() {
            for fired in book.matching(tenant, source, &event.doc) {
                let rule = &fired.rule.rule;
                if !fired.quiet {
                    self.push_alert(
                        &mut verdicts,
                        NewAlert {
                            tenant,
                            team: Team::Soc,
                            rule_id: fired.key.clone(),
                            rule_title: rule.title.clone(),
                            severity: Severity::from_sigma_level(rule.level.map(|l| l.as_str())),
                            tags: rule.tags.clone(),
                            entities: entities::of_event(&event.doc),
                            event_id: Some(event.id.to_string()),
                            evidence: Vec::new(),
                            // Checked on upload; a folder rule's bad value
                            // leaves the default.
                            window: window::of_rule(&rule.attributes).ok().flatten(),
                            description: rule.description.clone().unwrap_or_default(),
                            time: event.time,
                        },
                    );
                }
                if fired.referenced {
                    base_hits.push((
                        index,
                        BaseHit {
                            rule_name: rule.name.clone(),
                            rule_id: rule.id.clone(),
                            time: event.time.micros(),
                            event: event.doc.clone(),
                        },
                    ));
                }
            }
            if let Some((user, address)) = novelty::login_of(source, &event.doc) {
                verdicts.logins.push((
                    LoginSeen {
                        tenant,
                        user,
                        source: address,
                        time: event.time,
                    },
                    event.id.to_string(),
                    entities::of_event(&event.doc),
                ));
            }
        }
        if !base_hits.is_empty() {
            let mut correlations = self
                .correlations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (index, hit) in &base_hits {
                let evidence = &events[*index].0;
                let id = evidence.id.to_string();
                for found in correlations.observe(&book, tenant, hit, &id) {
                    let alert = correlation_alert(&book, tenant, &found, evidence);
                    self.push_alert(&mut verdicts, alert);
                }
            }
        }
        verdicts
    }

    fn push_alert(&self, verdicts: &mut Verdicts, alert: NewAlert) {
        if alert.severity >= self.min_severity {
            verdicts.alerts.push(alert);
        }
    }

    /// After the events are stored: judges the logins against the memory
    /// of sources and records every alert. Returns how many alerts opened.
    pub async fn settle(&self, mut verdicts: Verdicts) -> anyhow::Result<usize> {
        if verdicts.logins.is_empty() && verdicts.alerts.is_empty() {
            return Ok(0);
        }
        let _writer = self.recording.lock().await;
        if !verdicts.logins.is_empty() {
            let logins: Vec<LoginSeen> =
                verdicts.logins.iter().map(|(l, _, _)| l.clone()).collect();
            let seen = self.store.observe_logins(&logins).await?;
            let learning =
                (self.config.new_source_learning_hours as i64).saturating_mul(3_600_000_000);
            let book = self.book();
            for ((login, event_id, entities), novelty) in verdicts.logins.iter().zip(seen) {
                let known_long_enough = novelty.user_first_seen.is_some_and(|first| {
                    login.time.micros().saturating_sub(first.micros()) >= learning
                });
                if novelty.new_source
                    && known_long_enough
                    && book.is_enabled(login.tenant, novelty::RULE_ID)
                {
                    verdicts.alerts.push(NewAlert {
                        tenant: login.tenant,
                        team: Team::Soc,
                        rule_id: novelty::RULE_ID.into(),
                        rule_title: novelty::RULE_TITLE.into(),
                        severity: Severity::Medium,
                        tags: vec!["attack.initial-access".into(), "attack.t1078".into()],
                        entities: entities.clone(),
                        event_id: Some(event_id.clone()),
                        evidence: Vec::new(),
                        window: None,
                        description: format!(
                            "{} logged in from {}, a source not seen for this user before",
                            login.user, login.source
                        ),
                        time: login.time,
                    });
                }
            }
        }
        if verdicts.alerts.is_empty() {
            return Ok(0);
        }
        let recorded = self.store.record_alerts(&verdicts.alerts).await?;
        Ok(recorded.iter().filter(|(_, opened)| *opened).count())
    }

    /// Writes the correlation state to the data directory.
    pub fn save_state(&self) -> std::io::Result<()> {
        let snapshots = self
            .correlations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .snapshots();
        crate::state_file::write(&self.data.join(correlate::SNAPSHOT_FILE), snapshots)
    }

    pub fn config(&self) -> &DetectionConfig {
        &self.config
    }
}

/// An alert for a correlation that holds, with the event that completed it
/// and every event of its window (bounded) as evidence.
fn correlation_alert(
    book: &RuleBook,
    tenant: TenantId,
    hit: &CorrelationHit,
    evidence: &Event,
) -> NewAlert {
    let rule = book
        .correlations_of(tenant)
        .into_iter()
        .find(|c| c.id == hit.id && c.name == hit.name && c.title == hit.title);
    let group: Vec<String> = hit.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    NewAlert {
        tenant,
        team: Team::Soc,
        rule_id: hit.id.clone().unwrap_or_else(|| hit.title.clone()),
        rule_title: hit.title.clone(),
        severity: Severity::from_sigma_level(hit.level.map(|l| l.as_str())),
        tags: rule.map(|r| r.tags).unwrap_or_default(),
        entities: entities::of_correlation(&hit.group, &evidence.doc),
        event_id: Some(evidence.id.to_string()),
        evidence: hit.event_ids.clone(),
        window: None,
        description: format!(
            "{} = {} over {} matches from {} to {} ({})",
            hit.kind.as_str(),
            hit.value,
            hit.event_times.len(),
            Timestamp(hit.first_time).to_rfc3339(),
            Timestamp(hit.last_time).to_rfc3339(),
            group.join(", ")
        ),
        time: evidence.time,
    }
}

fn stat(files: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>)> {
    files
        .iter()
        .map(|f| {
            let modified = std::fs::metadata(f).and_then(|m| m.modified()).ok();
            (f.clone(), modified)
        })
        .collect()
}

//! Live detection: every event passes the rules before it is stored, and
//! what fires becomes an alert.
//!
//! - [`load`]: rule files into compiled rules.
//! - [`rulebook`]: one generation of compiled rules (shared, per tenant,
//!   switched off), swapped whole on change.
//! - [`correlate`]: correlation engines per tenant, kept across restarts.
//! - [`novelty`]: the login-from-a-new-source detection.
//! - [`entities`]: what an alert is about.
//!
//! Rules come from the config's folders (re-read when a file changes),
//! Vigil's own rules (embedded), and the API (per tenant, in the detection
//! store). Any change rebuilds the whole book on a blocking thread and
//! swaps it in; events in flight finish on the book they started with.

pub mod correlate;
pub mod entities;
pub mod load;
pub mod novelty;
pub mod rulebook;

use crate::config::DetectionConfig;
use anyhow::Context;
use correlate::Correlations;
use load::Loaded;
use rulebook::{correlation_key, RuleBook, Scope};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use vigil_core::{Event, TenantId, Timestamp};
use vigil_sigma::correlation::{BaseHit, CorrelationHit};
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
    correlations: Mutex<Correlations>,
    config: DetectionConfig,
    placeholders: Option<HashMap<String, Vec<String>>>,
    data: PathBuf,
    store: Arc<dyn DetectionStore>,
    min_severity: Severity,
    /// The rule folders' files and modification times at the last load.
    folders_seen: Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
    /// One rebuild at a time.
    rebuilding: tokio::sync::Mutex<()>,
    /// One alert writer at a time: SQLite has one writer anyway, and
    /// queueing here never runs into its busy timeout.
    recording: tokio::sync::Mutex<()>,
}

impl Detection {
    /// Loads every rule and the correlation state. A rule folder that
    /// cannot be read is an error; a rule in it that does not compile is
    /// logged and left out.
    pub async fn open(
        config: &DetectionConfig,
        data: &Path,
        store: Arc<dyn DetectionStore>,
    ) -> anyhow::Result<Arc<Detection>> {
        let placeholders = load::placeholders(config.placeholders.as_deref())?;
        let detection = Arc::new(Detection {
            book: RwLock::new(Arc::new(RuleBook::empty())),
            correlations: Mutex::new(Correlations::load(data)),
            config: config.clone(),
            placeholders,
            data: data.to_path_buf(),
            store,
            min_severity: Severity::from_sigma_level(Some(&config.min_level)),
            folders_seen: Mutex::new(Vec::new()),
            rebuilding: tokio::sync::Mutex::new(()),
            recording: tokio::sync::Mutex::new(()),
        });
        detection.rebuild().await?;
        Ok(detection)
    }

    /// The rules in use now.
    pub fn book(&self) -> Arc<RuleBook> {
        self.book
            .read()
            .map(|b| b.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Recompiles everything (folders, own rules, uploads, switches) and
    /// swaps the result in.
    pub async fn rebuild(self: &Arc<Self>) -> anyhow::Result<()> {
        let _one = self.rebuilding.lock().await;
        let uploaded = self.store.all_rules().await?;
        let disabled: HashSet<(TenantId, String)> =
            self.store.disabled_rules().await?.into_iter().collect();
        let this = self.clone();
        let generation = self.book().generation + 1;
        let book =
            tokio::task::spawn_blocking(move || this.compile(uploaded, disabled, generation))
                .await
                .context("rule compilation stopped")??;
        let errors =
            book.shared.errors.len() + book.tenants.values().map(|s| s.errors.len()).sum::<usize>();
        tracing::info!(
            rules = book.shared.set.len(),
            correlations = book.shared.correlations.len(),
            tenants_with_uploads = book.tenants.len(),
            errors,
            generation,
            "detection rules loaded"
        );
        for error in book.shared.errors.iter().take(20) {
            tracing::warn!(%error, "rule left out");
        }
        match self.book.write() {
            Ok(mut slot) => *slot = Arc::new(book),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(book),
        }
        Ok(())
    }

    fn compile_context(&self) -> CompileContext<'_> {
        CompileContext {
            placeholders: self.placeholders.as_ref(),
        }
    }

    fn compile(
        &self,
        uploaded: Vec<StoredRule>,
        disabled: HashSet<(TenantId, String)>,
        generation: u64,
    ) -> anyhow::Result<RuleBook> {
        let ctx = self.compile_context();
        let files = load::rule_files(&self.config.rule_paths)?;
        *self.folders_seen.lock().unwrap_or_else(|p| p.into_inner()) = stat(&files);
        let mut shared = load::load(&files, &ctx, load::all_cores())?;
        if self.config.builtin_rules {
            for (origin, text) in BUILTIN_RULES {
                shared.add_text(text, origin, &ctx);
            }
        }
        let mut per_tenant: HashMap<TenantId, Loaded> = HashMap::new();
        for rule in uploaded {
            let origin = format!("uploaded:{}", rule.rule_id);
            per_tenant
                .entry(rule.tenant)
                .or_default()
                .add_text(&rule.yaml, &origin, &ctx);
        }
        Ok(RuleBook {
            shared: Scope::new(shared),
            tenants: per_tenant
                .into_iter()
                .map(|(t, loaded)| (t, Scope::new(loaded)))
                .collect(),
            disabled,
            generation,
        })
    }

    /// Whether a rule folder's files changed since the last load.
    pub fn folders_changed(&self) -> bool {
        let Ok(files) = load::rule_files(&self.config.rule_paths) else {
            return false;
        };
        let now = stat(&files);
        *self.folders_seen.lock().unwrap_or_else(|p| p.into_inner()) != now
    }

    /// Checks uploaded rule text: every document must compile. Returns the
    /// rules' `(key, title)`, or every reason it cannot run.
    pub fn check_upload(&self, text: &str) -> Result<Vec<(String, String)>, Vec<String>> {
        let mut loaded = Loaded::default();
        loaded.add_text(text, "upload", &self.compile_context());
        if !loaded.errors.is_empty() {
            return Err(loaded.errors.iter().map(|e| e.to_string()).collect());
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
                for found in correlations.observe(&book, tenant, hit) {
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
/// as evidence.
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

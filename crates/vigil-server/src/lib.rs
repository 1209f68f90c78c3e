//! Vigil's server: configuration, the HTTP API with its auth and tenancy,
//! and the ingest pipeline onto the stores.
//!
//! [`run`] is `vigil serve`: it opens the stores in the data directory,
//! creates the MSP administrator on first start, and serves until told to
//! stop.

pub mod api;
pub mod auth;
pub mod config;
pub mod config_check;
pub mod detection;
pub mod error;
pub mod file_modes;
pub mod http_server;
pub mod inputs;
pub mod inventory;
pub mod login_guard;
pub mod metrics;
pub mod noc;
pub mod pipeline;
pub mod state_file;

use anyhow::Context;
use config::Config;
use detection::Detection;
use metrics::Metrics;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vigil_core::Timestamp;
use vigil_store::events::{EmbeddedEventStore, EmbeddedOptions, EventStore};
use vigil_store::state::{
    AuditStore, DetectionStore, InventoryStore, NewToken, Role, SqliteState, StateStore,
};
use vigil_store::wal::WalOptions;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub state: Arc<dyn StateStore>,
    /// Alerts, uploaded rules, detection memory (the same database).
    pub detections: Arc<dyn DetectionStore>,
    /// The NOC inventory: assets and checks (the same database).
    pub inventory: Arc<dyn InventoryStore>,
    /// The audit log of changes (the same database).
    pub audit: Arc<dyn AuditStore>,
    pub events: Arc<dyn EventStore>,
    pub pipeline: Arc<pipeline::Pipeline>,
    /// NOC metrics: check results, SNMP, scrapes.
    pub metric_store: Arc<vigil_metrics::MetricStore>,
    pub noc: Arc<noc::Noc>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// `(write-ahead log, indexer)` queue depths, read at scrape time.
    pub queue_depths: Arc<dyn Fn() -> (usize, usize) + Send + Sync>,
    /// Failed logins per user name and per address.
    pub login_guard: Arc<login_guard::LoginGuard>,
    /// Ingest requests in progress, capped in all and per tenant.
    pub ingest_slots: Arc<api::IngestSlots>,
}

/// The file holding the bootstrap administrator token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The file holding the bootstrap administrator's first password.
pub const ADMIN_PASSWORD_FILE: &str = "admin.password";

/// The bootstrap administrator's name.
pub const ADMIN_USER: &str = "admin";

/// Runs the server until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data = config.server.data_dir.clone();
    // The files `vigil config check` reads, all of them, before anything
    // starts: every problem named at once.
    let problems = config.file_problems();
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "the config names files that cannot be used:\n{}",
            lines.join("\n")
        );
    }
    for name in &config.ignored_env {
        tracing::warn!(variable = %name, "this VIGIL_ variable names no config key; ignored");
    }
    // Before the first file is made: everything in the data directory is
    // the owner's alone (0700 directories, 0600 files), whatever the umask.
    file_modes::restrict_umask();
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    vigil_store::state::configure_hashing(
        config.auth.hash_concurrency,
        Duration::from_millis(config.auth.hash_wait_ms),
    );
    match file_modes::restrict_tree(&data) {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(entries = n, data = %data.display(), "the data directory was readable by others: made it private (0700 directories, 0600 files)")
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot make the data directory {} private", data.display())
            })
        }
    }
    let sealer = vigil_store::secrets::Sealer::open_or_create(&data)
        .context("cannot read or create the key of the secrets at rest")?;
    let sqlite = Arc::new(
        SqliteState::open(&data.join("state.db"))
            .await
            .with_context(|| format!("cannot open the state database in {}", data.display()))?
            .with_sealer(sealer),
    );
    match sqlite.seal_stored_secrets().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            checks = n,
            "secrets stored in plaintext before are sealed now"
        ),
        Err(e) => tracing::error!(error = %e, "cannot seal the secrets stored before"),
    }
    let state: Arc<dyn StateStore> = sqlite.clone();
    let detections: Arc<dyn DetectionStore> = sqlite.clone();
    let audit: Arc<dyn AuditStore> = sqlite.clone();
    let inventory: Arc<dyn InventoryStore> = sqlite;
    bootstrap_admin(state.as_ref(), &data).await?;
    ensure_config_tenants(state.as_ref(), &config).await?;
    inventory::ensure_config_inventory(state.as_ref(), inventory.as_ref(), &config)
        .await
        .context("cannot create the assets and checks of the config")?;
    let metrics = Metrics::new();
    let events = open_events(&config, &data, metrics.clone()).await?;
    // The rules compile in the background (see `load_detection` below):
    // HTTP answers at once, `/healthz` says "loading" meanwhile, and
    // events wait for the rules.
    let detection = Detection::new(
        &config.detection,
        &data,
        detections.clone(),
        metrics.detection.clone(),
    )
    .context("cannot load the detection rules")?;
    let router = pipeline::tenants::TenantRouter::new(&config, state.clone());
    let backlog = events.clone();
    let pipeline = Arc::new(
        pipeline::Pipeline::new(events.clone(), detection.clone(), router, metrics.clone())
            .with_index_backlog(move || backlog.queue_depths().1),
    );
    let metric_store = open_metric_store(&data).await?;
    let policies = noc::guard::Policies::from_config(&config, state.as_ref())
        .await
        .context("cannot read the check policy")?;
    let (noc, noc_tasks) = noc::Noc::start(
        &data,
        metric_store.clone(),
        detections.clone(),
        inventory.clone(),
        config.noc.clone(),
        policies,
    );
    let app_noc = noc.clone();
    let depths = events.clone();
    let app = AppState {
        state: state.clone(),
        detections,
        inventory,
        audit,
        events: events.clone(),
        pipeline: pipeline.clone(),
        metric_store: metric_store.clone(),
        noc: noc.clone(),
        config: Arc::new(config.clone()),
        metrics: metrics.clone(),
        queue_depths: Arc::new(move || depths.queue_depths()),
        login_guard: Arc::new(login_guard::LoginGuard::new(
            login_guard::Policy::from_config(&config.auth),
        )),
        ingest_slots: api::IngestSlots::new(
            config.ingest.max_concurrent_requests,
            config.ingest.max_concurrent_per_tenant,
        ),
    };
    let (stop, stopping) = tokio::sync::watch::channel(false);
    // The rules load first: the journal's replay below waits for them.
    let upkeep = tokio::spawn(load_detection(detection.clone()));
    let (queue, queued) = tokio::sync::mpsc::channel(config.inputs.queue_batches);
    let listener_keys: Vec<String> = config
        .inputs
        .syslog
        .iter()
        .map(|l| l.journal_key())
        .collect();
    let journal = open_input_journal(&data, queue.clone(), listener_keys).await?;
    let checkpointer = journal.checkpointer.clone();
    let progress = pipeline::progress::Progress::new(move |seq| checkpointer.mark(seq));
    let syslog = tokio::spawn(pipeline::run_syslog(
        pipeline.clone(),
        queued,
        config.inputs.pipeline_workers,
        Some(progress),
    ));
    // What was journalled but not stored before the last stop, before
    // anything new (the pipeline counts records done in journal order).
    for delivery in journal.replay {
        if queue.send(delivery).await.is_err() {
            anyhow::bail!("the syslog pipeline stopped during the journal replay");
        }
    }
    inputs::start_syslog_inputs(
        &config.inputs.syslog,
        queue,
        Some(journal.journal),
        metrics,
        stopping.clone(),
    )
    .await?;
    let trap_tasks = noc::traps::start(&config.inputs.snmp_traps, state.clone(), pipeline.clone())
        .await
        .context("cannot start the snmp trap inputs")?;
    let retention = tokio::spawn(retention_loop(app.clone()));
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    // Checks may not reach the API (its port may have been 0 until now).
    app_noc.own_listeners().add([addr]);
    tracing::info!(%addr, data = %data.display(), "vigil is listening");
    let mut http_stopping = stopping.clone();
    let serve_options = http_server::ServeOptions::from_config(&config.server)
        .context("cannot set up the API listener")?;
    let served = http_server::serve(listener, api::router(app), serve_options, async move {
        let _ = http_stopping.wait_for(|stop| *stop).await;
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    served.await.context("the HTTP server failed")?;
    retention.abort();
    upkeep.abort();
    for task in noc_tasks.into_iter().chain(trap_tasks) {
        task.abort();
    }
    if let Err(e) = app_noc.save_state() {
        tracing::error!(error = %e, "cannot save the NOC engines' state");
    }
    let flushing = metric_store.clone();
    match tokio::task::spawn_blocking(move || flushing.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot flush the metric store"),
        Err(e) => tracing::error!(error = %e, "flushing the metric store stopped"),
    }
    tracing::info!("stopping: draining the syslog queue");
    let _ = syslog.await;
    if let Err(e) = detection.save_state() {
        tracing::error!(error = %e, "cannot save the correlation state");
    }
    tracing::info!("stopping: indexing what is left");
    // The last handle of the event store goes on a blocking thread: its
    // drop waits for the log writer and the indexer to finish.
    tokio::task::spawn_blocking(move || drop(events)).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The syslog input journal (`DATA/inputs/journal`), feeding `queue`.
async fn open_input_journal(
    data: &Path,
    queue: tokio::sync::mpsc::Sender<inputs::Delivery>,
    listener_keys: Vec<String>,
) -> anyhow::Result<inputs::journal::OpenedJournal> {
    let dir = data.join("inputs").join("journal");
    let shown = dir.clone();
    tokio::task::spawn_blocking(move || inputs::Journal::open(&dir, queue, &listener_keys))
        .await?
        .with_context(|| {
            format!(
                "cannot open the syslog input journal in {}",
                shown.display()
            )
        })
}

async fn open_metric_store(data: &Path) -> anyhow::Result<Arc<vigil_metrics::MetricStore>> {
    let dir = data.join("metrics");
    let store = tokio::task::spawn_blocking(move || {
        vigil_metrics::MetricStore::open(&dir, vigil_metrics::StoreOptions::default())
    })
    .await?
    .with_context(|| format!("cannot open the metric store in {}", data.display()))?;
    Ok(Arc::new(store))
}

async fn open_events(
    config: &Config,
    data: &Path,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Arc<EmbeddedEventStore>> {
    let storage = &config.storage;
    let wal_metrics = metrics.clone();
    let options = EmbeddedOptions {
        commit_interval: Duration::from_millis(storage.commit_interval_ms),
        writer_threads: storage.index_threads,
        writer_memory_bytes: storage.index_memory_mb << 20,
        max_open_writers: storage.max_open_writers,
        wal: WalOptions {
            segment_bytes: storage.wal_segment_mb << 20,
            ..WalOptions::default()
        },
        on_wal_commit: Some(Box::new(move |records, _bytes, took| {
            wal_metrics.wal_commit_seconds.observe(took.as_secs_f64());
            wal_metrics.wal_commit_records.observe(records as f64);
        })),
        on_index_commit: Some(Box::new(move |docs, took| {
            metrics.index_commit_seconds.observe(took.as_secs_f64());
            metrics.indexed_events.inc_by(docs as u64);
        })),
        ..EmbeddedOptions::default()
    };
    let dir = data.to_path_buf();
    let store = tokio::task::spawn_blocking(move || EmbeddedEventStore::open(&dir, options))
        .await?
        .with_context(|| format!("cannot open the event store in {}", data.display()))?;
    Ok(Arc::new(store))
}

/// On first start, creates the MSP administrator and writes a token for it
/// to `DATA/admin.token` and its password to `DATA/admin.password`, both
/// readable by the owner only (`vigil admin set-password admin` sets
/// another).
async fn bootstrap_admin(state: &dyn StateStore, data: &Path) -> anyhow::Result<()> {
    if state.count_users().await? > 0 {
        return Ok(());
    }
    let password = generate_password();
    let admin = state
        .create_user(ADMIN_USER, &password, Role::MspAdmin, &[])
        .await?;
    let password_path = data.join(ADMIN_PASSWORD_FILE);
    write_private(&password_path, &format!("{password}\n"))?;
    tracing::warn!(
        path = %password_path.display(),
        user = ADMIN_USER,
        "first start: the MSP administrator's password is in this file (mode 0600). Log in, change it (POST /api/v1/me/password or vigil admin set-password), then delete the file"
    );
    let (_, token) = state
        .create_token(NewToken {
            role: Role::MspAdmin,
            tenant: None,
            user_id: Some(admin.id),
            label: Some("bootstrap".into()),
            expires_at: None,
        })
        .await?;
    let path = data.join(ADMIN_TOKEN_FILE);
    write_private(&path, &format!("{token}\n"))?;
    tracing::warn!(
        path = %path.display(),
        "first start: created the MSP administrator; its token is in this file (mode 0600). Keep it safe, then delete the file"
    );
    Ok(())
}

/// A strong random password: 128 bits as 32 hex digits, easy to paste.
pub fn generate_password() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Sets the password of user `name` in the state database of `data`, and
/// ends their login sessions (`vigil admin set-password`; works while the
/// server runs, SQLite takes turns).
pub async fn set_password(data: &Path, name: &str, password: &str) -> anyhow::Result<String> {
    let path = data.join("state.db");
    if !path.exists() {
        anyhow::bail!(
            "no state database at {}: start vigil serve with this data directory first",
            path.display()
        );
    }
    let state = SqliteState::open(&path)
        .await
        .with_context(|| format!("cannot open the state database in {}", data.display()))?;
    let user = state
        .user_by_name(name)
        .await?
        .with_context(|| format!("no user is named {name:?}"))?;
    let result = state.set_password(user.id, password, None).await;
    // The CLI's changes go to the audit log like the API's: who ran it is
    // the host's business, what was done is Vigil's. Never the password.
    let mut entry =
        vigil_store::state::NewAuditEntry::cli(format!("admin set-password {}", user.name), None);
    entry.detail = Some(match &result {
        Ok(()) => serde_json::json!({"outcome": "password set; the user's sessions ended"}),
        Err(e) => serde_json::json!({"outcome": "refused", "reason": e.to_string()}),
    });
    let audited = vigil_store::state::AuditStore::append(&state, entry).await;
    state.close().await;
    result?;
    audited.context("the password is set, but the audit log could not record it")?;
    Ok(user.name)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

async fn ensure_config_tenants(state: &dyn StateStore, config: &Config) -> anyhow::Result<()> {
    for tenant in &config.tenants {
        let days = tenant
            .retention_days
            .unwrap_or(config.retention.default_days);
        match state.tenant_by_name(tenant.name.as_str()).await? {
            Some(existing)
                if existing.retention_days != days && tenant.retention_days.is_some() =>
            {
                state.set_retention(existing.id, days).await?;
            }
            Some(_) => {}
            None => {
                state.create_tenant(&tenant.name, days).await?;
                tracing::info!(tenant = %tenant.name, "tenant from the config created");
            }
        }
    }
    Ok(())
}

/// Drops each tenant's partitions older than its retention, and deletes
/// expired tokens, at start and then every `retention.interval_secs`.
async fn retention_loop(app: AppState) {
    let every = Duration::from_secs(app.config.retention.interval_secs.max(1));
    loop {
        match app.state.purge_expired_tokens(Timestamp::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tokens = n, "expired tokens deleted"),
            Err(e) => tracing::error!(error = %e, "deleting expired tokens failed"),
        }
        let quarantine = app
            .events
            .apply_retention(
                pipeline::tenants::QUARANTINE,
                app.config.retention.default_days,
                Timestamp::now(),
            )
            .await;
        if let Err(e) = quarantine {
            tracing::error!(error = %e, "retention of the quarantine failed");
        }
        match app.state.list_tenants().await {
            Ok(tenants) => {
                for tenant in tenants {
                    let dropped = app
                        .events
                        .apply_retention(tenant.id, tenant.retention_days, Timestamp::now())
                        .await;
                    match dropped {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(tenant = %tenant.name, partitions = n, "retention dropped old days")
                        }
                        Err(e) => {
                            tracing::error!(tenant = %tenant.name, error = %e, "retention failed")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "retention cannot list tenants"),
        }
        app.metrics.retention_rounds.inc();
        tokio::time::sleep(every).await;
    }
}

/// Loads the detection rules, then keeps them (see [`detection_upkeep`]).
async fn load_detection(detection: Arc<Detection>) {
    let started = std::time::Instant::now();
    match detection.load().await {
        Ok(()) => tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "detection rules ready"
        ),
        Err(e) => {
            tracing::error!(error = %e, "loading the detection rules failed; detection runs with what loaded")
        }
    }
    detection_upkeep(detection).await
}

/// Re-reads the rule folders when a file in them changed, and writes the
/// correlation state now and then, until aborted.
async fn detection_upkeep(detection: Arc<Detection>) {
    let config = detection.config().clone();
    let reload = Duration::from_secs(config.reload_interval_secs);
    let save = Duration::from_secs(config.state_interval_secs.max(1));
    let tick = if reload.is_zero() {
        save
    } else {
        reload.min(save)
    };
    let mut last_save = std::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if !reload.is_zero() {
            let watched = detection.clone();
            let changed = tokio::task::spawn_blocking(move || watched.folders_changed())
                .await
                .unwrap_or(false);
            if changed {
                tracing::info!("a rule file changed: reloading the rules");
                if let Err(e) = detection.rebuild_shared().await {
                    tracing::error!(error = %e, "reloading the rules failed; the previous rules stay in use");
                }
            }
        }
        if last_save.elapsed() >= save {
            last_save = std::time::Instant::now();
            let saver = detection.clone();
            match tokio::task::spawn_blocking(move || saver.save_state()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot save the correlation state"),
                Err(e) => tracing::error!(error = %e, "saving the correlation state stopped"),
            }
        }
    }
}

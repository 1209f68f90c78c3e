//! Vigil's embedded time-series store for NOC metrics.
//!
//! No setup: one directory. Prometheus names and labels; Gorilla-style
//! compression; raw samples for days, 5-minute aggregates for months;
//! retention per tenant. A map of the crate:
//!
//! ```text
//! MetricStore::series_id(tenant, key) ──► tenants/<id>/series.log   (series ids, append-only)
//! MetricStore::append(tenant, samples)
//!    ├─► head: one open chunk per series (chunk::ChunkEncoder, XOR)  memory
//!    └─► tenants/<id>/wal-<gen>.log: the accepted samples, raw       page cache, fdatasync ≤ sync_interval
//! flush (compact() when due, or flush())
//!    ├─► tenants/<id>/raw/<2h window>_<gen>.blk  chunks re-encoded at their smallest
//!    └─► new wal-<gen+1>.log, old one deleted
//! compact(now) / apply_retention(tenant, now)
//!    ├─► raw days older than raw_days ─► tenants/<id>/5m/<day>_<gen>.blk (min,max,sum,count,last)
//!    └─► 5m days older than downsampled_days deleted
//! query(tenant, "sum by (mode) (rate(name{l=~"x.*"}[5m]))", from, to, step)
//!    └─► head chunks + raw blocks + 5m blocks of the matching series ─► eval
//! ```
//!
//! **On disk** (`DIR` is the store's directory):
//!
//! ```text
//! DIR/tenants/<tenant id>/
//!   series.log                framed records (len | crc32 | payload): series id u32 LE | key
//!   retention.json            the tenant's own retention, when set
//!   wal-<gen>.log             the samples appended since the last flush (see `log`)
//!   raw/<window>_<gen>.blk    2-hour windows of raw chunks, one file per flush and window
//!   5m/<day>_<gen>.blk        5-minute aggregates of one day (gen: the highest raw gen it covers)
//! ```
//!
//! Windows and days are the first millisecond they cover. Block files are
//! described in [`block`], chunks in [`chunk`]. What a file costs: on
//! node_exporter-like data (bench/metrics) about 1.35 bytes a sample,
//! index and series log included; the timestamps of a scrape are stored
//! once for all its series, counters and decimals are stored as integer
//! deltas, constants take a bit.
//!
//! Modules: [`series`] (names, labels, validation), [`selector`] (the query
//! expression), [`chunk`] (compression), `log` (framed append-only files),
//! [`block`] (block files), `tenant` (one tenant's head, files, flush and
//! retention), [`eval`] (steps and rates).
//!
//! **Durability.** An append is written to the tenant's sample log before it
//! returns (a `write`, so it survives the process crashing) and the log is
//! `fdatasync`ed at least every `sync_interval` (1 s) by the appends
//! themselves, and by [`MetricStore::sync`]. A machine crash or power loss
//! loses at most the last `sync_interval` of samples; that is the trade for
//! metrics (a lost second of a 15 s scrape is invisible, an fsync per scrape
//! round is not). Call [`MetricStore::sync`] for a stronger promise. Block
//! files are written to a temporary name, synced and renamed; the log of a
//! generation is deleted only once its blocks are durable, and a flush cut
//! short is redone from the log at open.
//!
//! **Out-of-order samples.** A sample not after the newest one of its series
//! is refused and counted ([`AppendReport`], [`Stats`]): Prometheus does the
//! same by default, and it keeps each chunk a single increasing run that the
//! delta-of-delta encoding needs. Scrapes are in order; a late backfill is
//! the case this gives up.
//!
//! **Tenancy.** Every call takes a [`TenantId`]; each tenant has its own
//! directory, series numbering, log, head and files. A [`SeriesId`] carries
//! its tenant and is refused for another one.

//! **Left out, for now.** Merging the several raw files of one window (a
//! flush cuts the open chunks; with a 2-hour flush cadence a window is in
//! one or two files); forgetting series that have no data left (the series
//! log only grows); out-of-order ingestion; Prometheus' extrapolation in
//! `rate`; `rate` over the 5-minute history sees only each bucket's last
//! value, so a counter reset inside a bucket is missed; more PromQL than
//! selectors, `rate` and `sum|avg|min|max|count [by]`.

pub mod block;
pub mod chunk;
pub mod error;
pub mod eval;
mod log;
pub mod selector;
pub mod series;
mod tenant;

pub use error::{MetricsError, Result};
pub use selector::{parse_duration, parse_expr, parse_selector, AggOp, Expr, ParseError, Selector};
pub use series::{SeriesError, SeriesKey};
pub use tenant::AppendReport;

use crate::error::io_err;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tenant::Tenant;
use vigil_core::TenantId;

pub const DAY_MS: i64 = 86_400_000;
/// Bucket of the downsampled history.
pub const DOWNSAMPLE_MS: i64 = 300_000;

/// How long a tenant's data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// Raw samples are kept at least this many days (a day is downsampled
    /// once its end is this old).
    pub raw_days: u32,
    /// 5-minute aggregates are kept this many days (counted from now, like
    /// `raw_days`; not less than it).
    pub downsampled_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw_days: 7,
            downsampled_days: 400,
        }
    }
}

impl Retention {
    pub fn validate(&self) -> Result<()> {
        if self.raw_days > self.downsampled_days {
            return Err(MetricsError::Retention(format!(
                "raw_days ({}) is over downsampled_days ({})",
                self.raw_days, self.downsampled_days
            )));
        }
        if self.downsampled_days > 100 * 365 {
            return Err(MetricsError::Retention(
                "downsampled_days is over 100 years".into(),
            ));
        }
        Ok(())
    }
}

/// Bounds on one query.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub max_series: usize,
    /// Points returned, all series together.
    pub max_points: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_series: 10_000,
            max_points: 5_000_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Time window of a chunk and of a raw block file.
    pub block_ms: i64,
    /// The sample log is synced at least this often by appends.
    pub sync_interval: Duration,
    /// A tenant's head is flushed by [`MetricStore::compact`] once its oldest
    /// unflushed append is this old...
    pub flush_interval: Duration,
    /// ...or, by appends, once its sample log is this big.
    pub max_log_bytes: u64,
    /// Retention of tenants that have none of their own.
    pub retention: Retention,
    pub limits: QueryLimits,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_ms: 2 * 3_600_000,
            sync_interval: Duration::from_secs(1),
            flush_interval: Duration::from_secs(2 * 3600),
            max_log_bytes: 512 << 20,
            retention: Retention::default(),
            limits: QueryLimits::default(),
        }
    }
}

/// A series of one tenant, as [`MetricStore::series_id`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesId {
    tenant: TenantId,
    index: u32,
}

impl SeriesId {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
}

/// One sample: a series, a time in ms since the epoch, a value.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub series: SeriesId,
    pub t: i64,
    pub v: f64,
}

/// A query result: one series and its points, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub key: SeriesKey,
    pub points: Vec<(i64, f64)>,
}

/// Counters since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    /// Log samples of series missing from the series log at replay.
    pub replay_skipped: u64,
}

/// Bytes on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub blocks: u64,
    pub series_index: u64,
    /// Raw-sample logs (deleted at each flush).
    pub log: u64,
}

/// What one [`MetricStore::compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub flushed_tenants: usize,
    pub files_removed: usize,
    pub files_downsampled: usize,
}

struct TenantHandle {
    state: Mutex<Tenant>,
    /// Queries read files under `read`; retention deletes them under
    /// `write`, so a query never loses a file it is reading.
    files: RwLock<()>,
}

/// The store: see the crate documentation.
pub struct MetricStore {
    dir: PathBuf,
    options: StoreOptions,
    tenants: RwLock<HashMap<TenantId, Arc<TenantHandle>>>,
    accepted: AtomicU64,
    out_of_order: AtomicU64,
    duplicates: AtomicU64,
    replay_skipped: AtomicU64,
}

impl MetricStore {
    /// Opens (or creates) the store in `dir`, replaying every tenant's
    /// sample log.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<MetricStore> {
        options.retention.validate()?;
        if options.block_ms <= 0 || DAY_MS % options.block_ms != 0 {
            return Err(MetricsError::Retention("block_ms must divide a day".into()));
        }
        let tenants_dir = dir.join("tenants");
        fs::create_dir_all(&tenants_dir).map_err(io_err(&tenants_dir))?;
        let store = MetricStore {
            dir: dir.to_path_buf(),
            options,
            tenants: RwLock::new(HashMap::new()),
            accepted: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            replay_skipped: AtomicU64::new(0),
        };
        for entry in fs::read_dir(&tenants_dir).map_err(io_err(&tenants_dir))? {
            let entry = entry.map_err(io_err(&tenants_dir))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i64>().ok())
            {
                store.tenant(TenantId(id), true)?;
            }
        }
        Ok(store)
    }

    fn tenant_dir(&self, tenant: TenantId) -> PathBuf {
        self.dir.join("tenants").join(tenant.0.to_string())
    }

    /// The tenant's handle; opened or created when `create`.
    fn tenant(&self, tenant: TenantId, create: bool) -> Result<Option<Arc<TenantHandle>>> {
        if let Some(h) = self.tenants.read().get(&tenant) {
            return Ok(Some(h.clone()));
        }
        if !create {
            return Ok(None);
        }
        let mut tenants = self.tenants.write();
        if let Some(h) = tenants.get(&tenant) {
            return Ok(Some(h.clone()));
        }
        let state = Tenant::open(&self.tenant_dir(tenant), &self.options)?;
        self.replay_skipped
            .fetch_add(state.replay_skipped, Ordering::Relaxed);
        let handle = Arc::new(TenantHandle {
            state: Mutex::new(state),
            files: RwLock::new(()),
        });
        tenants.insert(tenant, handle.clone());
        Ok(Some(handle))
    }

    fn tenant_ids(&self) -> Vec<TenantId> {
        let mut ids: Vec<TenantId> = self.tenants.read().keys().copied().collect();
        ids.sort();
        ids
    }

    /// The stable id of a series of `tenant`, registering it when new.
    /// Callers keep ids (as Prometheus keeps series refs) so that appends
    /// never hash label sets.
    pub fn series_id(&self, tenant: TenantId, key: &SeriesKey) -> Result<SeriesId> {
        let handle = self.tenant(tenant, true)?.expect("created");
        let index = handle.state.lock().series_id(key)?;
        Ok(SeriesId { tenant, index })
    }

    /// Appends a batch (a scrape round). Every sample must be a series of
    /// `tenant`, or nothing is appended. Samples not after the newest of
    /// their series are refused and counted in the report.
    pub fn append(&self, tenant: TenantId, samples: &[Sample]) -> Result<AppendReport> {
        let Some(handle) = self.tenant(tenant, !samples.is_empty())? else {
            return Ok(AppendReport::default());
        };
        let mut state = handle.state.lock();
        let known = state.keys.len();
        if let Some(s) = samples
            .iter()
            .find(|s| s.series.tenant != tenant || s.series.index as usize >= known)
        {
            return Err(MetricsError::ForeignSeries(s.series.index, tenant.0));
        }
        let report = state.append(samples.iter().map(|s| (s.series.index, s.t, s.v)))?;
        if state.sync_due(&self.options) {
            state.sync()?;
        }
        if state.log_bytes >= self.options.max_log_bytes {
            state.flush()?;
        }
        drop(state);
        self.accepted
            .fetch_add(report.accepted as u64, Ordering::Relaxed);
        self.out_of_order
            .fetch_add(report.out_of_order as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        Ok(report)
    }

    /// Syncs every tenant's logs: everything appended before is durable.
    pub fn sync(&self) -> Result<()> {
        for id in self.tenant_ids() {
            if let Some(h) = self.tenant(id, false)? {
                h.state.lock().sync()?;
            }
        }
        Ok(())
    }

    /// Writes every head to block files now (e.g. at shutdown).
    pub fn flush(&self) -> Result<()> {
        for id in self.tenant_ids() {
            if let Some(h) = self.tenant(id, false)? {
                h.state.lock().flush()?;
            }
        }
        Ok(())
    }

    /// The periodic chore (call it every minute or so): syncs, flushes the
    /// heads that are due, then applies every tenant's retention at `now`
    /// (ms since the epoch).
    pub fn compact(&self, now: i64) -> Result<CompactReport> {
        let mut report = CompactReport::default();
        for id in self.tenant_ids() {
            let Some(h) = self.tenant(id, false)? else {
                continue;
            };
            {
                let mut state = h.state.lock();
                state.sync()?;
                if state.flush_due(&self.options) {
                    state.flush()?;
                    report.flushed_tenants += 1;
                }
            }
            let (removed, written) = self.retention_of(&h, now)?;
            report.files_removed += removed;
            report.files_downsampled += written;
        }
        Ok(report)
    }

    /// Applies one tenant's retention at `now`: downsamples and deletes.
    /// Returns the files removed.
    pub fn apply_retention(&self, tenant: TenantId, now: i64) -> Result<usize> {
        match self.tenant(tenant, false)? {
            Some(h) => Ok(self.retention_of(&h, now)?.0),
            None => Ok(0),
        }
    }

    fn retention_of(&self, h: &TenantHandle, now: i64) -> Result<(usize, usize)> {
        let mut state = h.state.lock();
        let _files = h.files.write();
        let (removed, written) = state.apply_retention(now)?;
        Ok((removed.len(), written))
    }

    /// Sets (and persists) a tenant's retention.
    pub fn set_retention(&self, tenant: TenantId, retention: Retention) -> Result<()> {
        retention.validate()?;
        let h = self.tenant(tenant, true)?.expect("created");
        let mut state = h.state.lock();
        state.set_retention(retention)
    }

    pub fn retention(&self, tenant: TenantId) -> Result<Retention> {
        Ok(match self.tenant(tenant, false)? {
            Some(h) => h.state.lock().retention,
            None => self.options.retention,
        })
    }

    pub fn stats(&self) -> Stats {
        Stats {
            accepted: self.accepted.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            replay_skipped: self.replay_skipped.load(Ordering::Relaxed),
        }
    }

    /// Bytes on disk, all tenants or one.
    pub fn disk_usage(&self, tenant: Option<TenantId>) -> Result<DiskUsage> {
        let mut usage = DiskUsage::default();
        for id in self.tenant_ids() {
            if tenant.is_some_and(|t| t != id) {
                continue;
            }
            if let Some(h) = self.tenant(id, false)? {
                let (blocks, series, log) = h.state.lock().disk_bytes();
                usage.blocks += blocks;
                usage.series_index += series;
                usage.log += log;
            }
        }
        Ok(usage)
    }

    /// Evaluates `expr` (a selector, `rate(selector[range])`, or
    /// `sum|avg|min|max|count [by (labels)] (either)`) over
    /// `[from, to]` (ms). `step` 0 returns the stored points; a positive
    /// step one point per step. Raw data where it is kept, the 5-minute
    /// history's last values beyond.
    pub fn query(
        &self,
        tenant: TenantId,
        expr: &str,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<Series>> {
        let expr = parse_expr(expr)?;
        self.query_expr(tenant, &expr, from, to, step)
    }

    pub fn query_expr(
        &self,
        tenant: TenantId,
        expr: &Expr,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<Vec<Series>> {
        let limits = self.options.limits;
        check_range(expr, from, to, step, limits)?;
        let Some(h) = self.tenant(tenant, false)? else {
            return Ok(Vec::new());
        };
        let (inner, aggregation) = match expr {
            Expr::Aggregate { op, by, inner } => (&**inner, Some((*op, by.as_slice()))),
            e => (e, None),
        };
        let lookback = match inner {
            Expr::Rate { range_ms, .. } => *range_ms,
            _ => step,
        };
        let fetch_from = from.saturating_sub(lookback);
        let (wanted, blocks) = self.select(&h, expr.selector(), fetch_from, to)?;
        let _files = h.files.read();
        let files = blocks
            .iter()
            .map(|b| b.open_file())
            .collect::<Result<Vec<_>>>()?;
        let mut columns = vec![HashMap::new(); blocks.len()];
        let mut out = Vec::new();
        let mut total = 0usize;
        for (id, key, head_chunks) in wanted {
            let points = gather(
                id,
                &head_chunks,
                &blocks,
                &files,
                &mut columns,
                fetch_from,
                to,
            )?;
            let points = match (inner, step) {
                (Expr::Rate { range_ms, .. }, _) => eval::rate(&points, from, to, step, *range_ms),
                (_, 0) => eval::raw(&points, from, to),
                (_, _) => eval::last_per_step(&points, from, to, step),
            };
            total += points.len();
            if total > limits.max_points {
                return Err(MetricsError::TooManyPoints {
                    limit: limits.max_points,
                });
            }
            if !points.is_empty() {
                out.push(Series { key, points });
            }
        }
        if let Some((op, by)) = aggregation {
            out = eval::aggregate(op, by, out);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The matching series (id, key, head chunks) and the block files that
    /// overlap the range, taken under the tenant lock.
    #[allow(clippy::type_complexity)]
    fn select(
        &self,
        h: &TenantHandle,
        selector: &Selector,
        from: i64,
        to: i64,
    ) -> Result<(Vec<(u32, SeriesKey, Vec<Vec<u8>>)>, Vec<Arc<block::Block>>)> {
        let state = h.state.lock();
        let candidates: Box<dyn Iterator<Item = u32>> = match selector.metric_name() {
            Some(name) => Box::new(state.by_name.get(name).into_iter().flatten().copied()),
            None => Box::new(0..state.keys.len() as u32),
        };
        let ids: Vec<u32> = candidates
            .filter(|&id| selector.matches(&state.keys[id as usize]))
            .collect();
        let limit = self.options.limits.max_series;
        if ids.len() > limit {
            return Err(MetricsError::TooManySeries {
                found: ids.len(),
                limit,
            });
        }
        let wanted = ids
            .into_iter()
            .map(|id| {
                let mut chunks = Vec::new();
                state.heads[id as usize].chunks(from, to, &mut chunks);
                (id, state.keys[id as usize].clone(), chunks)
            })
            .collect();
        let blocks = state
            .blocks
            .iter()
            // A downsampled bucket's point is at its end, after its time.
            .filter(|b| b.max_t.saturating_add(DOWNSAMPLE_MS) >= from && b.min_t <= to)
            .cloned()
            .collect();
        Ok((wanted, blocks))
    }
}

fn check_range(expr: &Expr, from: i64, to: i64, step: i64, limits: QueryLimits) -> Result<()> {
    if from > to {
        return Err(MetricsError::Range(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    if step < 0 {
        return Err(MetricsError::Range("step must not be negative".into()));
    }
    if step == 0 && matches!(expr, Expr::Rate { .. }) {
        return Err(MetricsError::Range("rate(..) needs a step".into()));
    }
    if step == 0 && matches!(expr, Expr::Aggregate { .. }) {
        return Err(MetricsError::Range("an aggregation needs a step".into()));
    }
    if step > 0 {
        let steps = (to as i128 - from as i128) / step as i128 + 1;
        if steps > limits.max_points as i128 {
            return Err(MetricsError::TooManyPoints {
                limit: limits.max_points,
            });
        }
    }
    Ok(())
}

/// All points of one series in `[from, to]` from the head and the files,
/// sorted, one per time. A downsampled bucket gives its last value at the
/// bucket's last millisecond.
fn gather(
    id: u32,
    head_chunks: &[Vec<u8>],
    blocks: &[Arc<block::Block>],
    files: &[fs::File],
    columns: &mut [HashMap<u32, Vec<i64>>],
    from: i64,
    to: i64,
) -> Result<Vec<(i64, f64)>> {
    let mut points = Vec::new();
    for bytes in head_chunks {
        chunk::decode_into(bytes, &mut points).map_err(|e| MetricsError::Corrupt {
            path: PathBuf::from("<head>"),
            reason: e.to_string(),
        })?;
    }
    for ((b, file), columns) in blocks.iter().zip(files).zip(columns.iter_mut()) {
        for e in b.series_entries(id) {
            if e.max_t < from.saturating_sub(DOWNSAMPLE_MS) || e.min_t > to {
                continue;
            }
            b.read_points(file, e, columns, &mut points)?;
        }
    }
    points.retain(|p| p.0 >= from && p.0 <= to);
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    Ok(points)
}

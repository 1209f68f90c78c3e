//! One tenant's data: its series, its head (open chunks + the raw-sample
//! log) and its block files, all under `tenants/<id>/`.
//!
//! Nothing here is shared between tenants: each has its own directory,
//! series numbering, log and files, so a query of tenant A never opens a
//! file of tenant B.

use crate::block::{self, Block, BlockWriter, Kind};
use crate::chunk::{self, ChunkEncoder};
use crate::error::{corrupt, io_err, MetricsError, Result};
use crate::log;
use crate::series::SeriesKey;
use crate::{Retention, StoreOptions, DAY_MS, DOWNSAMPLE_MS};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const SERIES_LOG: &str = "series.log";
const RETENTION_FILE: &str = "retention.json";
/// Samples of one log record at most (about 20 MB).
const RECORD_SAMPLES: usize = 1 << 20;

/// A series and its samples in one time window.
type SeriesSamples = (u32, Vec<(i64, f64)>);

/// A chunk the head has closed (window change or full), not yet flushed.
pub(crate) struct Sealed {
    pub window: i64,
    pub min_t: i64,
    pub max_t: i64,
    pub bytes: Vec<u8>,
}

/// The in-memory part of one series.
pub(crate) struct Head {
    pub open: ChunkEncoder,
    pub window: i64,
    pub sealed: Vec<Sealed>,
    /// Time of the newest sample ever accepted (i64::MIN: none).
    pub last_t: i64,
}

impl Head {
    fn new() -> Self {
        Head {
            open: ChunkEncoder::new(),
            window: 0,
            sealed: Vec::new(),
            last_t: i64::MIN,
        }
    }

    fn seal(&mut self) {
        let open = std::mem::replace(&mut self.open, ChunkEncoder::new());
        self.sealed.push(Sealed {
            window: self.window,
            min_t: open.first_time(),
            max_t: open.last_time(),
            bytes: open.bytes(),
        });
    }

    /// Chunks overlapping `[from, to]`, as bytes.
    pub fn chunks(&self, from: i64, to: i64, out: &mut Vec<Vec<u8>>) {
        for s in &self.sealed {
            if s.max_t >= from && s.min_t <= to {
                out.push(s.bytes.clone());
            }
        }
        if self.open.count() > 0 && self.open.last_time() >= from && self.open.first_time() <= to {
            out.push(self.open.bytes());
        }
    }

    fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.count() == 0
    }
}

/// What happened to the samples of one append.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendReport {
    pub accepted: usize,
    /// Older than the newest sample of their series: refused.
    pub out_of_order: usize,
    /// Same time as the newest sample of their series: refused.
    pub duplicates: usize,
}

pub(crate) struct Tenant {
    dir: PathBuf,
    pub keys: Vec<SeriesKey>,
    by_key: HashMap<SeriesKey, u32>,
    pub by_name: HashMap<String, Vec<u32>>,
    pub heads: Vec<Head>,
    series_log: File,
    series_log_bytes: u64,
    log: File,
    log_gen: u64,
    pub log_bytes: u64,
    head_since: Option<Instant>,
    last_sync: Instant,
    dirty: bool,
    pub blocks: Vec<Arc<Block>>,
    pub retention: Retention,
    block_ms: i64,
    scratch: Vec<u8>,
    accepted: Vec<(u32, i64, f64)>,
    pub replay_skipped: u64,
}

fn window_of(t: i64, size: i64) -> i64 {
    let w = (t as i128).div_euclid(size as i128) * size as i128;
    w.max(i64::MIN as i128) as i64
}

fn log_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("wal-{gen}.log"))
}

fn block_path(dir: &Path, kind: Kind, window: i64, gen: u64) -> PathBuf {
    let sub = match kind {
        Kind::Raw => "raw",
        Kind::Downsampled => "5m",
    };
    dir.join(sub).join(format!("{window}_{gen}.blk"))
}

/// Parses `<window>_<gen>.blk`.
fn parse_block_name(name: &str) -> Option<(i64, u64)> {
    let stem = name.strip_suffix(".blk")?;
    let (w, g) = stem.split_once('_')?;
    Some((w.parse().ok()?, g.parse().ok()?))
}

fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    Ok(out)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

impl Tenant {
    /// Opens (or creates) a tenant directory: series, retention, block
    /// files, then replays the raw-sample log into the head.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Tenant> {
        for sub in ["raw", "5m"] {
            fs::create_dir_all(dir.join(sub)).map_err(io_err(dir))?;
        }
        let (keys, series_log_bytes) = read_series(&dir.join(SERIES_LOG))?;
        let series_log = log::open_append(&dir.join(SERIES_LOG), series_log_bytes)?;
        let retention = read_retention(dir)?.unwrap_or(options.retention);
        let (blocks, log_gen) = open_blocks(dir)?;
        let log_path = log_path(dir, log_gen);
        let (records, good) = if log_path.exists() {
            log::read_records(&log_path)?
        } else {
            (Vec::new(), 0)
        };
        let mut tenant = Tenant {
            dir: dir.to_path_buf(),
            by_key: HashMap::new(),
            by_name: HashMap::new(),
            heads: Vec::new(),
            keys: Vec::new(),
            series_log,
            series_log_bytes,
            log: log::open_append(&log_path, good)?,
            log_gen,
            log_bytes: good,
            head_since: None,
            last_sync: Instant::now(),
            dirty: false,
            blocks,
            retention,
            block_ms: options.block_ms,
            scratch: Vec::new(),
            accepted: Vec::new(),
            replay_skipped: 0,
        };
        for key in keys {
            tenant.index_key(key);
        }
        for block in &tenant.blocks {
            for e in &block.entries {
                if let Some(head) = tenant.heads.get_mut(e.series as usize) {
                    head.last_t = head.last_t.max(e.max_t);
                }
            }
        }
        tenant.replay(&log_path, records)?;
        sync_dir(dir)?;
        Ok(tenant)
    }

    fn replay(&mut self, path: &Path, records: Vec<Vec<u8>>) -> Result<()> {
        let mut samples = 0usize;
        for record in records {
            let Some(batch) = log::decode_samples(&record) else {
                return Err(corrupt(path, "a record is not a sample batch"));
            };
            for (series, t, v) in batch {
                if (series as usize) < self.heads.len() {
                    self.push(series, t, v);
                    samples += 1;
                } else {
                    self.replay_skipped += 1;
                }
            }
        }
        if samples > 0 {
            self.head_since = Some(Instant::now());
        }
        Ok(())
    }

    fn index_key(&mut self, key: SeriesKey) -> u32 {
        let id = self.keys.len() as u32;
        self.by_name
            .entry(key.name().to_string())
            .or_default()
            .push(id);
        self.by_key.insert(key.clone(), id);
        self.keys.push(key);
        self.heads.push(Head::new());
        id
    }

    /// The id of `key`, registering it (one series-log record) when new.
    pub fn series_id(&mut self, key: &SeriesKey) -> Result<u32> {
        if let Some(&id) = self.by_key.get(key) {
            return Ok(id);
        }
        let id = u32::try_from(self.keys.len())
            .ok()
            .filter(|&id| id < block::COLUMN_BASE)
            .ok_or(MetricsError::SeriesExhausted)?;
        let mut payload = id.to_le_bytes().to_vec();
        key.encode(&mut payload);
        let mut framed = Vec::new();
        log::frame(&payload, &mut framed);
        let path = self.dir.join(SERIES_LOG);
        log::write_all(&mut self.series_log, &path, &framed)?;
        self.series_log_bytes += framed.len() as u64;
        self.dirty = true;
        Ok(self.index_key(key.clone()))
    }

    /// Adds one sample to the head; false when refused (not after the
    /// newest sample of its series).
    fn push(&mut self, series: u32, t: i64, v: f64) -> bool {
        let block_ms = self.block_ms;
        let head = &mut self.heads[series as usize];
        if t <= head.last_t {
            return false;
        }
        let window = window_of(t, block_ms);
        if head.open.count() > 0 && (window != head.window || head.open.is_full()) {
            head.seal();
        }
        head.window = window;
        head.open.append(t, v);
        head.last_t = t;
        true
    }

    /// Appends a batch of `(series, t, v)` whose series ids are known to be
    /// this tenant's; logs the accepted samples.
    pub fn append(
        &mut self,
        samples: impl Iterator<Item = (u32, i64, f64)>,
    ) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        let mut accepted = std::mem::take(&mut self.accepted);
        accepted.clear();
        for (series, t, v) in samples {
            if self.push(series, t, v) {
                accepted.push((series, t, v));
            } else if t == self.heads[series as usize].last_t {
                report.duplicates += 1;
            } else {
                report.out_of_order += 1;
            }
        }
        report.accepted = accepted.len();
        if !accepted.is_empty() {
            let mut payload = std::mem::take(&mut self.scratch);
            let mut framed = Vec::new();
            // Records stay far below the log's record limit.
            for part in accepted.chunks(RECORD_SAMPLES) {
                payload.clear();
                log::encode_samples(part, &mut payload);
                log::frame(&payload, &mut framed);
            }
            self.scratch = payload;
            let path = log_path(&self.dir, self.log_gen);
            log::write_all(&mut self.log, &path, &framed)?;
            self.log_bytes += framed.len() as u64;
            self.dirty = true;
            self.head_since.get_or_insert_with(Instant::now);
        }
        self.accepted = accepted;
        Ok(report)
    }

    /// Syncs the series log, then the sample log, when anything was written
    /// since the last sync.
    pub fn sync(&mut self) -> Result<()> {
        if self.dirty {
            let path = self.dir.join(SERIES_LOG);
            self.series_log.sync_data().map_err(io_err(&path))?;
            let path = log_path(&self.dir, self.log_gen);
            self.log.sync_data().map_err(io_err(&path))?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    pub fn sync_due(&self, options: &StoreOptions) -> bool {
        self.dirty && self.last_sync.elapsed() >= options.sync_interval
    }

    pub fn flush_due(&self, options: &StoreOptions) -> bool {
        self.log_bytes >= options.max_log_bytes
            || self
                .head_since
                .is_some_and(|s| s.elapsed() >= options.flush_interval)
    }

    /// Writes every head chunk to raw block files (one per time window),
    /// then starts a new sample log and deletes the old one.
    pub fn flush(&mut self) -> Result<()> {
        if self.heads.iter().all(Head::is_empty) {
            return Ok(());
        }
        self.sync()?;
        let mut windows = BTreeSet::new();
        for head in &mut self.heads {
            if head.open.count() > 0 {
                head.seal();
            }
            windows.extend(head.sealed.iter().map(|s| s.window));
        }
        // One window at a time, so that only one window's samples are ever
        // decoded in memory. The head keeps its chunks until every file is
        // written: a failed flush is redone whole (same file names).
        for window in windows {
            let mut chunks: Vec<SeriesSamples> = Vec::new();
            for (id, head) in self.heads.iter().enumerate() {
                for sealed in head.sealed.iter().filter(|s| s.window == window) {
                    // The head wrote these bytes: they decode.
                    if let Ok(samples) = chunk::decode(&sealed.bytes) {
                        chunks.push((id as u32, samples));
                    }
                }
            }
            let mut writer = BlockWriter::new(Kind::Raw);
            writer.add_chunks(&chunks);
            drop(chunks);
            let path = block_path(&self.dir, Kind::Raw, window, self.log_gen);
            let block = Arc::new(writer.write(&path, window, self.log_gen)?);
            self.blocks.retain(|b| b.path != block.path);
            self.blocks.push(block);
        }
        for head in &mut self.heads {
            head.sealed.clear();
        }
        sync_dir(&self.dir.join("raw"))?;
        self.rotate_log()
    }

    fn rotate_log(&mut self) -> Result<()> {
        let old = log_path(&self.dir, self.log_gen);
        self.log_gen += 1;
        let new = log_path(&self.dir, self.log_gen);
        self.log = log::open_append(&new, 0)?;
        sync_dir(&self.dir)?;
        remove(&old)?;
        sync_dir(&self.dir)?;
        self.log_bytes = 0;
        self.head_since = None;
        Ok(())
    }

    pub fn set_retention(&mut self, retention: Retention) -> Result<()> {
        let path = self.dir.join(RETENTION_FILE);
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec(&retention).unwrap_or_default();
        fs::write(&tmp, text).map_err(io_err(&tmp))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        self.retention = retention;
        Ok(())
    }

    /// Downsamples raw days older than the raw retention and deletes what
    /// is older than the downsampled retention. Returns the files removed
    /// and written.
    pub fn apply_retention(&mut self, now: i64) -> Result<(Vec<Arc<Block>>, usize)> {
        let raw_cut = now.saturating_sub(self.retention.raw_days as i64 * DAY_MS);
        let keep_cut = now.saturating_sub(self.retention.downsampled_days as i64 * DAY_MS);
        let mut removed = Vec::new();
        let mut written = 0;
        let mut by_day: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
        for b in &self.blocks {
            let day = window_of(b.window, DAY_MS);
            let end = day.saturating_add(DAY_MS);
            match b.kind {
                Kind::Downsampled if end <= keep_cut => removed.push(b.clone()),
                Kind::Raw if end <= raw_cut => by_day.entry(day).or_default().push(b.clone()),
                _ => {}
            }
        }
        for (day, raws) in by_day {
            if day.saturating_add(DAY_MS) > keep_cut {
                let gen = raws.iter().map(|b| b.gen).max().unwrap_or(0);
                if let Some(block) = downsample(&self.dir, day, gen, &raws)? {
                    self.blocks.push(Arc::new(block));
                    written += 1;
                }
            }
            removed.extend(raws);
        }
        sync_dir(&self.dir.join("5m"))?;
        for b in &removed {
            remove(&b.path)?;
        }
        self.blocks
            .retain(|b| !removed.iter().any(|r| Arc::ptr_eq(r, b)));
        Ok((removed, written))
    }

    pub fn disk_bytes(&self) -> (u64, u64, u64) {
        let blocks = self.blocks.iter().map(|b| b.bytes).sum();
        (blocks, self.series_log_bytes, self.log_bytes)
    }
}

/// Aggregates the raw files of one day into a 5-minute file.
fn downsample(dir: &Path, day: i64, gen: u64, raws: &[Arc<Block>]) -> Result<Option<Block>> {
    let files = raws
        .iter()
        .map(|b| b.open_file())
        .collect::<Result<Vec<_>>>()?;
    let series: BTreeSet<u32> = raws
        .iter()
        .flat_map(|b| b.entries.iter().map(|e| e.series))
        .filter(|&s| s < block::COLUMN_BASE)
        .collect();
    let mut columns: Vec<HashMap<u32, Vec<i64>>> = vec![HashMap::new(); raws.len()];
    let mut writer = BlockWriter::new(Kind::Downsampled);
    let mut points = Vec::new();
    for id in series {
        points.clear();
        for ((b, file), columns) in raws.iter().zip(&files).zip(&mut columns) {
            for e in b.series_entries(id) {
                b.read_points(file, e, columns, &mut points)?;
            }
        }
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        let parts = aggregate(&points);
        if let (Some(first), Some(last)) = (parts.first(), parts.last()) {
            let (min_t, max_t) = (first.0, last.0);
            let encoded: [Vec<u8>; 5] = std::array::from_fn(|c| {
                if c == 0 {
                    let column: Vec<(i64, f64)> = parts.iter().map(|p| (p.0, p.1[0])).collect();
                    chunk::encode_best(&column)
                } else {
                    let column: Vec<f64> = parts.iter().map(|p| p.1[c]).collect();
                    chunk::encode_values_best(&column)
                }
            });
            writer.add(id, min_t, max_t, &block::join_parts(&encoded));
        }
    }
    if writer.is_empty() {
        return Ok(None);
    }
    let path = block_path(dir, Kind::Downsampled, day, gen);
    writer.write(&path, day, gen).map(Some)
}

/// 5-minute buckets of sorted points: `(bucket start, [min, max, sum,
/// count, last])`.
pub(crate) fn aggregate(points: &[(i64, f64)]) -> Vec<(i64, [f64; 5])> {
    let mut out: Vec<(i64, [f64; 5])> = Vec::new();
    for &(t, v) in points {
        let bucket = window_of(t, DOWNSAMPLE_MS);
        match out.last_mut() {
            Some((b, agg)) if *b == bucket => {
                agg[0] = agg[0].min(v);
                agg[1] = agg[1].max(v);
                agg[2] += v;
                agg[3] += 1.0;
                agg[4] = v;
            }
            _ => out.push((bucket, [v, v, v, 1.0, v])),
        }
    }
    out
}

fn read_series(path: &Path) -> Result<(Vec<SeriesKey>, u64)> {
    if !path.exists() {
        return Ok((Vec::new(), 0));
    }
    let (records, good) = log::read_records(path)?;
    let mut keys = Vec::with_capacity(records.len());
    for record in records {
        let id = record
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let key = SeriesKey::decode(record.get(4..).unwrap_or_default());
        match (id, key) {
            (Some(id), Some(key)) if id as usize == keys.len() => keys.push(key),
            _ => {
                return Err(corrupt(
                    path,
                    format!("series record {} is invalid", keys.len()),
                ))
            }
        }
    }
    Ok((keys, good))
}

fn read_retention(dir: &Path) -> Result<Option<Retention>> {
    let path = dir.join(RETENTION_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(&path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Opens the block files and settles what a crash left: the live log is
/// the newest `wal-<gen>.log` (older ones were flushed); raw files of the
/// live generation or later are a flush cut short (the log still holds
/// them) and raw files a downsampled file already covers are a
/// downsampling cut short: both are deleted.
fn open_blocks(dir: &Path) -> Result<(Vec<Arc<Block>>, u64)> {
    let mut logs: Vec<(u64, PathBuf)> = list_dir(dir)?
        .into_iter()
        .filter_map(|(name, path)| {
            let gen = name
                .strip_prefix("wal-")?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((gen, path))
        })
        .collect();
    logs.sort();
    let mut blocks = Vec::new();
    let mut cover: HashMap<i64, u64> = HashMap::new();
    let mut max_gen = 0;
    for (name, path) in list_dir(&dir.join("5m"))? {
        match parse_block_name(&name) {
            Some((window, gen)) => {
                let c = cover.entry(window).or_default();
                *c = (*c).max(gen);
                max_gen = max_gen.max(gen);
                blocks.push(Arc::new(block::open_block(&path, window, gen)?));
            }
            None => remove(&path)?,
        }
    }
    let mut raws = Vec::new();
    for (name, path) in list_dir(&dir.join("raw"))? {
        match parse_block_name(&name) {
            Some((window, gen)) => {
                max_gen = max_gen.max(gen);
                raws.push((window, gen, path));
            }
            None => remove(&path)?,
        }
    }
    let live = match logs.last() {
        Some(&(gen, _)) => gen,
        None => max_gen + 1,
    };
    for (gen, path) in &logs {
        if *gen < live {
            remove(path)?;
        }
    }
    for (window, gen, path) in raws {
        let covered = cover
            .get(&window_of(window, DAY_MS))
            .is_some_and(|&c| gen <= c);
        if gen >= live || covered {
            remove(&path)?;
        } else {
            blocks.push(Arc::new(block::open_block(&path, window, gen)?));
        }
    }
    Ok((blocks, live))
}

//! Daily partitions: one tantivy index per tenant and day of arrival.
//!
//! `ROOT/<tenant id>/<YYYY-MM-DD>/`. A tenant's events live in directories
//! of their own, so that no query of one tenant can reach another's
//! documents, and retention drops a whole day by deleting a directory.
//!
//! The day is the day the store *received* the events, not their own time:
//! a batch goes to one partition whatever times its events claim, so that
//! no request can create more than one partition, and retention counts from
//! arrival (old evidence imported today is kept for the retention period; a
//! far-future time cannot outlive it).
//!
//! Queries still prune by event time: each partition keeps the least and
//! greatest event time it holds in `bounds.json`, widened (to whole hours,
//! so that a live partition rewrites it once an hour) and synced before any
//! index commit that needs it, so the file never claims less than the
//! index holds. A partition without the file predates arrival partitions:
//! it was named by its events' day, which is then its bounds.

use super::schema::EventSchema;
use super::EventStoreError;
use chrono::{Days, NaiveDate};
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tantivy::{Index, IndexReader, ReloadPolicy};
use vigil_core::{TenantId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub tenant: TenantId,
    /// Days since the Unix epoch ([`Timestamp::day`]).
    pub day: i64,
}

impl PartitionKey {
    /// An index error of this partition; `doing` says what failed (`"search
    /// of "`, or empty for writing).
    pub fn error(self, doing: &str, e: tantivy::TantivyError) -> EventStoreError {
        EventStoreError::Index {
            context: format!(
                "{doing}partition {} of tenant {}",
                day_name(self.day),
                self.tenant
            ),
            message: e.to_string(),
        }
    }
}

const HOUR: i64 = 3_600_000_000;
const BOUNDS_FILE: &str = "bounds.json";

/// The least and greatest event time (microseconds) of a partition's
/// events; `None` for a partition that holds none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TimeBounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl TimeBounds {
    /// Bounds of a partition named by its events' day (the first format).
    pub fn of_day(day: i64) -> Self {
        let start = Timestamp::start_of_day(day).0;
        TimeBounds {
            min: Some(start),
            max: Some(
                Timestamp::start_of_day(day.saturating_add(1))
                    .0
                    .saturating_sub(1),
            ),
        }
    }

    /// These bounds widened to hold `time`, on whole hours.
    pub fn widened(self, time: i64) -> Self {
        let floor = time.div_euclid(HOUR).saturating_mul(HOUR);
        let ceil = floor.saturating_add(HOUR - 1);
        TimeBounds {
            min: Some(self.min.map_or(floor, |m| m.min(floor))),
            max: Some(self.max.map_or(ceil, |m| m.max(ceil))),
        }
    }

    /// Whether `time` is within the bounds.
    pub fn holds(self, time: i64) -> bool {
        matches!((self.min, self.max), (Some(min), Some(max)) if min <= time && time <= max)
    }

    /// Whether any event in the bounds can be in `[from, to)`.
    pub fn overlaps(self, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
        let (Some(min), Some(max)) = (self.min, self.max) else {
            return false;
        };
        from.is_none_or(|from| max >= from.0) && to.is_none_or(|to| min < to.0)
    }
}

/// An open partition: the index and a reader that the indexer reloads
/// after each commit.
pub struct Partition {
    pub index: Index,
    pub reader: IndexReader,
}

impl Partition {
    /// The last write-ahead log record that the partition's last commit
    /// holds (its commit payload); 0 when unknown.
    pub fn committed_seq(&self) -> u64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|meta| meta.payload)
            .and_then(|payload| payload.parse().ok())
            .unwrap_or(0)
    }
}

pub struct Partitions {
    root: PathBuf,
    schema: Arc<EventSchema>,
    open: RwLock<HashMap<PartitionKey, Arc<Partition>>>,
    /// Each tenant's partitions (by day) and their event-time bounds, read
    /// from disk on the tenant's first use, then kept up to date here.
    catalog: RwLock<HashMap<TenantId, BTreeMap<i64, TimeBounds>>>,
    /// Held shared while a partition is read from disk (opened, or its
    /// bounds read), exclusively while one is deleted: a search never opens
    /// a directory that retention is deleting (tantivy would fail on a file
    /// gone in between). An open partition needs no guard: its files stay
    /// readable through the handles it holds after they are unlinked.
    disk: RwLock<()>,
}

fn index_err(context: &Path) -> impl FnOnce(tantivy::TantivyError) -> EventStoreError + '_ {
    move |e| EventStoreError::Index {
        context: context.display().to_string(),
        message: e.to_string(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EventStoreError + '_ {
    move |source| EventStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

pub fn day_name(day: i64) -> String {
    let date = if day >= 0 {
        EPOCH.checked_add_days(Days::new(day as u64))
    } else {
        EPOCH.checked_sub_days(Days::new(day.unsigned_abs()))
    };
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day{day}"))
}

pub fn parse_day_name(name: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()?;
    Some((date - EPOCH).num_days())
}

impl Partitions {
    pub fn new(root: PathBuf, schema: Arc<EventSchema>) -> Self {
        Partitions {
            root,
            schema,
            open: RwLock::new(HashMap::new()),
            catalog: RwLock::new(HashMap::new()),
            disk: RwLock::new(()),
        }
    }

    pub fn schema(&self) -> &EventSchema {
        &self.schema
    }

    fn tenant_dir(&self, tenant: TenantId) -> PathBuf {
        self.root.join(tenant.0.to_string())
    }

    fn dir(&self, key: PartitionKey) -> PathBuf {
        self.tenant_dir(key.tenant).join(day_name(key.day))
    }

    /// The days for which `tenant` has a partition on disk, oldest first.
    pub fn days(&self, tenant: TenantId) -> Result<Vec<i64>, EventStoreError> {
        let dir = self.tenant_dir(tenant);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut days: Vec<i64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_day_name(e.file_name().to_str()?))
            .collect();
        days.sort_unstable();
        Ok(days)
    }

    /// The tenant's partitions whose events may be in `[from, to)`, with
    /// their bounds, latest events first.
    pub fn overlapping(
        &self,
        tenant: TenantId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<(i64, TimeBounds)>, EventStoreError> {
        self.load_catalog(tenant)?;
        let catalog = self.catalog.read();
        let mut out: Vec<(i64, TimeBounds)> = catalog
            .get(&tenant)
            .into_iter()
            .flatten()
            .filter(|(_, bounds)| bounds.overlaps(from, to))
            .map(|(&day, &bounds)| (day, bounds))
            .collect();
        // Newest arrival first among equal bounds (a stable sort).
        out.reverse();
        out.sort_by_key(|(_, bounds)| std::cmp::Reverse(bounds.max));
        Ok(out)
    }

    /// The partition's bounds as known (`None` if it is unknown).
    pub fn bounds(&self, key: PartitionKey) -> Result<Option<TimeBounds>, EventStoreError> {
        self.load_catalog(key.tenant)?;
        Ok(self
            .catalog
            .read()
            .get(&key.tenant)
            .and_then(|days| days.get(&key.day))
            .copied())
    }

    /// Records new bounds of a partition: on disk (synced) first, then in
    /// the catalog. Call before the index commit that needs them.
    pub fn set_bounds(&self, key: PartitionKey, bounds: TimeBounds) -> Result<(), EventStoreError> {
        write_bounds(&self.dir(key), bounds)?;
        self.load_catalog(key.tenant)?;
        self.catalog
            .write()
            .entry(key.tenant)
            .or_default()
            .insert(key.day, bounds);
        Ok(())
    }

    /// Reads the tenant's partitions and bounds from disk, once.
    fn load_catalog(&self, tenant: TenantId) -> Result<(), EventStoreError> {
        if self.catalog.read().contains_key(&tenant) {
            return Ok(());
        }
        let _disk = self.disk.read_recursive();
        let mut days = BTreeMap::new();
        for day in self.days(tenant)? {
            let dir = self.dir(PartitionKey { tenant, day });
            days.insert(day, read_bounds(&dir, day)?);
        }
        self.catalog.write().entry(tenant).or_insert(days);
        Ok(())
    }

    /// The partition, opened from disk (and cached) if it exists.
    pub fn get(&self, key: PartitionKey) -> Result<Option<Arc<Partition>>, EventStoreError> {
        if let Some(p) = self.open.read().get(&key) {
            return Ok(Some(p.clone()));
        }
        let _disk = self.disk.read_recursive();
        // Checked again under the guard: retention may have removed it.
        if let Some(p) = self.open.read().get(&key) {
            return Ok(Some(p.clone()));
        }
        let dir = self.dir(key);
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        self.open_dir(key, &dir, false).map(Some)
    }

    /// The partition, created if missing.
    pub fn get_or_create(&self, key: PartitionKey) -> Result<Arc<Partition>, EventStoreError> {
        if let Some(p) = self.get(key)? {
            return Ok(p);
        }
        let dir = self.dir(key);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        if !dir.join("meta.json").exists() {
            // Before the index: a partition with an index and no bounds
            // file is taken for one of the first format.
            self.set_bounds(key, TimeBounds::default())?;
        }
        self.open_dir(key, &dir, true)
    }

    fn open_dir(
        &self,
        key: PartitionKey,
        dir: &Path,
        create: bool,
    ) -> Result<Arc<Partition>, EventStoreError> {
        let mut open = self.open.write();
        if let Some(p) = open.get(&key) {
            return Ok(p.clone());
        }
        let index = if create && !dir.join("meta.json").exists() {
            Index::create_in_dir(dir, self.schema.schema.clone())
        } else {
            Index::open_in_dir(dir)
        }
        .map_err(index_err(dir))?;
        self.schema.register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_err(dir))?;
        let partition = Arc::new(Partition { index, reader });
        open.insert(key, partition.clone());
        Ok(partition)
    }

    /// Forgets the partition and deletes its directory. Searches that hold
    /// it open go on reading it; later ones no longer see it.
    pub fn remove(&self, key: PartitionKey) -> Result<(), EventStoreError> {
        let _disk = self.disk.write();
        self.open.write().remove(&key);
        if let Some(days) = self.catalog.write().get_mut(&key.tenant) {
            days.remove(&key.day);
        }
        let dir = self.dir(key);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }
}

/// The bounds a partition directory records; a partition of the first
/// format (an index, no bounds file) holds events of its day only.
fn read_bounds(dir: &Path, day: i64) -> Result<TimeBounds, EventStoreError> {
    let path = dir.join(BOUNDS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            // Unreadable: assume the widest bounds rather than hide events.
            tracing::warn!(path = %path.display(), error = %e, "unreadable partition bounds; the partition is searched for every time range");
            TimeBounds {
                min: Some(i64::MIN),
                max: Some(i64::MAX),
            }
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TimeBounds::of_day(day)),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Writes the bounds atomically and durably: a synced temporary file
/// renamed over the old one, then the directory synced.
fn write_bounds(dir: &Path, bounds: TimeBounds) -> Result<(), EventStoreError> {
    let tmp = dir.join("bounds.json.tmp");
    let text = serde_json::to_vec(&bounds).unwrap_or_default();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // Owner only, like everything in the data directory, whatever the umask.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(&text).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    let path = dir.join(BOUNDS_FILE);
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        for day in [-1000, -1, 0, 1, 19_844, 40_000] {
            assert_eq!(parse_day_name(&day_name(day)), Some(day), "{day}");
        }
        assert_eq!(day_name(19_844), "2024-05-01");
        assert_eq!(parse_day_name("not-a-day"), None);
    }

    #[test]
    fn bounds_widen_to_whole_hours_and_overlap_half_open_ranges() {
        let t = 1_714_564_800_000_000 + 90_000_000; // 2024-05-01T12:01:30Z
        let b = TimeBounds::default().widened(t);
        assert_eq!(b.min, Some(t - 90_000_000));
        assert_eq!(b.max, Some(t - 90_000_000 + HOUR - 1));
        assert!(b.holds(t));
        assert_eq!(b.widened(t + 1), b, "within the hour: nothing to rewrite");
        let at = |us| Some(Timestamp(us));
        assert!(b.overlaps(None, None));
        assert!(b.overlaps(at(t), at(t + 1)));
        assert!(!b.overlaps(b.max.map(|m| Timestamp(m + 1)), None));
        assert!(!b.overlaps(None, b.min.map(Timestamp)), "to is exclusive");
        assert!(b.overlaps(None, b.min.map(|m| Timestamp(m + 1))));
        assert!(!TimeBounds::default().overlaps(None, None), "empty");
        let far = TimeBounds::default().widened(i64::MAX).widened(i64::MIN);
        assert_eq!((far.min, far.max), (Some(i64::MIN), Some(i64::MAX)));
    }

    #[test]
    fn a_day_partition_of_the_first_format_is_bounded_by_its_day() {
        let b = TimeBounds::of_day(19_844);
        assert_eq!(b.min, Some(Timestamp::start_of_day(19_844).0));
        assert_eq!(b.max, Some(Timestamp::start_of_day(19_845).0 - 1));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_bounds(dir.path(), 19_844).unwrap(), b);
        write_bounds(dir.path(), TimeBounds::default()).unwrap();
        assert_eq!(
            read_bounds(dir.path(), 19_844).unwrap(),
            TimeBounds::default()
        );
    }

    proptest::proptest! {
        /// Whatever times events claim, the bounds hold every one, and a
        /// range that holds one of them is never pruned.
        #[test]
        fn bounds_never_prune_an_event_in_range(
            times in proptest::collection::vec(proptest::num::i64::ANY, 1..20),
            from in proptest::option::of(proptest::num::i64::ANY),
            to in proptest::option::of(proptest::num::i64::ANY),
        ) {
            let bounds = times.iter().fold(TimeBounds::default(), |b, &t| b.widened(t));
            for &t in &times {
                proptest::prop_assert!(bounds.holds(t));
                let in_range = from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e);
                if in_range {
                    proptest::prop_assert!(bounds.overlaps(from.map(Timestamp), to.map(Timestamp)));
                }
            }
        }
    }
}

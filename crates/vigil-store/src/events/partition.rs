//! Daily partitions: one tantivy index per tenant and day.
//!
//! `ROOT/<tenant id>/<YYYY-MM-DD>/`. A tenant's events live in directories
//! of their own, so that no query of one tenant can reach another's
//! documents, and retention drops a whole day by deleting a directory.

use super::schema::EventSchema;
use super::EventStoreError;
use chrono::{Days, NaiveDate};
use parking_lot::RwLock;
use std::collections::HashMap;
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

    /// Days of `tenant` that may hold events in `[from, to)`, newest first.
    pub fn days_between(
        &self,
        tenant: TenantId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<i64>, EventStoreError> {
        let first = from.map_or(i64::MIN, Timestamp::day);
        let last = to.map_or(i64::MAX, |t| Timestamp(t.0.saturating_sub(1)).day());
        let mut days = self.days(tenant)?;
        days.retain(|d| (first..=last).contains(d));
        days.reverse();
        Ok(days)
    }

    /// The partition, opened from disk (and cached) if it exists.
    pub fn get(&self, key: PartitionKey) -> Result<Option<Arc<Partition>>, EventStoreError> {
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

    /// Forgets the partition and deletes its directory.
    pub fn remove(&self, key: PartitionKey) -> Result<(), EventStoreError> {
        self.open.write().remove(&key);
        let dir = self.dir(key);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }
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
}

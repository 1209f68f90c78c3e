//! The indexer thread: from durable batches to searchable documents.
//!
//! It receives batches in write-ahead log order, adds them to the writer of
//! the batch's partition (the tenant's day of arrival; see [`super::partition`]),
//! and commits all dirty writers together every
//! `commit_interval` (what bounds the time from acknowledgement to
//! searchable). After a commit the readers are reloaded and the log is told
//! that everything up to the last batch is safe in the index.
//!
//! Each partition commit records, as its tantivy payload, the sequence
//! number of the last log record it holds. A replayed record is skipped for
//! the partitions that already have it (a crash between a commit and its
//! checkpoint), so replay is idempotent without indexing event ids.

use super::partition::{PartitionKey, Partitions, TimeBounds};
use super::EventStoreError;
use crate::wal::Checkpointer;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::{IndexWriter, TantivyDocument};
use tokio::sync::oneshot;
use vigil_core::{Event, TenantId, Timestamp};

/// What the write-ahead log carries to the indexer.
pub(crate) struct Batch {
    pub tenant: TenantId,
    /// When the store accepted the batch: its partition's day. `None` for
    /// records of the first log format, whose events went to the partition
    /// of their own day (and must again on replay, for the partitions'
    /// record of what they hold to stay true).
    pub arrival: Option<Timestamp>,
    pub events: Vec<Event>,
    /// Its events may be stored already (a replay of the syslog input
    /// journal): each replaces any event of the same id in its partition.
    pub replace: bool,
}

impl Batch {
    fn day_of(&self, event: &Event) -> i64 {
        self.arrival.unwrap_or(event.time).day()
    }
}

pub(crate) enum IndexerMsg {
    Batch {
        seq: u64,
        batch: Batch,
        replayed: bool,
    },
    /// Commit now and answer once done.
    Refresh(oneshot::Sender<Result<(), EventStoreError>>),
    /// Drop the tenant's partitions of days before `day`.
    DropBefore {
        tenant: TenantId,
        day: i64,
        done: oneshot::Sender<Result<usize, EventStoreError>>,
    },
    Shutdown,
}

/// Receives notice of each commit: documents committed and the time taken.
pub type IndexObserver = Box<dyn Fn(usize, Duration) + Send>;

pub(crate) struct IndexerConfig {
    pub commit_interval: Duration,
    pub writer_threads: usize,
    pub writer_memory_bytes: usize,
    pub max_open_writers: usize,
}

struct OpenWriter {
    writer: IndexWriter<TantivyDocument>,
    last_used: Instant,
    dirty: bool,
    /// The last log record whose events this writer has.
    last_seq: u64,
    /// Bounds of the partition's event times with what this writer added.
    bounds: TimeBounds,
}

pub(crate) struct Indexer {
    pub partitions: Arc<Partitions>,
    pub config: IndexerConfig,
    pub checkpointer: Checkpointer,
    /// Messages sent but not yet received (a queue-depth gauge).
    pub queued: Arc<AtomicUsize>,
    pub observer: Option<IndexObserver>,
    writers: HashMap<PartitionKey, OpenWriter>,
    uncommitted_docs: usize,
    last_seq: Option<u64>,
}

impl Indexer {
    pub fn new(
        partitions: Arc<Partitions>,
        config: IndexerConfig,
        checkpointer: Checkpointer,
        queued: Arc<AtomicUsize>,
        observer: Option<IndexObserver>,
    ) -> Self {
        Indexer {
            partitions,
            config,
            checkpointer,
            queued,
            observer,
            writers: HashMap::new(),
            uncommitted_docs: 0,
            last_seq: None,
        }
    }

    pub fn run(mut self, inbox: Receiver<IndexerMsg>) {
        let mut last_commit = Instant::now();
        loop {
            let wait = self
                .config
                .commit_interval
                .saturating_sub(last_commit.elapsed());
            match inbox.recv_timeout(wait) {
                Ok(msg) => {
                    self.queued.fetch_sub(1, Ordering::Relaxed);
                    if !self.handle(msg) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_commit.elapsed() >= self.config.commit_interval {
                self.commit_logged();
                last_commit = Instant::now();
            }
        }
        self.commit_logged();
    }

    /// Returns false to stop.
    fn handle(&mut self, msg: IndexerMsg) -> bool {
        match msg {
            IndexerMsg::Batch {
                seq,
                batch,
                replayed,
            } => {
                if let Err(e) = self.add(seq, batch, replayed) {
                    tracing::error!(error = %e, seq, "cannot index a batch of events");
                }
                self.last_seq = Some(seq);
            }
            IndexerMsg::Refresh(done) => {
                let _ = done.send(self.commit());
            }
            IndexerMsg::DropBefore { tenant, day, done } => {
                let _ = done.send(self.drop_before(tenant, day));
            }
            IndexerMsg::Shutdown => return false,
        }
        true
    }

    /// Adds a record's events, grouped by partition so that each writer
    /// gets all of the record's events for it at once (what makes its
    /// `last_seq` exact).
    fn add(&mut self, seq: u64, batch: Batch, replayed: bool) -> Result<(), EventStoreError> {
        let mut groups: BTreeMap<PartitionKey, Vec<&Event>> = BTreeMap::new();
        for event in &batch.events {
            let key = PartitionKey {
                tenant: batch.tenant,
                day: batch.day_of(event),
            };
            groups.entry(key).or_default().push(event);
        }
        let partitions = self.partitions.clone();
        let schema = partitions.schema();
        for (key, group) in groups {
            if replayed && self.already_committed(key, seq)? {
                continue;
            }
            let open = self.writer(key)?;
            // A replayed batch may carry events a committed partition
            // holds already under the same ids (an input journal replayed
            // after a crash): replace them, never store them twice. A
            // delete only hits documents added before it.
            let replace = replayed || batch.replace;
            for event in &group {
                if replace {
                    let id = tantivy::Term::from_field_text(schema.id, &event.id.to_string());
                    open.writer.delete_term(id);
                }
                open.writer
                    .add_document(schema.document(event))
                    .map_err(|e| index_error(key, e))?;
                if !open.bounds.holds(event.time.0) {
                    open.bounds = open.bounds.widened(event.time.0);
                }
            }
            open.dirty = true;
            open.last_seq = seq;
            self.uncommitted_docs += group.len();
        }
        Ok(())
    }

    /// Whether the partition's last commit already holds record `seq`.
    fn already_committed(&self, key: PartitionKey, seq: u64) -> Result<bool, EventStoreError> {
        Ok(match self.partitions.get(key)? {
            Some(partition) => partition.committed_seq() >= seq,
            None => false,
        })
    }

    fn writer(&mut self, key: PartitionKey) -> Result<&mut OpenWriter, EventStoreError> {
        if !self.writers.contains_key(&key) {
            if self.writers.len() >= self.config.max_open_writers {
                self.close_least_recently_used();
            }
            let partition = self.partitions.get_or_create(key)?;
            let bounds = self.partitions.bounds(key)?.unwrap_or_default();
            let writer = partition
                .index
                .writer_with_num_threads(
                    self.config.writer_threads,
                    self.config.writer_memory_bytes,
                )
                .map_err(|e| index_error(key, e))?;
            writer.set_merge_policy(Box::new(merge_policy()));
            self.writers.insert(
                key,
                OpenWriter {
                    writer,
                    last_used: Instant::now(),
                    dirty: false,
                    last_seq: 0,
                    bounds,
                },
            );
        }
        let open = self.writers.get_mut(&key).ok_or(EventStoreError::Closed)?;
        open.last_used = Instant::now();
        Ok(open)
    }

    /// Commits and closes the writer used longest ago; its documents become
    /// searchable now rather than at the next commit.
    fn close_least_recently_used(&mut self) {
        let oldest = self
            .writers
            .iter()
            .min_by_key(|(_, w)| w.last_used)
            .map(|(k, _)| *k);
        if let Some(key) = oldest {
            if let Some(mut open) = self.writers.remove(&key) {
                if open.dirty {
                    if let Err(e) = self.commit_writer(key, &mut open) {
                        tracing::error!(error = %e, "cannot commit a partition");
                    }
                }
            }
        }
    }

    fn commit_writer(
        &self,
        key: PartitionKey,
        open: &mut OpenWriter,
    ) -> Result<(), EventStoreError> {
        // The bounds first: a search must never skip what a commit made
        // visible (wider bounds than the index holds only cost a look).
        if self.partitions.bounds(key)? != Some(open.bounds) {
            self.partitions.set_bounds(key, open.bounds)?;
        }
        let mut commit = open
            .writer
            .prepare_commit()
            .map_err(|e| index_error(key, e))?;
        commit.set_payload(&open.last_seq.to_string());
        commit.commit().map_err(|e| index_error(key, e))?;
        open.dirty = false;
        if let Some(partition) = self.partitions.get(key)? {
            partition.reader.reload().map_err(|e| index_error(key, e))?;
        }
        Ok(())
    }

    /// Commits every dirty writer, then checkpoints the log.
    fn commit(&mut self) -> Result<(), EventStoreError> {
        let started = Instant::now();
        let keys: Vec<PartitionKey> = self
            .writers
            .iter()
            .filter(|(_, w)| w.dirty)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            if let Some(mut open) = self.writers.remove(&key) {
                let result = self.commit_writer(key, &mut open);
                self.writers.insert(key, open);
                result?;
            }
        }
        if let Some(seq) = self.last_seq {
            self.checkpointer.mark(seq);
        }
        if let Some(observer) = &self.observer {
            if self.uncommitted_docs > 0 {
                observer(self.uncommitted_docs, started.elapsed());
            }
        }
        self.uncommitted_docs = 0;
        Ok(())
    }

    fn commit_logged(&mut self) {
        if let Err(e) = self.commit() {
            tracing::error!(error = %e, "index commit failed; the write-ahead log keeps the events");
        }
    }

    fn drop_before(&mut self, tenant: TenantId, day: i64) -> Result<usize, EventStoreError> {
        let old: Vec<i64> = self
            .partitions
            .days(tenant)?
            .into_iter()
            .filter(|&d| d < day)
            .collect();
        for &d in &old {
            let key = PartitionKey { tenant, day: d };
            if let Some(open) = self.writers.remove(&key) {
                // Dropped unfinished: these documents are being deleted anyway.
                drop(open.writer);
            }
            self.partitions.remove(key)?;
        }
        Ok(old.len())
    }
}

/// Tantivy's log merge policy, merging 16 segments of a level at a time
/// instead of 8: with a commit every second, segments are small and many,
/// and each merge level rewrites every document once more; wider levels
/// mean fewer rewrites for a few more segments per search.
fn merge_policy() -> tantivy::indexer::LogMergePolicy {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_num_segments(16);
    policy
}

fn index_error(key: PartitionKey, e: tantivy::TantivyError) -> EventStoreError {
    key.error("", e)
}

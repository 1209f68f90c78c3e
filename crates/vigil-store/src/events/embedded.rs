//! The embedded event store: write-ahead log + tantivy partitions by day of
//! arrival.

use super::codec::{decode_batch, encode_batch};
use super::compile::{has_field, top_values, try_compile, IdQuery};
use super::indexer::{Batch, IndexObserver, Indexer, IndexerConfig, IndexerMsg};
use super::partition::{PartitionKey, Partitions, TimeBounds};
use super::schema::EventSchema;
use super::{
    EventStore, EventStoreError, SearchRequest, SearchResult, StatsRequest, StatsResult,
    StoredEvent, MAX_GET_IDS,
};
use crate::wal::{CommitObserver, Wal, WalOptions};
use async_trait::async_trait;
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::schema::Value;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument};
use tokio::sync::oneshot;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_query::{Predicate, Query};

/// Settings of the embedded store; every one has a default.
pub struct EmbeddedOptions {
    /// Longest time from acknowledgement to searchable.
    pub commit_interval: Duration,
    pub writer_threads: usize,
    pub writer_memory_bytes: usize,
    pub max_open_writers: usize,
    /// Batches waiting for the indexer at most (back-pressure beyond).
    pub index_queue: usize,
    pub wal: WalOptions,
    pub on_wal_commit: Option<CommitObserver>,
    pub on_index_commit: Option<IndexObserver>,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            commit_interval: Duration::from_secs(1),
            writer_threads: 2,
            writer_memory_bytes: 128 << 20,
            max_open_writers: 16,
            // Small on purpose: batches waiting here are acknowledged but not
            // yet searchable, so a long queue only delays freshness.
            index_queue: 8,
            wal: WalOptions::default(),
            on_wal_commit: None,
            on_index_commit: None,
        }
    }
}

pub struct EmbeddedEventStore {
    wal: Option<Wal<Batch>>,
    indexer_inbox: SyncSender<IndexerMsg>,
    index_queued: Arc<AtomicUsize>,
    partitions: Arc<Partitions>,
    threads: Vec<JoinHandle<()>>,
}

impl EmbeddedEventStore {
    /// Opens the store in `dir` (`dir/wal`, `dir/events`), replays what the
    /// log holds beyond the index, and starts the writer and indexer.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self, EventStoreError> {
        let schema = Arc::new(EventSchema::new());
        let partitions = Arc::new(Partitions::new(dir.join("events"), schema));
        let (inbox, receiver) = sync_channel::<IndexerMsg>(options.index_queue);
        let queued = Arc::new(AtomicUsize::new(0));
        let sink_inbox = inbox.clone();
        let sink_queued = queued.clone();
        let sink = Box::new(move |seq, batch| {
            sink_queued.fetch_add(1, Ordering::Relaxed);
            let msg = IndexerMsg::Batch {
                seq,
                batch,
                replayed: false,
            };
            sink_inbox.send(msg).is_ok()
        });
        let opened = Wal::open(&dir.join("wal"), options.wal, sink, options.on_wal_commit)?;
        let indexer = Indexer::new(
            partitions.clone(),
            IndexerConfig {
                commit_interval: options.commit_interval,
                writer_threads: options.writer_threads,
                writer_memory_bytes: options.writer_memory_bytes,
                max_open_writers: options.max_open_writers,
            },
            opened.wal.checkpointer(),
            queued.clone(),
            options.on_index_commit,
        );
        let indexer_thread = std::thread::Builder::new()
            .name("vigil-indexer".into())
            .spawn(move || indexer.run(receiver))
            .map_err(|source| EventStoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        let store = EmbeddedEventStore {
            wal: Some(opened.wal),
            indexer_inbox: inbox,
            index_queued: queued,
            partitions,
            threads: vec![opened.writer, indexer_thread],
        };
        store.replay(opened.replay);
        Ok(store)
    }

    fn replay(&self, records: Vec<crate::wal::ReplayRecord>) {
        if !records.is_empty() {
            tracing::info!(
                records = records.len(),
                "replaying the write-ahead log into the index"
            );
        }
        for record in records {
            match decode_batch(&record.payload) {
                Ok(decoded) => self.send(IndexerMsg::Batch {
                    seq: record.seq,
                    batch: Batch {
                        tenant: decoded.tenant,
                        arrival: decoded.arrival,
                        events: decoded.events,
                        replace: true,
                    },
                    replayed: true,
                }),
                Err(e) => {
                    tracing::error!(seq = record.seq, error = %e, "skipping a bad log record")
                }
            }
        }
    }

    fn send(&self, msg: IndexerMsg) {
        self.index_queued.fetch_add(1, Ordering::Relaxed);
        if self.indexer_inbox.send(msg).is_err() {
            self.index_queued.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Appends waiting for the log writer, and batches waiting for the
    /// indexer.
    pub fn queue_depths(&self) -> (usize, usize) {
        let wal = self.wal.as_ref().map_or(0, Wal::queue_depth);
        (wal, self.index_queued.load(Ordering::Relaxed))
    }

    /// Stops accepting, lets the log writer finish, indexes and commits
    /// everything, and waits for both threads (what dropping the store does).
    fn close(&mut self) {
        self.wal = None;
        let mut threads = std::mem::take(&mut self.threads);
        if let Some(writer) = (!threads.is_empty()).then(|| threads.remove(0)) {
            let _ = writer.join();
        }
        self.send(IndexerMsg::Shutdown);
        for thread in threads {
            let _ = thread.join();
        }
    }

    async fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EventStoreError>>) -> IndexerMsg,
    ) -> Result<T, EventStoreError> {
        let (done, wait) = oneshot::channel();
        let msg = make(done);
        let inbox = self.indexer_inbox.clone();
        let queued = self.index_queued.clone();
        // The inbox is bounded and may be full: wait on a blocking thread.
        tokio::task::spawn_blocking(move || {
            queued.fetch_add(1, Ordering::Relaxed);
            inbox.send(msg).map_err(|_| EventStoreError::Closed)
        })
        .await
        .map_err(|_| EventStoreError::Closed)??;
        wait.await.map_err(|_| EventStoreError::Closed)?
    }
}

fn search_blocking(
    partitions: &Partitions,
    tenant: TenantId,
    request: &SearchRequest,
) -> Result<SearchResult, EventStoreError> {
    let schema = partitions.schema();
    let query = compile_query(schema, request)?;
    let mut result = SearchResult::default();
    let searchers = searchers(partitions, tenant, request)?;
    result.partitions_opened = searchers.len();
    // Partitions hold arrivals, so their event times overlap: take each
    // one's newest `limit` and keep the newest `limit` of all. Partitions
    // come latest events first; once the page is full of events at least as
    // new as everything a partition can hold, it only adds to the total.
    let limit = request.limit;
    let mut hits: Vec<(i64, usize, DocAddress)> = Vec::new();
    for (i, (key, bounds, searcher)) in searchers.iter().enumerate() {
        let page_full = limit == 0
            || (hits.len() >= limit && bounds.max.is_some_and(|max| hits[limit - 1].0 >= max));
        if page_full {
            let count = searcher
                .search(&*query, &Count)
                .map_err(|e| search_error(*key, e))?;
            result.total += count as u64;
            continue;
        }
        let top = TopDocs::with_limit(limit).order_by_fast_field::<i64>("time", Order::Desc);
        let (count, top_hits) = searcher
            .search(&*query, &(Count, top))
            .map_err(|e| search_error(*key, e))?;
        result.total += count as u64;
        hits.extend(
            top_hits
                .into_iter()
                .map(|(time, address)| (time.unwrap_or(i64::MIN), i, address)),
        );
        // Stable: among equal times, earlier partitions and hits stay first.
        hits.sort_by_key(|hit| std::cmp::Reverse(hit.0));
        hits.truncate(limit);
    }
    for (_, i, address) in hits {
        let (key, _, searcher) = &searchers[i];
        result
            .events
            .push(stored_event(schema, searcher, address, *key)?);
    }
    if result.total == 0 {
        result.missing_fields = missing_fields(schema, &searchers, &request.query);
    }
    Ok(result)
}

fn stats_blocking(
    partitions: &Partitions,
    tenant: TenantId,
    request: &StatsRequest,
) -> Result<StatsResult, EventStoreError> {
    let schema = partitions.schema();
    let query = compile_query(schema, &request.search)?;
    let limit = request.search.limit.max(1);
    let mut counts: HashMap<String, (serde_json::Value, u64)> = HashMap::new();
    let mut total = 0u64;
    for (key, _, searcher) in searchers(partitions, tenant, &request.search)? {
        total += searcher
            .search(&*query, &Count)
            .map_err(|e| search_error(key, e))? as u64;
        // Ask each partition for more than needed: per-partition top
        // lists are merged, and a value just below one partition's cut may
        // still make the overall list.
        let values = top_values(schema, &searcher, &*query, &request.field, limit * 4 + 10)
            .map_err(|e| search_error(key, e))?;
        for (value, count) in values {
            counts.entry(value.to_string()).or_insert((value, 0)).1 += count;
        }
    }
    let mut values: Vec<(serde_json::Value, u64)> = counts.into_values().collect();
    values.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
    });
    values.truncate(limit);
    Ok(StatsResult { total, values })
}

/// The tenant's events with these ids, in the order asked. Every
/// partition of the tenant is asked: an id's embedded time is when it was
/// generated, which says nothing sound about the partition (the arrival)
/// it went to, and one term lookup per partition is cheap.
fn get_blocking(
    partitions: &Partitions,
    tenant: TenantId,
    ids: &[EventId],
) -> Result<Vec<StoredEvent>, EventStoreError> {
    if ids.len() > MAX_GET_IDS {
        return Err(EventStoreError::BadQuery(format!(
            "at most {MAX_GET_IDS} event ids at once, not {}",
            ids.len()
        )));
    }
    let schema = partitions.schema();
    let query = IdQuery::new(schema.id, ids);
    let mut found: HashMap<EventId, StoredEvent> = HashMap::new();
    let all = SearchRequest {
        query: Query::All,
        from: None,
        to: None,
        limit: 0,
    };
    for (key, _, searcher) in searchers(partitions, tenant, &all)? {
        let addresses = searcher
            .search(&query, &DocSetCollector)
            .map_err(|e| search_error(key, e))?;
        for address in addresses {
            let event = stored_event(schema, &searcher, address, key)?;
            found.entry(event.id).or_insert(event);
        }
    }
    let mut out = Vec::with_capacity(found.len());
    for id in ids {
        out.extend(found.remove(id));
    }
    Ok(out)
}

/// Searchers of the tenant's partitions whose event times overlap the
/// range, latest events first; no other partition is opened.
fn searchers(
    partitions: &Partitions,
    tenant: TenantId,
    request: &SearchRequest,
) -> Result<Vec<(PartitionKey, TimeBounds, Searcher)>, EventStoreError> {
    let mut out = Vec::new();
    for (day, bounds) in partitions.overlapping(tenant, request.from, request.to)? {
        let key = PartitionKey { tenant, day };
        if let Some(partition) = partitions.get(key)? {
            let searcher = partition.reader.searcher();
            // Bounds read after the searcher hold all it sees (the indexer
            // widens them before it commits), which the merge relies on.
            let bounds = partitions.bounds(key)?.unwrap_or(bounds);
            out.push((key, bounds, searcher));
        }
    }
    Ok(out)
}

impl EmbeddedEventStore {
    /// Logs a batch and hands it to the indexer. `replace`: see
    /// [`EventStore::append_replacing`]. (Its log record needs no flag: a
    /// batch replayed from the log always replaces.)
    async fn append_batch(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
        arrival: Timestamp,
        replace: bool,
    ) -> Result<(), EventStoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let wal = self.wal.as_ref().ok_or(EventStoreError::Closed)?;
        // The arrival names the partition: one per append, whatever times
        // the events claim. It is logged with them, for replay.
        let payload = encode_batch(tenant, arrival, &events);
        let batch = Batch {
            tenant,
            arrival: Some(arrival),
            events,
            replace,
        };
        wal.append(payload, batch).await?;
        Ok(())
    }
}

impl Drop for EmbeddedEventStore {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl EventStore for EmbeddedEventStore {
    async fn append_arrived(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
        arrival: Timestamp,
    ) -> Result<(), EventStoreError> {
        self.append_batch(tenant, events, arrival, false).await
    }

    async fn append_replacing(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
        arrival: Timestamp,
    ) -> Result<(), EventStoreError> {
        self.append_batch(tenant, events, arrival, true).await
    }

    async fn search(
        &self,
        tenant: TenantId,
        request: SearchRequest,
    ) -> Result<SearchResult, EventStoreError> {
        let partitions = self.partitions.clone();
        tokio::task::spawn_blocking(move || search_blocking(&partitions, tenant, &request))
            .await
            .map_err(|_| EventStoreError::Closed)?
    }

    async fn stats(
        &self,
        tenant: TenantId,
        request: StatsRequest,
    ) -> Result<StatsResult, EventStoreError> {
        let partitions = self.partitions.clone();
        tokio::task::spawn_blocking(move || stats_blocking(&partitions, tenant, &request))
            .await
            .map_err(|_| EventStoreError::Closed)?
    }

    async fn get(
        &self,
        tenant: TenantId,
        ids: &[EventId],
    ) -> Result<Vec<StoredEvent>, EventStoreError> {
        let partitions = self.partitions.clone();
        let ids = ids.to_vec();
        tokio::task::spawn_blocking(move || get_blocking(&partitions, tenant, &ids))
            .await
            .map_err(|_| EventStoreError::Closed)?
    }

    async fn refresh(&self) -> Result<(), EventStoreError> {
        self.ask(IndexerMsg::Refresh).await
    }

    async fn apply_retention(
        &self,
        tenant: TenantId,
        keep_days: u32,
        now: Timestamp,
    ) -> Result<usize, EventStoreError> {
        let day = now.day() - i64::from(keep_days);
        self.ask(|done| IndexerMsg::DropBefore { tenant, day, done })
            .await
    }
}

fn compile_query(
    schema: &EventSchema,
    request: &SearchRequest,
) -> Result<Box<dyn tantivy::query::Query>, EventStoreError> {
    try_compile(schema, &with_time_range(request))
        .map_err(|e| EventStoreError::BadQuery(e.to_string()))
}

/// The request's query, restricted to its time range through the `_time`
/// pseudo-field that the compiler maps onto the indexed event time.
fn with_time_range(request: &SearchRequest) -> Query {
    if request.from.is_none() && request.to.is_none() {
        return request.query.clone();
    }
    let bound = |t: Option<Timestamp>, make: fn(String) -> Bound<String>| {
        t.map_or(Bound::Unbounded, |t| make(t.to_rfc3339()))
    };
    let range = Query::Field {
        field: "_time".into(),
        predicate: Predicate::Range {
            lower: bound(request.from, Bound::Included),
            upper: bound(request.to, Bound::Excluded),
        },
    };
    Query::And(vec![request.query.clone(), range])
}

fn stored_event(
    schema: &EventSchema,
    searcher: &Searcher,
    address: DocAddress,
    key: PartitionKey,
) -> Result<StoredEvent, EventStoreError> {
    let doc: TantivyDocument = searcher.doc(address).map_err(|e| search_error(key, e))?;
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let time = doc
        .get_first(schema.time)
        .and_then(|v| v.as_i64())
        .unwrap_or_default();
    Ok(StoredEvent {
        id: text(schema.id).parse().unwrap_or(EventId(0)),
        time: Timestamp(time),
        raw: text(schema.raw),
        arrival_day: Some(key.day),
    })
}

fn missing_fields(
    schema: &EventSchema,
    searchers: &[(PartitionKey, TimeBounds, Searcher)],
    query: &Query,
) -> Vec<String> {
    query
        .fields()
        .into_iter()
        .filter(|f| !f.starts_with('_'))
        .filter(|f| !searchers.iter().any(|(_, _, s)| has_field(schema, s, f)))
        .map(str::to_string)
        .collect()
}

fn search_error(key: PartitionKey, e: tantivy::TantivyError) -> EventStoreError {
    key.error("search of ", e)
}

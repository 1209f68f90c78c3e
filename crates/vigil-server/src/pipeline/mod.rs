//! The ingest pipeline every event takes, whatever brought it:
//!
//! ```text
//! syslog listeners ─► tenant routing ─► decode ─┐
//!                        └► quarantine          ├─► normalize ─► detect ─► store ─► alerts
//! POST /api/v1/ingest ──────────────────────────┘
//! ```
//!
//! Detection runs before the events are stored (so an alert never waits
//! for indexing) and alerts are recorded after (so an alert's evidence is
//! always durable). Syslog batches come through a bounded queue drained by
//! `inputs.pipeline_workers` tasks: when they fall behind, the queue fills,
//! TCP senders wait and UDP datagrams are dropped and counted.

pub mod metrics;
pub mod normalize;
pub mod progress;
pub mod tenants;

use crate::detection::Detection;
use crate::inputs::{Delivery, InboundMessage, JournalPos};
use crate::metrics::Metrics;
use normalize::Normalizer;
use progress::{Progress, Ticket};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tenants::{Route, TenantRouter, QUARANTINE};
use tokio::sync::mpsc;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_decode::{AuditAssembler, NdjsonLines};
use vigil_sigma::logsource::EventSource;
use vigil_store::events::EventStore;

/// Events of one request parsed and in flight at once, at most, and their
/// text: a parsed event costs several times its text, so a request is
/// parsed and stored in slices of this size.
const SLICE_EVENTS: usize = 2048;
const SLICE_BYTES: usize = 1 << 20;

/// Batches the indexer may have waiting when a large request's next slice
/// goes to the store (its queue holds 8): the rest is room for others.
const BULK_MAX_BACKLOG: usize = 2;

/// How often a large request's slice looks again for room.
const BULK_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Audit events waiting for the rest of their records, at most.
const MAX_PENDING_AUDIT: usize = 4096;

/// How long an audit event without its end record waits, in microseconds.
const AUDIT_WAIT_MICROS: i64 = 2_000_000;

pub struct Pipeline {
    events: Arc<dyn EventStore>,
    detection: Arc<Detection>,
    router: TenantRouter,
    normalizer: Normalizer,
    /// Per tenant: audit records waiting for the rest of their event.
    audit: Mutex<HashMap<TenantId, AuditAssembler>>,
    metrics: Arc<Metrics>,
    /// Batches waiting for the event store's indexer.
    index_backlog: Arc<dyn Fn() -> usize + Send + Sync>,
    /// The turn of large requests' slices at the store (see
    /// [`Pipeline::ingest_lines`]).
    bulk_turn: tokio::sync::Mutex<()>,
}

/// Messages by tenant, each with its quarantine reason if it has one.
type Routed = BTreeMap<TenantId, Vec<(InboundMessage, Option<String>)>>;

/// One tenant's events, decoded and matched, waiting to be stored.
struct Prepared {
    tenant: TenantId,
    events: Vec<Event>,
    /// `None` for quarantined messages: no tenant's rules apply.
    verdicts: Option<crate::detection::Verdicts>,
    /// Where the events came from, for syslog.
    origin: Origin,
}

/// The input journal records a syslog piece came from: done once stored.
#[derive(Default, Clone)]
struct Origin {
    /// Held, never read: dropping the last clone marks the records done.
    _ticket: Option<Arc<Ticket>>,
    /// Replayed from the journal: the events may be stored already, so
    /// they replace events of the same id.
    replace: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] vigil_store::events::EventStoreError),
    #[error("detection stopped: {0}")]
    Detection(String),
}

impl Pipeline {
    pub fn new(
        events: Arc<dyn EventStore>,
        detection: Arc<Detection>,
        router: TenantRouter,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        Pipeline {
            events,
            detection,
            router,
            normalizer: Normalizer::new(),
            audit: Mutex::new(HashMap::new()),
            metrics,
            index_backlog: Arc::new(|| 0),
            bulk_turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Where to read the indexer's backlog, which large requests wait on.
    pub fn with_index_backlog(
        mut self,
        backlog: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Pipeline {
        self.index_backlog = Arc::new(backlog);
        self
    }

    pub fn detection(&self) -> &Arc<Detection> {
        &self.detection
    }

    /// Events of one tenant from the HTTP API: normalized (Suricata, Zeek,
    /// Windows JSON get their common names and log source), matched,
    /// stored, alerted on. Returns once they are durable.
    pub async fn ingest(
        self: &Arc<Self>,
        tenant: TenantId,
        events: Vec<Event>,
    ) -> Result<(), PipelineError> {
        let this = self.clone();
        let sourced = tokio::task::spawn_blocking(move || {
            events
                .into_iter()
                .map(|e| this.normalizer.json_event(e))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| PipelineError::Detection(e.to_string()))?;
        self.detect_and_store(tenant, sourced).await
    }

    /// The good NDJSON lines of one HTTP request, all arrived at
    /// `received`: parsed, normalized, matched and stored a slice at a
    /// time, so that only one slice's parsed events are in memory at once
    /// (their text is far smaller). Returns once all are durable; a store
    /// failure midway leaves the earlier slices stored.
    ///
    /// The store acknowledges an append once its log is written and the
    /// batch handed to the indexer's bounded queue; a large request would
    /// keep that queue full and every tenant's next append would wait for
    /// the indexer behind it. So the slices of a large request take turns
    /// and go only while the queue has room to spare: the large request
    /// waits for the indexer, the others do not.
    pub async fn ingest_lines(
        self: &Arc<Self>,
        tenant: TenantId,
        lines: NdjsonLines,
        received: Timestamp,
    ) -> Result<(), PipelineError> {
        let lines = Arc::new(lines);
        let batches = lines.batches(SLICE_EVENTS, SLICE_BYTES);
        let large = batches.len() > 1;
        for range in batches {
            let this = self.clone();
            let lines = lines.clone();
            let sourced = tokio::task::spawn_blocking(move || {
                lines
                    .events(range, tenant, received)
                    .into_iter()
                    .map(|e| this.normalizer.json_event(e))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| PipelineError::Detection(e.to_string()))?;
            if large {
                let _turn = self.bulk_turn.lock().await;
                while (self.index_backlog)() > BULK_MAX_BACKLOG {
                    tokio::time::sleep(BULK_POLL).await;
                }
                self.detect_and_store(tenant, sourced).await?;
            } else {
                self.detect_and_store(tenant, sourced).await?;
            }
        }
        Ok(())
    }

    async fn detect_and_store(
        self: &Arc<Self>,
        tenant: TenantId,
        sourced: Vec<(Event, EventSource)>,
    ) -> Result<(), PipelineError> {
        if sourced.is_empty() {
            return Ok(());
        }
        // At start the rules load in the background: wait, never store
        // an event unmatched.
        self.detection.wait_ready().await;
        let this = self.clone();
        let prepared = tokio::task::spawn_blocking(move || this.evaluate(tenant, sourced))
            .await
            .map_err(|e| PipelineError::Detection(e.to_string()))?;
        self.store(prepared).await
    }

    /// Runs the rules over one tenant's events (CPU: a blocking thread).
    fn evaluate(&self, tenant: TenantId, sourced: Vec<(Event, EventSource)>) -> Prepared {
        let verdicts = (tenant != QUARANTINE).then(|| self.detection.evaluate(tenant, &sourced));
        Prepared {
            tenant,
            events: sourced.into_iter().map(|(e, _)| e).collect(),
            verdicts,
            origin: Origin::default(),
        }
    }

    /// Stores prepared events, then records their alerts. An alert store
    /// failure is logged and counted: the events are stored, and the sender
    /// must not send them again.
    async fn store(&self, prepared: Prepared) -> Result<(), PipelineError> {
        let count = prepared.events.len() as u64;
        if prepared.origin.replace {
            let now = Timestamp::now();
            self.events
                .append_replacing(prepared.tenant, prepared.events, now)
                .await?;
        } else {
            self.events.append(prepared.tenant, prepared.events).await?;
        }
        if prepared.tenant != QUARANTINE {
            self.metrics.ingested_events.inc_by(count);
        }
        let Some(verdicts) = prepared.verdicts else {
            return Ok(());
        };
        match self.detection.settle(verdicts).await {
            Ok(opened) => {
                self.metrics.pipeline.alerts_opened.inc_by(opened as u64);
            }
            Err(e) => {
                self.metrics.pipeline.alert_failures.inc();
                tracing::error!(error = %e, "recording alerts failed");
            }
        }
        Ok(())
    }

    /// Sorts a batch from the syslog listeners by tenant (quarantine
    /// included), keeping each tenant's messages in arrival order.
    async fn route(&self, batch: Vec<InboundMessage>) -> Routed {
        let mut routed: Routed = BTreeMap::new();
        for message in batch {
            match self.router.route(&message).await {
                Route::Tenant(id) => routed.entry(id).or_default().push((message, None)),
                Route::Quarantine(reason) => {
                    self.metrics.pipeline.quarantined.inc();
                    routed
                        .entry(QUARANTINE)
                        .or_default()
                        .push((message, Some(reason)));
                }
            }
        }
        routed
    }

    /// Decodes and matches one tenant's messages (on a blocking thread).
    async fn prepare(
        self: &Arc<Self>,
        tenant: TenantId,
        messages: Vec<(InboundMessage, Option<String>)>,
        origin: Origin,
    ) -> Option<Prepared> {
        self.detection.wait_ready().await;
        let this = self.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let sourced = this.decode(tenant, messages);
            Prepared {
                origin,
                ..this.evaluate(tenant, sourced)
            }
        })
        .await;
        match prepared {
            Ok(prepared) => Some(prepared),
            Err(e) => {
                tracing::error!(error = %e, "decoding a syslog batch stopped");
                None
            }
        }
    }

    fn decode(
        &self,
        tenant: TenantId,
        messages: Vec<(InboundMessage, Option<String>)>,
    ) -> Vec<(Event, EventSource)> {
        let mut out = Vec::with_capacity(messages.len());
        let mut assemblers = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let assembler = assemblers
            .entry(tenant)
            .or_insert_with(|| AuditAssembler::new(MAX_PENDING_AUDIT));
        for (message, quarantine) in messages {
            let received = message.received;
            let record = vigil_decode::record::decode_syslog_record(&message.text, received);
            let mut records = if record.audit.is_some() && quarantine.is_none() {
                let host = record.doc.get("host.name").and_then(|h| h.as_str());
                let group = host.unwrap_or("").to_string();
                assembler.push(&group, record, received)
            } else {
                vec![record]
            };
            for (n, record) in records.drain(..).enumerate() {
                let id = match message.journal {
                    Some(pos) => journal_event_id(received, pos, n),
                    None => EventId::generate(received),
                };
                let mut fields = vec![
                    ("log.source.address", message.peer.ip().to_string().into()),
                    // The line itself: stored and shown, not indexed.
                    ("event.original", message.text.clone().into()),
                ];
                if let Some(reason) = &quarantine {
                    fields.push(("quarantine.reason", reason.clone().into()));
                }
                out.push(self.event_of(id, tenant, record, received, fields));
            }
        }
        // Audit events whose end never came go out after a short wait.
        let stale = Timestamp(Timestamp::now().micros() - AUDIT_WAIT_MICROS);
        for record in assembler.flush(stale) {
            let now = Timestamp::now();
            out.push(self.event_of(EventId::generate(now), tenant, record, now, Vec::new()));
        }
        out
    }

    /// A decoded record as an event of `tenant` (timed by the record, else
    /// `fallback_time`), with `fields` added after normalization. Searches
    /// show an event's stored text: for a syslog record, its fields as JSON.
    fn event_of(
        &self,
        id: EventId,
        tenant: TenantId,
        record: vigil_decode::Record,
        fallback_time: Timestamp,
        fields: Vec<(&str, serde_json::Value)>,
    ) -> (Event, EventSource) {
        let time = record.time.unwrap_or(fallback_time);
        let mut doc = record.doc;
        let source = self.normalizer.tag(&record.source, &mut doc);
        for (key, value) in fields {
            doc.insert(key.to_string(), value);
        }
        let raw = serde_json::to_string(&doc).unwrap_or_default();
        let event = Event {
            id,
            tenant,
            time,
            raw,
            doc,
        };
        (event, source)
    }
}

/// The id of the `record`-th event decoded from the message at `pos` of
/// the input journal: the same on every replay of the record, so that a
/// replayed event replaces itself. Like [`EventId::generate`], the time of
/// arrival in milliseconds leads (ids sort by arrival); then 44 bits of
/// the record's sequence number, 24 of the message's place in it and 12 of
/// the event's place among the message's events.
fn journal_event_id(received: Timestamp, pos: JournalPos, record: usize) -> EventId {
    let millis = (received.micros().max(0) / 1000) as u128 & ((1 << 48) - 1);
    let seq = u128::from(pos.seq) & ((1 << 44) - 1);
    let index = u128::from(pos.index) & ((1 << 24) - 1);
    let record = record as u128 & ((1 << 12) - 1);
    EventId((millis << 80) | (seq << 36) | (index << 12) | record)
}

/// Messages a worker takes from the queue at once, at most: when the
/// pipeline falls behind, batches grow and the per-batch costs (a log
/// commit, an alert transaction) are shared by more events.
const COALESCE_MESSAGES: usize = 8192;

/// Batches being stored at once, at most: storing waits on fsync, so
/// workers go on decoding and matching the next batches meanwhile; beyond
/// this they wait, and the queue, then the senders, feel it.
const STORES_IN_FLIGHT: u32 = 8;

/// Drains the listeners' queue until every sender is gone and every batch
/// is stored.
///
/// One dispatcher takes batches (coalesced) and sorts them by tenant; each
/// tenant always goes to the same one of `workers` shards, which decode and
/// match its messages in arrival order, so that correlations (a brute force
/// *then* a success) see a tenant's events in the order they came.
/// Stores run beside them, at most [`STORES_IN_FLIGHT`] at once.
///
/// `progress`, with an input journal: where each batch's journal records
/// are declared done once every piece of it is stored.
pub async fn run_syslog(
    pipeline: Arc<Pipeline>,
    mut receiver: mpsc::Receiver<Delivery>,
    workers: usize,
    progress: Option<Arc<Progress>>,
) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(STORES_IN_FLIGHT as usize));
    let mut shards = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (shard, mut work) = mpsc::channel::<ShardWork>(2);
        shards.push(shard);
        let pipeline = pipeline.clone();
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            while let Some((tenant, messages, origin)) = work.recv().await {
                let Some(prepared) = pipeline.prepare(tenant, messages, origin).await else {
                    continue;
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let pipeline = pipeline.clone();
                tokio::spawn(async move {
                    let count = prepared.events.len() as u64;
                    if let Err(e) = pipeline.store(prepared).await {
                        pipeline.metrics.pipeline.lost.inc_by(count);
                        tracing::error!(tenant = %tenant, error = %e, "a syslog batch could not be stored");
                    }
                    drop(permit);
                });
            }
        }));
    }
    while let Some(batch) = next_batch(&mut receiver).await {
        let origin = Origin {
            _ticket: progress.as_ref().and_then(|p| p.ticket(batch.seqs)),
            replace: batch.replayed,
        };
        for (tenant, messages) in pipeline.route(batch.messages).await {
            let shard = &shards[tenant.0.unsigned_abs() as usize % shards.len()];
            if shard
                .send((tenant, messages, origin.clone()))
                .await
                .is_err()
            {
                tracing::error!("a pipeline shard stopped");
            }
        }
    }
    drop(shards);
    for task in tasks {
        let _ = task.await;
    }
    // Every store has returned its permit once all can be taken.
    let _ = in_flight.acquire_many(STORES_IN_FLIGHT).await;
}

/// What a shard is given: one tenant's messages of a batch.
type ShardWork = (TenantId, Vec<(InboundMessage, Option<String>)>, Origin);

/// Deliveries taken from the queue together.
#[derive(Default)]
struct Batch {
    messages: Vec<InboundMessage>,
    /// Their input journal records, in journal order.
    seqs: Vec<u64>,
    /// Some were replayed from the journal.
    replayed: bool,
}

impl Batch {
    fn add(&mut self, delivery: Delivery) {
        self.messages.extend(delivery.messages);
        if let Some(entry) = delivery.journal {
            self.seqs.push(entry.seq);
            self.replayed |= entry.replayed;
        }
    }
}

/// The next batch, with whatever else is already queued (up to
/// [`COALESCE_MESSAGES`]); `None` once every sender is gone.
async fn next_batch(receiver: &mut mpsc::Receiver<Delivery>) -> Option<Batch> {
    let mut batch = Batch::default();
    batch.add(receiver.recv().await?);
    while batch.messages.len() < COALESCE_MESSAGES {
        match receiver.try_recv() {
            Ok(more) => batch.add(more),
            Err(_) => break,
        }
    }
    Some(batch)
}

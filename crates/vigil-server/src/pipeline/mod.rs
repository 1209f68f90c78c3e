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
pub mod tenants;

use crate::detection::Detection;
use crate::inputs::InboundMessage;
use crate::metrics::Metrics;
use normalize::Normalizer;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tenants::{Route, TenantRouter, QUARANTINE};
use tokio::sync::mpsc;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_decode::AuditAssembler;
use vigil_sigma::logsource::EventSource;
use vigil_store::events::EventStore;

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
        }
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

    async fn detect_and_store(
        self: &Arc<Self>,
        tenant: TenantId,
        sourced: Vec<(Event, EventSource)>,
    ) -> Result<(), PipelineError> {
        if sourced.is_empty() {
            return Ok(());
        }
        let this = self.clone();
        let (events, verdicts) = tokio::task::spawn_blocking(move || {
            let verdicts = this.detection.evaluate(tenant, &sourced);
            let events: Vec<Event> = sourced.into_iter().map(|(e, _)| e).collect();
            (events, verdicts)
        })
        .await
        .map_err(|e| PipelineError::Detection(e.to_string()))?;
        let count = events.len() as u64;
        self.events.append(tenant, events).await?;
        self.metrics.ingested_events.inc_by(count);
        match self.detection.settle(verdicts).await {
            Ok(opened) => {
                self.metrics.pipeline.alerts_opened.inc_by(opened as u64);
            }
            // The events are stored; an alert store failure must not make
            // the sender resend them. It is logged and counted.
            Err(e) => {
                self.metrics.pipeline.alert_failures.inc();
                tracing::error!(error = %e, "recording alerts failed");
            }
        }
        Ok(())
    }

    /// One batch from the syslog listeners: routed to tenants, decoded,
    /// then as [`Pipeline::ingest`] per tenant.
    pub async fn ingest_syslog(self: &Arc<Self>, batch: Vec<InboundMessage>) {
        let mut routed: BTreeMap<TenantId, Vec<(InboundMessage, Option<String>)>> = BTreeMap::new();
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
        for (tenant, messages) in routed {
            let this = self.clone();
            let decoded = tokio::task::spawn_blocking(move || this.decode(tenant, messages)).await;
            let result = match decoded {
                Ok(sourced) if tenant == QUARANTINE => self.store_quarantine(sourced).await,
                Ok(sourced) => self.detect_and_store(tenant, sourced).await,
                Err(e) => Err(PipelineError::Detection(e.to_string())),
            };
            if let Err(e) = result {
                self.metrics.pipeline.lost.inc();
                tracing::error!(tenant = %tenant, error = %e, "a syslog batch could not be stored");
            }
        }
    }

    /// Quarantined messages are kept whole, with the reason, and not
    /// matched: they belong to no tenant's rules.
    async fn store_quarantine(
        &self,
        sourced: Vec<(Event, EventSource)>,
    ) -> Result<(), PipelineError> {
        let events: Vec<Event> = sourced.into_iter().map(|(e, _)| e).collect();
        Ok(self.events.append(QUARANTINE, events).await?)
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
            for record in records.drain(..) {
                let mut event = Event {
                    id: EventId::generate(received),
                    tenant,
                    time: record.time.unwrap_or(received),
                    doc: record.doc,
                    raw: String::new(),
                };
                event.doc.insert(
                    "log.source.address".into(),
                    message.peer.ip().to_string().into(),
                );
                if let Some(reason) = &quarantine {
                    event
                        .doc
                        .insert("quarantine.reason".into(), reason.clone().into());
                }
                let source = self.normalizer.tag(&record.source, &mut event.doc);
                event
                    .doc
                    .insert("event.original".into(), message.text.clone().into());
                // Searches show an event's stored text: for a syslog line,
                // the decoded fields with the line itself in `event.original`.
                event.raw = serde_json::to_string(&event.doc).unwrap_or_default();
                out.push((event, source));
            }
        }
        // Audit events whose end never came go out after a short wait.
        let stale = Timestamp(Timestamp::now().micros() - AUDIT_WAIT_MICROS);
        for record in assembler.flush(stale) {
            let time = record.time.unwrap_or_else(Timestamp::now);
            let mut doc = record.doc;
            let source = self.normalizer.tag(&record.source, &mut doc);
            let raw = serde_json::to_string(&doc).unwrap_or_default();
            out.push((
                Event {
                    id: EventId::generate(time),
                    tenant,
                    time,
                    raw,
                    doc,
                },
                source,
            ));
        }
        out
    }
}

/// Drains the listeners' queue with `workers` concurrent tasks until every
/// sender is gone.
pub async fn run_syslog(
    pipeline: Arc<Pipeline>,
    receiver: mpsc::Receiver<Vec<InboundMessage>>,
    workers: usize,
) {
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let receiver = receiver.clone();
        let pipeline = pipeline.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let batch = receiver.lock().await.recv().await;
                let Some(batch) = batch else { break };
                pipeline.ingest_syslog(batch).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

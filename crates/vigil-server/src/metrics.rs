//! Vigil's own metrics, served at `/metrics` in the Prometheus text format.
//!
//! No metric carries a tenant label: `/metrics` is scraped without a
//! token, and tenant names are client data.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// A loop shared by tenants: `checks` (the scheduler's runs), `scrape`
/// (Prometheus), `snmp`, `noc` (results, engines, inventory sync).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoopLabel {
    pub r#loop: &'static str,
}

/// Panics caught in the loops shared by tenants, process-wide: they are
/// counted where they are caught, deep in the NOC, without a handle on
/// [`Metrics`].
pub fn task_panics() -> &'static Family<LoopLabel, Counter> {
    static PANICS: std::sync::OnceLock<Family<LoopLabel, Counter>> = std::sync::OnceLock::new();
    PANICS.get_or_init(Family::default)
}

/// Counts a panic caught in `loop_name` (one of [`LoopLabel`]'s).
pub fn count_panic(loop_name: &'static str) {
    task_panics()
        .get_or_create(&LoopLabel { r#loop: loop_name })
        .inc();
}

/// The transport of a syslog input: `udp`, `tcp` or `tls`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabel {
    pub protocol: &'static str,
}

/// Why a syslog connection ended, or why a stream could not be read on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolReasonLabel {
    pub protocol: &'static str,
    pub reason: &'static str,
}

/// One syslog listener, by its bound address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenLabel {
    pub listen: String,
}

/// The syslog network inputs (`crate::inputs`).
#[derive(Default)]
pub struct SyslogMetrics {
    pub messages: Family<ProtocolLabel, Counter>,
    pub bytes: Family<ProtocolLabel, Counter>,
    pub connections_open: Family<ProtocolLabel, Gauge>,
    pub connections_accepted: Family<ProtocolLabel, Counter>,
    pub connections_closed: Family<ProtocolReasonLabel, Counter>,
    pub connections_rejected: Family<ProtocolLabel, Counter>,
    pub oversized: Family<ProtocolLabel, Counter>,
    pub invalid_utf8: Family<ProtocolLabel, Counter>,
    pub framing_errors: Family<ProtocolReasonLabel, Counter>,
    pub idle_closed: Family<ProtocolLabel, Counter>,
    pub udp_dropped: Counter,
    /// Messages on disk in the input journal (TCP, TLS, RELP).
    pub journalled: Family<ProtocolLabel, Counter>,
    pub udp_kernel_drops: Family<ListenLabel, Gauge>,
    pub tls_handshake_failures: Counter,
}

impl SyslogMetrics {
    fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("syslog");
        r.register(
            "messages",
            "Syslog messages received",
            self.messages.clone(),
        );
        r.register(
            "bytes",
            "Syslog message bytes received, after de-framing",
            self.bytes.clone(),
        );
        r.register(
            "connections_open",
            "Syslog connections open",
            self.connections_open.clone(),
        );
        r.register(
            "connections_accepted",
            "Syslog connections accepted",
            self.connections_accepted.clone(),
        );
        r.register(
            "connections_closed",
            "Syslog connections closed, by reason",
            self.connections_closed.clone(),
        );
        r.register(
            "connections_rejected",
            "Syslog connections closed at once: the listener had max_connections open",
            self.connections_rejected.clone(),
        );
        r.register(
            "oversized",
            "Syslog messages over max_message_bytes (cut, or the connection closed)",
            self.oversized.clone(),
        );
        r.register(
            "invalid_utf8",
            "Syslog messages whose invalid UTF-8 was replaced",
            self.invalid_utf8.clone(),
        );
        r.register(
            "framing_errors",
            "Syslog streams that could not be read on, by reason",
            self.framing_errors.clone(),
        );
        r.register(
            "idle_closed",
            "Syslog connections closed for silence",
            self.idle_closed.clone(),
        );
        r.register(
            "udp_dropped",
            "Syslog UDP messages dropped because the pipeline was full",
            self.udp_dropped.clone(),
        );
        r.register(
            "journalled",
            "Syslog messages written to the input journal and synced (TCP, TLS, RELP)",
            self.journalled.clone(),
        );
        r.register(
            "udp_kernel_drops",
            "Datagrams the kernel dropped on a syslog UDP socket (its receive buffer was full)",
            self.udp_kernel_drops.clone(),
        );
        r.register(
            "tls_handshake_failures",
            "Syslog TLS handshakes that failed or timed out",
            self.tls_handshake_failures.clone(),
        );
    }
}

pub struct Metrics {
    registry: Registry,
    pub syslog: SyslogMetrics,
    pub pipeline: crate::pipeline::metrics::PipelineMetrics,
    pub detection: crate::detection::metrics::DetectionMetrics,
    pub ingested_events: Counter,
    pub rejected_lines: Counter,
    pub ingest_requests: Family<OutcomeLabel, Counter>,
    pub ingest_seconds: Histogram,
    pub wal_commit_seconds: Histogram,
    pub wal_commit_records: Histogram,
    pub index_commit_seconds: Histogram,
    pub indexed_events: Counter,
    pub search_seconds: Histogram,
    pub queue_depth: Family<QueueLabel, Gauge>,
    /// Retention rounds done (every tenant's old arrival days dropped).
    pub retention_rounds: Counter,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 18)
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("vigil");
        let m = Metrics {
            ingested_events: Counter::default(),
            rejected_lines: Counter::default(),
            ingest_requests: Family::default(),
            ingest_seconds: Histogram::new(latency_buckets()),
            wal_commit_seconds: Histogram::new(latency_buckets()),
            wal_commit_records: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            index_commit_seconds: Histogram::new(latency_buckets()),
            indexed_events: Counter::default(),
            search_seconds: Histogram::new(latency_buckets()),
            queue_depth: Family::default(),
            retention_rounds: Counter::default(),
            syslog: SyslogMetrics::default(),
            pipeline: Default::default(),
            detection: Default::default(),
            registry: Registry::default(),
        };
        m.syslog.register(&mut registry);
        m.pipeline.register(&mut registry);
        m.detection.register(&mut registry);
        registry.register(
            "ingested_events",
            "Events accepted and made durable",
            m.ingested_events.clone(),
        );
        registry.register(
            "ingest_rejected_lines",
            "Ingest lines rejected as malformed",
            m.rejected_lines.clone(),
        );
        registry.register(
            "ingest_requests",
            "Ingest requests by outcome",
            m.ingest_requests.clone(),
        );
        registry.register(
            "ingest_request_seconds",
            "Time to acknowledge an ingest request",
            m.ingest_seconds.clone(),
        );
        registry.register(
            "wal_commit_seconds",
            "Write-ahead log group commit time (write + fsync)",
            m.wal_commit_seconds.clone(),
        );
        registry.register(
            "wal_commit_records",
            "Appends per write-ahead log group commit",
            m.wal_commit_records.clone(),
        );
        registry.register(
            "index_commit_seconds",
            "Event index commit time",
            m.index_commit_seconds.clone(),
        );
        registry.register(
            "indexed_events",
            "Events committed to the search index",
            m.indexed_events.clone(),
        );
        registry.register(
            "search_seconds",
            "Event search time",
            m.search_seconds.clone(),
        );
        registry.register(
            "task_panics",
            "Panics caught in a loop shared by tenants; the item was marked failed and the loop went on",
            task_panics().clone(),
        );
        registry.register(
            "retention_rounds",
            "Retention rounds done over every tenant",
            m.retention_rounds.clone(),
        );
        registry.register(
            "queue_depth",
            "Work waiting in an internal queue",
            m.queue_depth.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    pub fn set_queue_depth(&self, queue: &'static str, depth: usize) {
        self.queue_depth
            .get_or_create(&QueueLabel { queue })
            .set(depth as i64);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

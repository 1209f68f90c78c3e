//! The pipeline's own figures in `/metrics` (no tenant labels: see
//! `crate::metrics`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

#[derive(Default)]
pub struct PipelineMetrics {
    /// Syslog messages that mapped to no tenant and were quarantined.
    pub quarantined: Counter,
    /// Syslog messages lost because their batch could not be stored.
    pub lost: Counter,
    /// Alerts opened (hits counted into open alerts are not).
    pub alerts_opened: Counter,
    /// Batches whose alerts could not be recorded.
    pub alert_failures: Counter,
}

impl PipelineMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "syslog_quarantined",
            "Syslog messages that mapped to no tenant, kept in quarantine",
            self.quarantined.clone(),
        );
        registry.register(
            "syslog_lost",
            "Syslog messages lost because the store refused their batch",
            self.lost.clone(),
        );
        registry.register(
            "alerts_opened",
            "Alerts opened by detection",
            self.alerts_opened.clone(),
        );
        registry.register(
            "alert_failures",
            "Batches whose alerts could not be recorded",
            self.alert_failures.clone(),
        );
    }
}

//! NOC alerts into the shared queue: what an engine decided becomes
//! alerts of team NOC beside the SOC's. A page opens an alert (or opens the
//! held-back one of the same key), a hold is a `suppressed` alert with the
//! reason (paging nobody), a clear resolves with the reason.
//!
//! The texts are the engine's (`vigil_noc::text`): the title names the
//! asset and the check by kind and target, the description what failed,
//! why, since when and how often (or a metric's value against its
//! threshold), the resolution after how long. A page held back before
//! adds why in parentheses.

use vigil_core::{TenantId, Timestamp};
use vigil_noc::AlertEvent;
use vigil_store::state::{DetectionStore, Entities, NewAlert, ResolvedAlert, Severity, Team};

/// Records what an engine decided: pages as NOC alerts, held-back ones
/// as suppressed alerts (shown with the reason, paging nobody), clears
/// as resolutions.
pub async fn record(detections: &dyn DetectionStore, tenant: TenantId, events: Vec<AlertEvent>) {
    let mut fired = Vec::new();
    let mut resolved = Vec::new();
    let mut held = Vec::new();
    for event in events {
        match event {
            AlertEvent::Fired {
                key,
                rule,
                asset,
                severity,
                title,
                description,
                time,
                note,
                ..
            } => fired.push(NewAlert {
                tenant,
                team: Team::Noc,
                rule_id: rule,
                rule_title: title,
                severity: severity_of(severity),
                tags: Vec::new(),
                entities: entities(&asset, &key),
                event_id: None,
                evidence: Vec::new(),
                window: None,
                description: match note {
                    Some(note) => format!("{description} ({note})"),
                    None => description,
                },
                time: Timestamp(time.saturating_mul(1000)),
            }),
            AlertEvent::Resolved {
                key,
                rule,
                asset,
                time,
                reason,
            }
            | AlertEvent::Withdrawn {
                key,
                rule,
                asset,
                time,
                reason,
                ..
            } => resolved.push(ResolvedAlert {
                tenant,
                rule_id: rule,
                entities: entities(&asset, &key),
                reason,
                time: Timestamp(time.saturating_mul(1000)),
            }),
            AlertEvent::Suppressed {
                key,
                rule,
                asset,
                severity,
                title,
                description,
                by,
                note,
                time,
            } => {
                tracing::info!(tenant = %tenant, %key, ?by, %note, "NOC alert held back");
                held.push((
                    NewAlert {
                        tenant,
                        team: Team::Noc,
                        rule_id: rule,
                        rule_title: title,
                        severity: severity_of(severity),
                        tags: Vec::new(),
                        entities: entities(&asset, &key),
                        event_id: None,
                        evidence: Vec::new(),
                        window: None,
                        // What a page would say: a held-back alert is read
                        // as closely as one that pages.
                        description,
                        time: Timestamp(time.saturating_mul(1000)),
                    },
                    note,
                ));
            }
        }
    }
    if !fired.is_empty() {
        if let Err(e) = detections.record_alerts(&fired).await {
            tracing::error!(error = %e, "recording NOC alerts failed");
        }
    }
    if !held.is_empty() {
        if let Err(e) = detections.suppress_alerts(&held).await {
            tracing::error!(error = %e, "recording held-back NOC alerts failed");
        }
    }
    if !resolved.is_empty() {
        if let Err(e) = detections.resolve_alerts(&resolved).await {
            tracing::error!(error = %e, "resolving NOC alerts failed");
        }
    }
}

/// A NOC alert is about its asset, and the engine's key tells its
/// resource (the check or series) apart.
fn entities(asset: &str, key: &str) -> Entities {
    Entities {
        host: Some(asset.to_string()),
        user: None,
        source_ip: None,
        resource: Some(key.to_string()),
    }
}

fn severity_of(severity: vigil_noc::Severity) -> Severity {
    match severity {
        vigil_noc::Severity::Info => Severity::Info,
        vigil_noc::Severity::Low => Severity::Low,
        vigil_noc::Severity::Medium => Severity::Medium,
        vigil_noc::Severity::High => Severity::High,
        vigil_noc::Severity::Critical => Severity::Critical,
    }
}

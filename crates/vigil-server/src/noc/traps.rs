//! SNMP traps (v2c, informs acknowledged) received on `[[inputs.snmp_traps]]`
//! listeners and turned into events of the listener's tenant: linkDown,
//! linkUp, coldStart, warmStart by name, any other trap by its OID, each
//! with its varbinds. They go through the pipeline like any event, so they
//! are searchable and rules can match them.

use crate::config::TrapInputConfig;
use crate::pipeline::Pipeline;
use anyhow::Context;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc;
use vigil_core::{Event, EventId, Timestamp};
use vigil_snmp::{Trap, TrapListener};
use vigil_store::state::StateStore;

/// Binds every trap listener and starts turning traps into events.
pub async fn start(
    configs: &[TrapInputConfig],
    state: Arc<dyn StateStore>,
    pipeline: Arc<Pipeline>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for config in configs {
        let tenant = state
            .tenant_by_name(&config.tenant)
            .await?
            .with_context(|| {
                format!(
                    "snmp trap input {}: no tenant {:?}",
                    config.listen, config.tenant
                )
            })?;
        let communities = (!config.communities.is_empty()).then(|| config.communities.clone());
        let listener = TrapListener::bind(config.listen, communities)
            .await
            .with_context(|| format!("cannot listen for snmp traps on {}", config.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, tenant = %config.tenant, "snmp trap input is listening");
        let (tx, mut rx) = mpsc::channel::<Trap>(1024);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = listener.run(tx).await {
                tracing::error!(error = %e, "the snmp trap listener stopped");
            }
        }));
        let pipeline = pipeline.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(trap) = rx.recv().await {
                let event = event_of(&trap, tenant.id);
                if let Err(e) = pipeline.ingest(tenant.id, vec![event]).await {
                    tracing::error!(error = %e, "an snmp trap could not be stored");
                }
            }
        }));
    }
    Ok(tasks)
}

/// A trap as an event: `event.action` is its name, each varbind a field
/// `snmp.varbinds.<oid>`.
fn event_of(trap: &Trap, tenant: vigil_core::TenantId) -> Event {
    let now = Timestamp::now();
    let mut doc = Map::new();
    doc.insert("event.kind".into(), "snmp-trap".into());
    doc.insert("event.action".into(), trap.name.clone().into());
    doc.insert("snmp.trap_oid".into(), trap.trap_oid.to_string().into());
    doc.insert("snmp.inform".into(), trap.inform.into());
    doc.insert("snmp.uptime_ticks".into(), trap.uptime_ticks.into());
    doc.insert("source.ip".into(), trap.peer.ip().to_string().into());
    let mut parts = Vec::new();
    for vb in &trap.varbinds {
        let value = vb
            .value
            .as_text()
            .map(Value::from)
            .or_else(|| vb.value.as_u64().map(Value::from))
            .unwrap_or(Value::Null);
        parts.push(format!("{}={}", vb.oid, value));
        doc.insert(format!("snmp.varbinds.{}", vb.oid), value);
    }
    doc.insert(
        "message".into(),
        format!(
            "{} from {} ({})",
            trap.name,
            trap.peer.ip(),
            parts.join(", ")
        )
        .into(),
    );
    let raw = serde_json::to_string(&doc).unwrap_or_default();
    Event {
        id: EventId::generate(now),
        tenant,
        time: now,
        doc,
        raw,
    }
}

//! SNMP polls: `kind = "snmp"` checks read a device's system group,
//! IF-MIB and HOST-RESOURCES-MIB every interval, as samples.
//!
//! Settings beside `target` (`host` or `host:port`, 161 by default): v2c
//! with `community` (default `public`), or v3 with `user`,
//! `auth_protocol` (`sha` or `sha256`), `auth_password` and, for authPriv,
//! `priv_password` (AES-128). Counter rates (bits per second, errors per
//! second) come from the crate's tracker, which never turns a counter wrap
//! or a reboot into a spike; it also unwraps sysUpTime, published as
//! `vigil_uptime_seconds`.

use super::Row;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use vigil_checks::NetworkPolicy;
use vigil_snmp::{AuthProtocol, Client, InterfaceRates, PrivProtocol, UsmUser};

fn text<'a>(spec: &'a Value, key: &str) -> Option<&'a str> {
    spec.get(key).and_then(Value::as_str)
}

/// The device's address: resolved once per poll, every address judged by
/// the policy; the client sends to the judged address.
async fn address(target: &str, policy: &NetworkPolicy) -> Result<SocketAddr, String> {
    let (host, port) = super::guard::split_host_port(target, 161)
        .ok_or_else(|| format!("{target:?}: bad host or port"))?;
    let found = super::guard::resolve_vetted(host, port, policy).await?;
    found
        .first()
        .copied()
        .ok_or_else(|| format!("{target} resolves to no address"))
}

async fn client(spec: &Value, timeout: Duration, policy: &NetworkPolicy) -> Result<Client, String> {
    let target = text(spec, "target").ok_or("an snmp check needs a target")?;
    let addr = address(target, policy).await?;
    // Retries share the budget: three tries of a third each (of at most
    // the longest timeout a check may have).
    let per_try = timeout.min(vigil_checks::settings::MAX_TIMEOUT) / 3;
    let result = match text(spec, "user") {
        Some(user) => {
            let auth = match text(spec, "auth_protocol").unwrap_or("sha") {
                "sha" | "sha1" => AuthProtocol::Sha1,
                "sha256" => AuthProtocol::Sha256,
                other => return Err(format!("auth_protocol {other:?}: use sha or sha256")),
            };
            let user = UsmUser {
                name: user.to_string(),
                auth,
                auth_password: text(spec, "auth_password").unwrap_or_default().to_string(),
                privacy: text(spec, "priv_password").map(|p| (PrivProtocol::Aes128, p.to_string())),
            };
            Client::v3(addr, user, per_try, 2).await
        }
        None => {
            Client::v2c(
                addr,
                text(spec, "community").unwrap_or("public"),
                per_try,
                2,
            )
            .await
        }
    };
    result.map_err(|e| e.to_string())
}

/// One poll of a device into sample rows; `rates` is this check's
/// counter memory.
pub async fn poll(
    spec: &Value,
    timeout: Duration,
    rates: &mut InterfaceRates,
    policy: &NetworkPolicy,
) -> Result<Vec<Row>, String> {
    let client = client(spec, timeout, policy).await?;
    let system = vigil_snmp::system(&client)
        .await
        .map_err(|e| e.to_string())?;
    let at = Instant::now();
    // Unwrapped: sysUpTime going round 2^32 must not read as the decrease
    // the reboot-detected rule looks for.
    let (_, uptime_seconds) = rates.observe_uptime(at, system.uptime_ticks);
    let mut rows: Vec<Row> = vec![("vigil_uptime_seconds".into(), Vec::new(), uptime_seconds)];
    match vigil_snmp::interfaces(&client).await {
        Ok(interfaces) => {
            let computed = rates.interfaces(at, &interfaces);
            for row in &interfaces {
                let labels = vec![("ifName".to_string(), row.name.clone())];
                rows.push((
                    "ifOperStatus".into(),
                    labels.clone(),
                    f64::from(row.oper_status),
                ));
                rows.push((
                    "ifAdminStatus".into(),
                    labels.clone(),
                    f64::from(row.admin_status),
                ));
                rows.push(("vigil_if_speed_bps".into(), labels, row.speed_bps as f64));
            }
            for r in computed {
                let Some(row) = interfaces.iter().find(|i| i.index == r.index) else {
                    continue;
                };
                let labels = vec![("ifName".to_string(), row.name.clone())];
                let mut push = |name: &str, value: Option<f64>| {
                    if let Some(v) = value {
                        rows.push((name.to_string(), labels.clone(), v));
                    }
                };
                push("vigil_if_in_bps", r.in_bps);
                push("vigil_if_out_bps", r.out_bps);
                push("vigil_if_in_errors_per_second", r.in_errors_per_s);
                let utilisation = match (r.in_utilisation, r.out_utilisation) {
                    (Some(a), Some(b)) => Some(a.max(b) * 100.0),
                    (a, b) => a.or(b).map(|u| u * 100.0),
                };
                push("vigil_if_utilization_percent", utilisation);
            }
        }
        Err(e) => tracing::debug!(error = %e, "no interfaces from the device"),
    }
    if let Ok(host) = vigil_snmp::host_resources(&client).await {
        for (i, load) in host.cpu_loads.iter().enumerate() {
            rows.push((
                "hrProcessorLoad".into(),
                vec![("cpu".into(), i.to_string())],
                f64::from(*load),
            ));
        }
        for storage in &host.storage {
            let labels = vec![("storage".to_string(), storage.descr.clone())];
            rows.push((
                "hrStorageUsed_bytes".into(),
                labels.clone(),
                storage.used_bytes as f64,
            ));
            rows.push((
                "hrStorageSize_bytes".into(),
                labels,
                storage.size_bytes as f64,
            ));
        }
    }
    Ok(rows)
}

//! Where a tenant's checks may connect: `[check_policy]` and each
//! tenant's own networks in `[[tenants]]`, as one [`NetworkPolicy`] per
//! tenant (the precedence is `vigil_checks::NetworkPolicy`'s, documented
//! on [`crate::config::CheckPolicyConfig`]).
//!
//! Literal addresses are judged when a check is made (a clear 400); names
//! at every run, by the checks crate, the scrape and the SNMP poll, which
//! connect to the judged address itself.

use crate::config::{CheckPolicyConfig, Config, TenantConfig};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use vigil_checks::{parse_networks, NetworkPolicy, OwnListeners};
use vigil_core::TenantId;
use vigil_store::state::StateStore;

/// Every tenant's policy; tenants not in the config get the default.
pub struct Policies {
    default: Arc<NetworkPolicy>,
    tenants: HashMap<TenantId, Arc<NetworkPolicy>>,
    own: Arc<OwnListeners>,
}

impl Policies {
    /// Checks every network of the config.
    pub fn validate(config: &Config) -> Result<(), String> {
        let own = Arc::new(OwnListeners::default());
        build(&config.check_policy, None, &own)?;
        for tenant in &config.tenants {
            build(&config.check_policy, Some(tenant), &own)?;
        }
        Ok(())
    }

    /// The policies of the config's tenants (which exist by now), Vigil's
    /// configured listeners known as its own.
    pub async fn from_config(config: &Config, state: &dyn StateStore) -> anyhow::Result<Policies> {
        let own = Arc::new(OwnListeners::new(configured_listeners(config)));
        let default =
            Arc::new(build(&config.check_policy, None, &own).map_err(anyhow::Error::msg)?);
        let mut tenants = HashMap::new();
        for tenant in &config.tenants {
            let policy =
                build(&config.check_policy, Some(tenant), &own).map_err(anyhow::Error::msg)?;
            if let Some(found) = state.tenant_by_name(tenant.name.as_str()).await? {
                tenants.insert(found.id, Arc::new(policy));
            }
        }
        Ok(Policies {
            default,
            tenants,
            own,
        })
    }

    /// The policy of `tenant`'s checks.
    pub fn of(&self, tenant: TenantId) -> Arc<NetworkPolicy> {
        self.tenants.get(&tenant).unwrap_or(&self.default).clone()
    }

    /// Vigil's own listeners: add those bound after the start (port 0).
    pub fn own_listeners(&self) -> &OwnListeners {
        &self.own
    }
}

/// The HTTP listener, the syslog inputs and the trap listeners.
fn configured_listeners(config: &Config) -> Vec<SocketAddr> {
    let syslog = config.inputs.syslog.iter().map(|i| i.listen);
    let traps = config.inputs.snmp_traps.iter().map(|t| t.listen);
    std::iter::once(config.server.listen)
        .chain(syslog)
        .chain(traps)
        .filter(|a| a.port() != 0)
        .collect()
}

fn build(
    global: &CheckPolicyConfig,
    tenant: Option<&TenantConfig>,
    own: &Arc<OwnListeners>,
) -> Result<NetworkPolicy, String> {
    let read =
        |what: &str, list: &[String]| parse_networks(list).map_err(|e| format!("{what}: {e}"));
    let mut deny = read("check_policy.deny_networks", &global.deny_networks)?;
    let mut allow = read("check_policy.allow_networks", &global.allow_networks)?;
    let mut allow_own = global.allow_own_listeners;
    if let Some(tenant) = tenant {
        let name = tenant.name.as_str();
        deny.extend(read(
            &format!("tenant {name:?}: check_deny_networks"),
            &tenant.check_deny_networks,
        )?);
        allow.extend(read(
            &format!("tenant {name:?}: check_allow_networks"),
            &tenant.check_allow_networks,
        )?);
        allow_own = tenant.check_allow_own_listeners.unwrap_or(allow_own);
    }
    Ok(NetworkPolicy::new(deny, allow)
        .with_own_listeners(own.clone())
        .allowing_own_listeners(allow_own))
}

/// Settings that are text of many lines (PEM), never sent to a target as
/// they are: line breaks and tabs are theirs, other control characters not.
const MULTI_LINE_SETTINGS: &[&str] = &["ca_pem"];

/// Refuses a check whose settings hold a control character (CR, LF, NUL,
/// any C0 or C1, DEL): a target with CR/LF would be sent as protocol lines.
pub fn refuse_control(spec: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in spec {
        let texts: Vec<&str> = match value {
            Value::String(s) => vec![s],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let bad = |text: &str| {
            if MULTI_LINE_SETTINGS.contains(&key.as_str()) {
                text.split(['\n', '\r', '\t'])
                    .any(vigil_checks::has_control)
            } else {
                vigil_checks::has_control(text)
            }
        };
        if vigil_checks::has_control(key) || texts.into_iter().any(bad) {
            let key: String = key.escape_debug().take(100).collect();
            return Err(format!(
                "{key}: has a control character (CR, LF, NUL or another): refused"
            ));
        }
    }
    Ok(())
}

/// Judges the addresses a check names as literals, for the API's 400.
pub fn judge_literals(
    kind: &str,
    spec: &Map<String, Value>,
    policy: &NetworkPolicy,
) -> Result<(), String> {
    let target = spec
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let peer = match kind {
        "snmp" => literal_peer(target, 161),
        "prometheus" => super::scrape::split_url(target)
            .ok()
            .and_then(|(authority, _)| literal_peer(&authority, 80)),
        _ => {
            let spec = super::spec::check_spec(kind, &Value::Object(spec.clone()))?;
            return spec.check_policy(policy).map_err(|e| e.to_string());
        }
    };
    match peer {
        Some(peer) => policy.check(peer).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// `host[:port]` (`[v6]:port` too) as a socket address when the host is
/// an address literal.
pub fn literal_peer(authority: &str, default_port: u16) -> Option<SocketAddr> {
    let (host, port) = split_host_port(authority, default_port)?;
    let ip = host.parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// `host[:port]`, `[v6]`, `[v6]:port` or a bare IPv6 literal into the
/// host (brackets removed) and the port.
pub fn split_host_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host, port));
    }
    if authority.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some((authority, default_port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok()?)),
        None => Some((authority, default_port)),
    }
}

/// Resolves `host:port` and judges every address; the check connects to
/// the returned addresses only (never a second lookup of the name).
pub async fn resolve_vetted(
    host: &str,
    port: u16,
    policy: &NetworkPolicy,
) -> Result<Vec<SocketAddr>, String> {
    if vigil_checks::has_control(host) {
        return Err("the host has control characters".into());
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    for addr in &addrs {
        policy.check(*addr).map_err(|e| e.to_string())?;
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn hosts_and_ports_split() {
        assert_eq!(split_host_port("a:1", 9), Some(("a", 1)));
        assert_eq!(split_host_port("a", 9), Some(("a", 9)));
        assert_eq!(split_host_port("[::1]:5", 9), Some(("::1", 5)));
        assert_eq!(split_host_port("[::1]", 9), Some(("::1", 9)));
        assert_eq!(split_host_port("::1", 9), Some(("::1", 9)));
        assert_eq!(split_host_port("a:x", 9), None);
        assert_eq!(
            literal_peer("127.0.0.1", 161),
            Some("127.0.0.1:161".parse().unwrap())
        );
    }

    #[test]
    fn literals_of_every_kind_are_judged() {
        let policy = NetworkPolicy::default();
        for (kind, spec) in [
            ("tcp", json!({"target": "127.0.0.1:22", "interval": "30s"})),
            (
                "icmp",
                json!({"target": "169.254.169.254", "interval": "30s"}),
            ),
            (
                "http",
                json!({"target": "http://[::1]:8080/", "interval": "30s"}),
            ),
            (
                "dns",
                json!({"target": "x.org", "server": "127.0.0.1:53", "interval": "30s"}),
            ),
            ("snmp", json!({"target": "[::ffff:127.0.0.1]:161"})),
            (
                "prometheus",
                json!({"target": "http://169.254.169.254/latest"}),
            ),
        ] {
            let err = judge_literals(kind, &map(spec), &policy).unwrap_err();
            assert!(err.contains("denied network"), "{kind}: {err}");
        }
        let fine = json!({"target": "http://192.0.2.1:9100/metrics"});
        assert_eq!(judge_literals("prometheus", &map(fine), &policy), Ok(()));
        let name = json!({"target": "localhost:22", "interval": "30s"});
        assert_eq!(
            judge_literals("tcp", &map(name), &policy),
            Ok(()),
            "names are judged at run time"
        );
    }

    #[test]
    fn control_characters_anywhere_are_refused() {
        let bad = json!({"target": "http://h/metrics\r\nX-Injected: 1"});
        let err = refuse_control(&map(bad)).unwrap_err();
        assert!(err.starts_with("target: has a control character"), "{err}");
        assert!(refuse_control(&map(json!({"expect": ["a\u{0}"]}))).is_err());
        assert!(refuse_control(&map(json!({"target": "h\u{85}"}))).is_err());
        assert_eq!(
            refuse_control(&map(json!({"target": "h", "port": 1}))),
            Ok(())
        );
    }

    /// PEM text is lines: its breaks are fine, a NUL in it is not, and the
    /// exception is for that setting only.
    #[test]
    fn pem_text_keeps_its_line_breaks() {
        let pem = "-----BEGIN CERTIFICATE-----\r\nMIIB\tAA==\n-----END CERTIFICATE-----\n";
        assert_eq!(refuse_control(&map(json!({"ca_pem": pem}))), Ok(()));
        assert!(refuse_control(&map(json!({"ca_pem": "MIIB\u{0}\n"}))).is_err());
        assert!(refuse_control(&map(json!({"target": pem}))).is_err());
    }

    #[tokio::test]
    async fn a_name_is_judged_by_every_address() {
        let err = resolve_vetted("localhost", 80, &NetworkPolicy::default())
            .await
            .unwrap_err();
        assert!(err.contains("denied network (loopback)"), "{err}");
        let allowed = NetworkPolicy::permissive();
        assert!(resolve_vetted("localhost", 80, &allowed).await.is_ok());
    }
}

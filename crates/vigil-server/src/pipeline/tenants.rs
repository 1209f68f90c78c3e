//! Which tenant a syslog message belongs to.
//!
//! In order: the listener's own tenant (a port per tenant), the sender's
//! TLS client certificate, then the sender's address (the most specific
//! CIDR block wins). A message that maps to none goes to quarantine, with
//! the reason, for the MSP admin to see: never dropped in silence.

use crate::config::Config;
use crate::inputs::InboundMessage;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use vigil_core::TenantId;
use vigil_store::state::StateStore;

/// The tenant id under which quarantined messages are stored. Tenant ids
/// start at 1, so no tenant ever has it.
pub const QUARANTINE: TenantId = TenantId(0);

/// An address block: `192.0.2.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            // A v4 sender on a dual-stack socket arrives as ::ffff:a.b.c.d.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Tenant(TenantId),
    Quarantine(String),
}

pub struct TenantRouter {
    /// Per listener index: the tenant named on it.
    listeners: Vec<Option<String>>,
    /// Certificate identity → tenant name.
    by_cert: HashMap<String, String>,
    /// Most specific block first.
    by_source: Vec<(Cidr, String)>,
    ids: RwLock<HashMap<String, TenantId>>,
    state: Arc<dyn StateStore>,
}

impl TenantRouter {
    pub fn new(config: &Config, state: Arc<dyn StateStore>) -> TenantRouter {
        let mut by_cert = HashMap::new();
        let mut by_source = Vec::new();
        for tenant in &config.tenants {
            for name in &tenant.client_certs {
                by_cert.insert(name.clone(), tenant.name.as_str().to_string());
            }
            for source in &tenant.sources {
                // Checked when the config was read.
                if let Ok(cidr) = Cidr::parse(source) {
                    by_source.push((cidr, tenant.name.as_str().to_string()));
                }
            }
        }
        by_source.sort_by_key(|(cidr, _)| std::cmp::Reverse(cidr.prefix));
        TenantRouter {
            listeners: config
                .inputs
                .syslog
                .iter()
                .map(|i| i.tenant.clone())
                .collect(),
            by_cert,
            by_source,
            ids: RwLock::new(HashMap::new()),
            state,
        }
    }

    /// The tenant name a message maps to, and by what.
    fn name_of(&self, message: &InboundMessage) -> Option<(&str, &'static str)> {
        if let Some(Some(name)) = self.listeners.get(message.listener) {
            return Some((name, "listener"));
        }
        if let Some(names) = &message.client_names {
            if let Some(tenant) = names.iter().find_map(|n| self.by_cert.get(n)) {
                return Some((tenant, "certificate"));
            }
        }
        let ip = message.peer.ip();
        self.by_source
            .iter()
            .find(|(cidr, _)| cidr.contains(ip))
            .map(|(_, name)| (name.as_str(), "source address"))
    }

    pub async fn route(&self, message: &InboundMessage) -> Route {
        let Some((name, by)) = self.name_of(message) else {
            return Route::Quarantine(format!(
                "no tenant for sender {} (no listener tenant, certificate or source block matches)",
                message.peer.ip()
            ));
        };
        match self.id_of(name).await {
            Some(id) => Route::Tenant(id),
            None => Route::Quarantine(format!(
                "the {by} names tenant {name:?}, which does not exist"
            )),
        }
    }

    async fn id_of(&self, name: &str) -> Option<TenantId> {
        let cached = self.ids.read().ok().and_then(|ids| ids.get(name).copied());
        if cached.is_some() {
            return cached;
        }
        let tenant = self.state.tenant_by_name(name).await.ok().flatten()?;
        if let Ok(mut ids) = self.ids.write() {
            ids.insert(name.to_string(), tenant.id);
        }
        Some(tenant.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn cidr_blocks_contain_their_addresses() {
        let net = Cidr::parse("192.0.2.0/24").expect("parse");
        assert!(net.contains(ip("192.0.2.200")));
        assert!(!net.contains(ip("192.0.3.1")));
        assert!(net.contains(ip("::ffff:192.0.2.7")), "v4-mapped v6");
        let one = Cidr::parse("198.51.100.7").expect("parse");
        assert!(one.contains(ip("198.51.100.7")) && !one.contains(ip("198.51.100.8")));
        let all = Cidr::parse("0.0.0.0/0").expect("parse");
        assert!(all.contains(ip("203.0.113.9")));
        let v6 = Cidr::parse("2001:db8::/32").expect("parse");
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("192.0.2.1")));
    }

    #[test]
    fn bad_blocks_are_refused_with_a_reason() {
        for bad in ["192.0.2.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            let err = Cidr::parse(bad).expect_err(bad);
            assert!(err.contains(bad.split('/').next().unwrap_or(bad)), "{err}");
        }
    }
}

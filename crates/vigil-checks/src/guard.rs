//! The network policy of checks: which addresses a tenant's checks may
//! connect to.
//!
//! Checks are outbound probes of client networks, run from the MSP's own
//! host. Without a policy, a tenant could point one at Vigil's host
//! (loopback, its own listeners) or at the cloud's metadata service and
//! read what answers. So every address a check connects to — a literal, or
//! each address a name resolves to, for each connection — passes
//! [`NetworkPolicy::check`] first, and the check connects to that vetted
//! address itself (never a second lookup of the name).
//!
//! # Precedence
//!
//! An address is first read as what it reaches: an IPv4-mapped
//! (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`), IPv4-translated,
//! NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) IPv6 address is judged as
//! its IPv4 address too, and both forms must pass. Then, in order:
//!
//! 1. an explicitly denied network (the policy's `deny`) refuses;
//! 2. one of Vigil's own listeners (address and port; a wildcard bind
//!    covers every local address) refuses, unless own listeners are
//!    explicitly allowed;
//! 3. an explicitly allowed network (`allow`) admits — this is how the
//!    MSP re-opens a default-denied range such as loopback for a tenant;
//! 4. a default-denied range ([`Reserved`]) refuses: loopback,
//!    unspecified, link-local, cloud metadata addresses, multicast and
//!    broadcast;
//! 5. anything else is admitted.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// An IP network: an address and a prefix length (`10.0.0.0/8`,
/// `fd00::/8`); a bare address is the network of that address alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0:?} is not an address or address/length")]
    Syntax(String),
    #[error("network {text:?}: the prefix length is more than {max}")]
    Length { text: String, max: u8 },
}

impl Network {
    /// `addr/len`; bits of `addr` past `len` are ignored.
    pub fn new(addr: IpAddr, len: u8) -> Result<Network, NetworkError> {
        let max = bits(addr);
        if len > max {
            return Err(NetworkError::Length {
                text: format!("{addr}/{len}"),
                max,
            });
        }
        Ok(Network { addr, len })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), 32, self.len)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.len)
            }
            _ => false,
        }
    }
}

fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// Whether the first `len` of `width` bits of `a` and `b` are equal.
fn prefix_eq(a: u128, b: u128, width: u8, len: u8) -> bool {
    if len == 0 {
        return true;
    }
    let shift = u32::from(width - len.min(width));
    (a >> shift) == (b >> shift)
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Network, NetworkError> {
        let syntax = || NetworkError::Syntax(text.to_owned());
        let trimmed = text.trim();
        let (addr, len) = match trimmed.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (trimmed, None),
        };
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        let addr: IpAddr = addr.parse().map_err(|_| syntax())?;
        let len = match len {
            None => bits(addr),
            Some(len)
                if !len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit()) =>
            {
                len.parse().map_err(|_| syntax())?
            }
            Some(_) => return Err(syntax()),
        };
        Network::new(addr, len).map_err(|_| NetworkError::Length {
            text: text.to_owned(),
            max: bits(addr),
        })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Reads a list of networks, naming the first bad one.
pub fn parse_networks<S: AsRef<str>>(list: &[S]) -> Result<Vec<Network>, NetworkError> {
    list.iter().map(|s| s.as_ref().parse()).collect()
}

/// The ranges denied unless the MSP allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    Loopback,
    Unspecified,
    LinkLocal,
    Metadata,
    Multicast,
    Broadcast,
}

impl Reserved {
    /// The default-denied range `ip` is in, if any. Metadata first: those
    /// addresses are in other ranges too, and the name says more.
    pub fn of(ip: IpAddr) -> Option<Reserved> {
        if is_metadata(ip) {
            return Some(Reserved::Metadata);
        }
        match ip {
            IpAddr::V4(ip) => reserved_v4(ip),
            IpAddr::V6(ip) => reserved_v6(ip),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reserved::Loopback => "loopback",
            Reserved::Unspecified => "unspecified",
            Reserved::LinkLocal => "link-local",
            Reserved::Metadata => "cloud metadata",
            Reserved::Multicast => "multicast",
            Reserved::Broadcast => "broadcast",
        }
    }
}

fn reserved_v4(ip: Ipv4Addr) -> Option<Reserved> {
    let first = ip.octets()[0];
    if first == 127 {
        Some(Reserved::Loopback)
    } else if first == 0 {
        Some(Reserved::Unspecified)
    } else if ip.is_link_local() {
        Some(Reserved::LinkLocal)
    } else if ip.is_multicast() {
        Some(Reserved::Multicast)
    } else if ip.is_broadcast() {
        Some(Reserved::Broadcast)
    } else {
        None
    }
}

fn reserved_v6(ip: Ipv6Addr) -> Option<Reserved> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(Reserved::Loopback)
    } else if ip.is_unspecified() {
        Some(Reserved::Unspecified)
    } else if first & 0xffc0 == 0xfe80 {
        Some(Reserved::LinkLocal)
    } else if ip.is_multicast() {
        Some(Reserved::Multicast)
    } else {
        None
    }
}

/// Cloud instance metadata services: AWS, GCP, Azure, OpenStack and
/// DigitalOcean (169.254.169.254; AWS's IPv6 fd00:ec2::254 and its other
/// services in fd00:ec2::/64, ECS task metadata 169.254.170.2), Alibaba
/// (100.100.100.200), Oracle (192.0.0.192).
fn is_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => [
            Ipv4Addr::new(169, 254, 169, 254),
            Ipv4Addr::new(169, 254, 170, 2),
            Ipv4Addr::new(100, 100, 100, 200),
            Ipv4Addr::new(192, 0, 0, 192),
        ]
        .contains(&ip),
        IpAddr::V6(ip) => ip.segments()[..4] == [0xfd00, 0x0ec2, 0, 0],
    }
}

/// The IPv4 address an IPv6 address carries and reaches: mapped
/// (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`, not `::` or `::1`),
/// translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4
/// (`2002:aabb:ccdd::/48`).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

/// The forms of an address that are judged: itself, and the IPv4 address
/// it carries.
fn forms(ip: IpAddr) -> impl Iterator<Item = IpAddr> {
    let embedded = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    std::iter::once(ip).chain(embedded)
}

/// Why an address was refused. The text is for the caller who made the
/// check: it names the address and the reason, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("target {ip} is in a denied network ({}); the MSP can allow it in the config", .range.as_str())]
    Reserved { ip: IpAddr, range: Reserved },
    #[error("target {ip} is in a network denied by the config ({network})")]
    Configured { ip: IpAddr, network: Network },
    #[error("target {addr} is one of Vigil's own listeners; the MSP can allow it in the config")]
    OwnListener { addr: SocketAddr },
}

/// The addresses Vigil itself listens on (its HTTP API, syslog inputs,
/// trap listeners), shared by every policy and set once they are bound.
#[derive(Debug, Default)]
pub struct OwnListeners(RwLock<Vec<SocketAddr>>);

impl OwnListeners {
    pub fn new(addrs: Vec<SocketAddr>) -> OwnListeners {
        OwnListeners(RwLock::new(addrs))
    }

    /// Adds listeners (bound later than the policy was made, e.g. port 0).
    pub fn add(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        let mut list = self.0.write().unwrap_or_else(|p| p.into_inner());
        for addr in addrs {
            if !list.contains(&addr) {
                list.push(addr);
            }
        }
    }

    /// The listener `target` would reach, if any. A wildcard bind reaches
    /// every local address on its port; `is_local` says which those are.
    fn reached(&self, target: SocketAddr, is_local: &dyn Fn(IpAddr) -> bool) -> bool {
        let list = self.0.read().unwrap_or_else(|p| p.into_inner());
        let ip = canonical(target.ip());
        list.iter().filter(|l| l.port() == target.port()).any(|l| {
            let bound = canonical(l.ip());
            bound == ip || ip.is_unspecified() || (bound.is_unspecified() && is_local(ip))
        })
    }
}

/// An IPv4-mapped address as its IPv4 address (what a socket reaches).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Which addresses a tenant's checks may connect to (see the module's
/// precedence). The default denies the [`Reserved`] ranges and nothing
/// else; Vigil's own listeners are known once [`Self::with_own_listeners`]
/// shares them.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    deny: Vec<Network>,
    allow: Vec<Network>,
    allow_own_listeners: bool,
    own: Arc<OwnListeners>,
}

impl NetworkPolicy {
    pub fn new(deny: Vec<Network>, allow: Vec<Network>) -> NetworkPolicy {
        NetworkPolicy {
            deny,
            allow,
            ..NetworkPolicy::default()
        }
    }

    /// Everything allowed: for tests and benchmarks against loopback
    /// peers, never for a tenant.
    pub fn permissive() -> NetworkPolicy {
        let all = |ip: IpAddr| Network { addr: ip, len: 0 };
        NetworkPolicy {
            allow: vec![
                all(Ipv4Addr::UNSPECIFIED.into()),
                all(Ipv6Addr::UNSPECIFIED.into()),
            ],
            allow_own_listeners: true,
            ..NetworkPolicy::default()
        }
    }

    pub fn with_own_listeners(mut self, own: Arc<OwnListeners>) -> NetworkPolicy {
        self.own = own;
        self
    }

    pub fn allowing_own_listeners(mut self, allow: bool) -> NetworkPolicy {
        self.allow_own_listeners = allow;
        self
    }

    /// Judges an address without a port (an ICMP target, a literal whose
    /// port is not known): every rule but the own listeners.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Denial> {
        forms(ip).try_for_each(|form| self.judge(ip, form))
    }

    /// Judges a connection to `addr`, local addresses found by the system.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Denial> {
        self.check_with(addr, &is_local_address)
    }

    /// Judges a connection to `addr`; `is_local` says whether an address
    /// is one of this host's (for listeners bound to a wildcard).
    pub fn check_with(
        &self,
        addr: SocketAddr,
        is_local: &dyn Fn(IpAddr) -> bool,
    ) -> Result<(), Denial> {
        let ip = addr.ip();
        if let Some(network) = forms(ip).find_map(|f| self.deny.iter().find(|n| n.contains(f))) {
            return Err(Denial::Configured {
                ip,
                network: *network,
            });
        }
        if !self.allow_own_listeners && self.own.reached(addr, is_local) {
            return Err(Denial::OwnListener { addr });
        }
        self.check_ip(ip)
    }

    /// Rules 1, 3 and 4 for one form of `ip`.
    fn judge(&self, ip: IpAddr, form: IpAddr) -> Result<(), Denial> {
        if let Some(network) = self.deny.iter().find(|n| n.contains(form)) {
            return Err(Denial::Configured {
                ip,
                network: *network,
            });
        }
        if self.allow.iter().any(|n| n.contains(form)) {
            return Ok(());
        }
        match Reserved::of(form) {
            Some(range) => Err(Denial::Reserved { ip, range }),
            None => Ok(()),
        }
    }
}

/// Whether `ip` is an address of this host: binding to it works only
/// then. Asked only for a port a wildcard listener of Vigil uses.
pub fn is_local_address(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Whether `text` holds a control character (C0, DEL or C1): such a
/// character has no place in a host, URL, name or header, and CR/LF in one
/// would inject protocol lines.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn sock(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<Network> {
        parse_networks(list).unwrap()
    }

    fn never_local(_: IpAddr) -> bool {
        false
    }

    #[test]
    fn default_denies_the_reserved_ranges() {
        let policy = NetworkPolicy::default();
        for (addr, range) in [
            ("127.0.0.1", Reserved::Loopback),
            ("127.255.0.9", Reserved::Loopback),
            ("::1", Reserved::Loopback),
            ("0.0.0.0", Reserved::Unspecified),
            ("0.1.2.3", Reserved::Unspecified),
            ("::", Reserved::Unspecified),
            ("169.254.1.1", Reserved::LinkLocal),
            ("fe80::1", Reserved::LinkLocal),
            ("febf::1", Reserved::LinkLocal),
            ("169.254.169.254", Reserved::Metadata),
            ("169.254.170.2", Reserved::Metadata),
            ("100.100.100.200", Reserved::Metadata),
            ("192.0.0.192", Reserved::Metadata),
            ("fd00:ec2::254", Reserved::Metadata),
            ("224.0.0.1", Reserved::Multicast),
            ("ff02::1", Reserved::Multicast),
            ("255.255.255.255", Reserved::Broadcast),
        ] {
            assert_eq!(
                policy.check_ip(ip(addr)),
                Err(Denial::Reserved {
                    ip: ip(addr),
                    range
                }),
                "{addr}"
            );
        }
        for fine in ["192.0.2.1", "10.0.0.1", "2001:db8::1", "100.100.100.201"] {
            assert_eq!(policy.check_ip(ip(fine)), Ok(()), "{fine}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_as_ipv4() {
        let policy = NetworkPolicy::default();
        for addr in [
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
        ] {
            assert!(policy.check_ip(ip(addr)).is_err(), "{addr}");
        }
        assert_eq!(policy.check_ip(ip("::ffff:192.0.2.1")), Ok(()));
        let denied = NetworkPolicy::new(nets(&["10.0.0.0/8"]), Vec::new());
        assert!(denied.check_ip(ip("::ffff:10.1.2.3")).is_err());
        assert!(denied.check(sock("[::ffff:10.1.2.3]:80")).is_err());
    }

    #[test]
    fn the_message_names_address_range_and_remedy() {
        let error = NetworkPolicy::default()
            .check_ip(ip("127.0.0.1"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "target 127.0.0.1 is in a denied network (loopback); the MSP can allow it in the config"
        );
    }

    #[test]
    fn an_allow_reopens_and_an_explicit_deny_wins() {
        let policy = NetworkPolicy::new(
            nets(&["127.0.0.5", "10.0.0.0/8"]),
            nets(&["127.0.0.0/8", "::1", "10.1.0.0/16"]),
        );
        assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check_ip(ip("::1")), Ok(()));
        assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
        assert!(matches!(
            policy.check_ip(ip("127.0.0.5")),
            Err(Denial::Configured { .. })
        ));
        assert!(
            policy.check_ip(ip("10.1.2.3")).is_err(),
            "deny wins over allow"
        );
        assert!(policy.check_ip(ip("169.254.169.254")).is_err());
    }

    #[test]
    fn own_listeners_stay_denied_unless_allowed_explicitly() {
        let own = Arc::new(OwnListeners::new(vec![
            sock("127.0.0.1:8080"),
            sock("0.0.0.0:514"),
            sock("[::]:162"),
        ]));
        let policy = NetworkPolicy::new(Vec::new(), nets(&["0.0.0.0/0", "::/0"]))
            .with_own_listeners(own.clone());
        let local = |ip: IpAddr| ip == "192.0.2.7".parse::<IpAddr>().unwrap() || ip.is_loopback();
        let judge = |addr: &str| policy.check_with(sock(addr), &local);
        assert!(matches!(
            judge("127.0.0.1:8080"),
            Err(Denial::OwnListener { .. })
        ));
        assert!(judge("[::ffff:127.0.0.1]:8080").is_err());
        assert!(judge("0.0.0.0:8080").is_err(), "unspecified reaches us");
        assert_eq!(judge("127.0.0.1:8081"), Ok(()));
        assert!(judge("192.0.2.7:514").is_err(), "wildcard: a local address");
        assert!(judge("127.0.0.9:514").is_err());
        assert_eq!(judge("192.0.2.8:514"), Ok(()), "not ours");
        assert!(judge("192.0.2.7:162").is_err(), "[::] takes IPv4 too");
        own.add([sock("127.0.0.1:9000")]);
        assert!(judge("127.0.0.1:9000").is_err(), "added after the start");
        let allowed = policy.clone().allowing_own_listeners(true);
        assert_eq!(allowed.check_with(sock("127.0.0.1:8080"), &local), Ok(()));
    }

    #[test]
    fn permissive_allows_everything() {
        let policy = NetworkPolicy::permissive()
            .with_own_listeners(Arc::new(OwnListeners::new(vec![sock("127.0.0.1:1")])));
        for addr in [
            "127.0.0.1:1",
            "[::1]:80",
            "169.254.169.254:80",
            "[fe80::1]:1",
        ] {
            assert_eq!(
                policy.check_with(sock(addr), &never_local),
                Ok(()),
                "{addr}"
            );
        }
    }

    #[test]
    fn networks_parse_and_say_what_is_wrong() {
        assert_eq!(
            "10.0.0.0/8".parse::<Network>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<Network>().unwrap().to_string(), "::1/128");
        assert_eq!(
            "[::1]/128".parse::<Network>().unwrap().to_string(),
            "::1/128"
        );
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "x/8",
            "10.0.0.0/+8",
            "::/129",
            "1.2.3.4/0008",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad:?}");
        }
        let error = parse_networks(&["10.0.0.0/8", "nope"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "network \"nope\" is not an address or address/length"
        );
    }

    #[test]
    fn control_characters_are_found() {
        for bad in ["a\rb", "a\nb", "\0", "\u{7f}", "\u{85}", "\u{9b}", "\t"] {
            assert!(has_control(bad), "{bad:?}");
        }
        assert!(!has_control("http://example.org/a?b=c d"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_ip() -> impl Strategy<Value = IpAddr> {
            prop_oneof![
                any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
                any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
            ]
        }

        proptest! {
            #[test]
            fn a_network_contains_its_own_address(addr in any_ip(), len in 0u8..=128) {
                let len = len.min(bits(addr));
                let network = Network::new(addr, len).unwrap();
                prop_assert!(network.contains(addr));
                let back: Network = network.to_string().parse().unwrap();
                prop_assert_eq!(back, network);
            }

            #[test]
            fn every_loopback_form_is_denied_by_default(host in any::<u32>(), port in 1u16..) {
                let v4 = Ipv4Addr::from(0x7f00_0000 | (host & 0x00ff_ffff));
                let policy = NetworkPolicy::default();
                for form in [IpAddr::V4(v4), IpAddr::V6(v4.to_ipv6_mapped()), IpAddr::V6(v4.to_ipv6_compatible())] {
                    prop_assert!(policy.check_with(SocketAddr::new(form, port), &never_local).is_err());
                }
            }

            #[test]
            fn an_explicit_deny_always_wins(addr in any_ip(), port in 1u16..) {
                let policy = NetworkPolicy::permissive();
                let policy = NetworkPolicy::new(vec![Network::new(addr, bits(addr)).unwrap()], policy.allow.clone())
                    .allowing_own_listeners(true);
                prop_assert!(policy.check_with(SocketAddr::new(addr, port), &never_local).is_err());
            }

            #[test]
            fn parsing_never_panics(text in "\\PC{0,40}") {
                let _ = text.parse::<Network>();
            }

            #[test]
            fn the_default_admits_only_unreserved_addresses(addr in any_ip()) {
                let reserved = forms(addr).any(|f| Reserved::of(f).is_some());
                prop_assert_eq!(NetworkPolicy::default().check_ip(addr).is_err(), reserved);
            }
        }
    }
}

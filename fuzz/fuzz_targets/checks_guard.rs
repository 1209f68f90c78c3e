//! The checks' network policy and URL parser on arbitrary input: network
//! lists (`10.0.0.0/8`) never panic and read back as written; a URL that
//! parses has no control character left to send; no form of a loopback or
//! metadata address (IPv4-mapped, -compatible, NAT64, 6to4) gets past the
//! default policy.

#![no_main]

#[path = "../../crates/vigil-checks/src/guard.rs"]
#[allow(dead_code)]
mod guard;

#[path = "../../crates/vigil-checks/src/http/url.rs"]
#[allow(dead_code)]
mod url;

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(network) = text.parse::<guard::Network>() {
            let back: guard::Network = network.to_string().parse().expect("reads back");
            assert_eq!(back, network);
        }
        if let Ok(url) = url::Url::parse(text) {
            assert!(!guard::has_control(&url.host) && !guard::has_control(&url.path));
        }
    }
    let Some((addr, port)) = data.split_first_chunk::<16>() else {
        return;
    };
    let ip = Ipv6Addr::from(*addr);
    let port = port
        .first_chunk::<2>()
        .map_or(80, |p| u16::from_be_bytes(*p));
    let policy = guard::NetworkPolicy::default();
    let target = SocketAddr::new(IpAddr::V6(ip), port);
    let allowed = policy.check_with(target, &|_| false).is_ok();
    let reserved = |ip: IpAddr| guard::Reserved::of(ip).is_some();
    let embedded = guard::embedded_v4(ip).map(IpAddr::V4);
    if reserved(IpAddr::V6(ip)) || embedded.is_some_and(reserved) {
        assert!(!allowed, "{target} passed the default policy");
    }
});

//! The TCP check, and the resolving and connecting the HTTP check shares.

use crate::guard::NetworkPolicy;
use crate::reason::Failure;
use crate::run::{Attempt, Budget};
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Up when `host:port` accepts a connection; the latency is the connect.
pub(crate) async fn check(
    host: &str,
    port: u16,
    policy: &NetworkPolicy,
    budget: Budget,
) -> Attempt {
    let addrs = match resolve(host, port, policy, budget).await {
        Ok(addrs) => addrs,
        Err(failure) => return Attempt::failed(failure),
    };
    let start = Instant::now();
    match connect(&addrs, policy, budget).await {
        Ok(_) => Attempt {
            latency: Some(start.elapsed()),
            ..Attempt::default()
        },
        Err(failure) => Attempt::failed(failure),
    }
}

/// An address literal needs no lookup (the common case, and the one that
/// must not touch the blocking pool); a name is resolved by the system.
/// Every address found must pass the policy: a name that points into a
/// denied network (also next to allowed ones: DNS rebinding) is down.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    policy: &NetworkPolicy,
    budget: Budget,
) -> Result<Vec<SocketAddr>, Failure> {
    let addrs = lookup(host, port, budget).await?;
    vet(&addrs, policy)?;
    Ok(addrs)
}

/// Refuses the addresses if one of them is denied, saying why.
pub(crate) fn vet(addrs: &[SocketAddr], policy: &NetworkPolicy) -> Result<(), Failure> {
    for addr in addrs {
        let judged = if addr.port() == 0 {
            policy.check_ip(addr.ip())
        } else {
            policy.check(*addr)
        };
        judged.map_err(|denial| Failure::down(denial.to_string()))?;
    }
    Ok(())
}

async fn lookup(host: &str, port: u16, budget: Budget) -> Result<Vec<SocketAddr>, Failure> {
    if crate::guard::has_control(host) {
        return Err(Failure::error("the host has control characters"));
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Failure::error(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Failure::error(format!("{host} has no address")));
        }
        Ok(addrs)
    };
    budget.within(AddressOf(host), lookup).await
}

/// Tries each address in turn; the failure is the last one's. The
/// addresses are judged again here, the one place every TCP connection of
/// a check passes (the connection is to the judged address itself).
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    policy: &NetworkPolicy,
    budget: Budget,
) -> Result<TcpStream, Failure> {
    vet(addrs, policy)?;
    let mut failure = Failure::error("no address to connect to");
    for addr in addrs {
        let attempt = async {
            TcpStream::connect(addr)
                .await
                .map_err(|e| Failure::io(&e, &format!("connecting to {addr}")))
        };
        match budget.within(ConnectionTo(addr), attempt).await {
            Ok(stream) => return Ok(stream),
            Err(e) => failure = e,
        }
    }
    Err(failure)
}

/// What a resolution or a connect waits for, formatted only if it times out.
struct AddressOf<'a>(&'a str);
struct ConnectionTo<'a>(&'a SocketAddr);

impl std::fmt::Display for AddressOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the address of {}", self.0)
    }
}

impl std::fmt::Display for ConnectionTo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a connection to {}", self.0)
    }
}

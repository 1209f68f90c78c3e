//! The ICMP check: a burst of echo requests, their round trips and loss.
//!
//! An unprivileged ping socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed when
//! `net.ipv4.ping_group_range` holds the process's group) is tried first;
//! a raw socket (needs `CAP_NET_RAW`) otherwise. A ping socket gets only
//! its own replies, ICMP header first, and the kernel sets the identifier;
//! a raw socket gets every ICMP packet to the host, IP header first. So
//! replies are matched on a random token in the payload, which both kinds
//! of socket carry back, and on the sequence number.
//!
//! The socket is driven through tokio's `UdpSocket`: its `send` and `recv`
//! are the plain system calls, which is all a connected ICMP socket needs,
//! and it spares the `unsafe` registration of a raw descriptor.
//!
//! IPv4 only for now.

use crate::guard::NetworkPolicy;
use crate::reason::Failure;
use crate::run::{Attempt, Budget};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const HEADER: usize = 8;
const TOKEN: usize = 8;

pub(crate) async fn check(
    host: &str,
    count: u16,
    interval: Duration,
    policy: &NetworkPolicy,
    budget: Budget,
) -> Attempt {
    if count == 0 {
        return Attempt::failed(Failure::error("an ICMP check of 0 pings"));
    }
    match ping(host, count, interval, policy, budget).await {
        Ok(burst) => burst.into_attempt(count),
        Err(failure) => Attempt::failed(failure),
    }
}

/// Round trips by sequence number; `None` for no reply (yet).
struct Burst {
    rtts: Vec<Option<Duration>>,
}

impl Burst {
    fn into_attempt(self, count: u16) -> Attempt {
        let got: Vec<Duration> = self.rtts.iter().flatten().copied().collect();
        let loss = 1.0 - got.len() as f64 / f64::from(count);
        let mut values = vec![("vigil_icmp_loss_ratio", loss)];
        let Some(&min) = got.iter().min() else {
            let pings = if count == 1 { "ping" } else { "pings" };
            let mut attempt =
                Attempt::failed(Failure::down(format!("no reply to {count} {pings}")));
            attempt.values = values;
            return attempt;
        };
        let max = got.iter().max().copied().unwrap_or(min);
        let avg = got.iter().sum::<Duration>() / got.len() as u32;
        values.extend([
            ("vigil_icmp_rtt_seconds", avg.as_secs_f64()),
            ("vigil_icmp_rtt_min_seconds", min.as_secs_f64()),
            ("vigil_icmp_rtt_max_seconds", max.as_secs_f64()),
        ]);
        Attempt {
            outcome: None,
            latency: Some(avg),
            values,
        }
    }
}

async fn ping(
    host: &str,
    count: u16,
    interval: Duration,
    policy: &NetworkPolicy,
    budget: Budget,
) -> Result<Burst, Failure> {
    // Port 0: judged as an address alone (no listener to compare with).
    let addrs = crate::tcp::resolve(host, 0, policy, budget).await?;
    let Some(target) = addrs.iter().find(|a| a.is_ipv4()).copied() else {
        return Err(Failure::error(format!(
            "{host} has no IPv4 address (ICMP checks are IPv4 only)"
        )));
    };
    let socket = open(target)?;
    let token: [u8; TOKEN] = rand::random();
    let mut burst = Burst {
        rtts: vec![None; usize::from(count)],
    };
    let mut sent: Vec<Instant> = Vec::with_capacity(usize::from(count));
    let mut next_send = Instant::now();
    let mut buffer = [0u8; 1500];
    while burst.rtts.iter().any(Option::is_none) {
        let sending = sent.len() < usize::from(count);
        tokio::select! {
            _ = tokio::time::sleep_until(next_send), if sending => {
                let seq = sent.len() as u16;
                socket
                    .send(&echo_request(seq, &token))
                    .await
                    .map_err(|e| Failure::io(&e, "sending a ping"))?;
                sent.push(Instant::now());
                next_send += interval;
            }
            received = socket.recv(&mut buffer) => {
                let n = received.map_err(|e| Failure::io(&e, "waiting for a ping reply"))?;
                let now = Instant::now();
                if let Some(seq) = reply_seq(&buffer[..n], &token) {
                    if let (Some(slot), Some(at)) = (burst.rtts.get_mut(usize::from(seq)), sent.get(usize::from(seq))) {
                        slot.get_or_insert(now - *at);
                    }
                }
            }
            _ = tokio::time::sleep_until(budget.deadline) => break,
        }
    }
    Ok(burst)
}

fn open(target: SocketAddr) -> Result<UdpSocket, Failure> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))
        .or_else(|_| Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)))
        .map_err(|e| {
            Failure::error(format!(
                "cannot open an ICMP socket ({e}): allow unprivileged ping with \
                 net.ipv4.ping_group_range or give Vigil CAP_NET_RAW"
            ))
        })?;
    let setup = || -> std::io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        socket.connect(&SockAddr::from(target))?;
        UdpSocket::from_std(socket.into())
    };
    setup().map_err(|e| Failure::io(&e, &format!("opening an ICMP socket to {}", target.ip())))
}

fn echo_request(seq: u16, token: &[u8; TOKEN]) -> Vec<u8> {
    let mut packet = vec![ECHO_REQUEST, 0, 0, 0];
    packet.extend_from_slice(&rand::random::<u16>().to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(token);
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// The sequence number of an echo reply carrying `token`, with or without
/// an IPv4 header in front (raw or ping socket).
fn reply_seq(packet: &[u8], token: &[u8; TOKEN]) -> Option<u16> {
    let icmp = match packet.first() {
        Some(&b) if b >> 4 == 4 => packet.get(usize::from(b & 0x0f) * 4..)?,
        _ => packet,
    };
    if icmp.first() != Some(&ECHO_REPLY) || icmp.get(HEADER..HEADER + TOKEN)? != token {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_and_matches_replies() {
        let token = [1, 2, 3, 4, 5, 6, 7, 8];
        let request = echo_request(3, &token);
        assert_eq!(
            checksum(&request),
            0,
            "a packet with its checksum sums to zero"
        );
        let mut reply = request.clone();
        reply[0] = ECHO_REPLY;
        assert_eq!(reply_seq(&reply, &token), Some(3));
        let mut with_ip = vec![0x45; 20];
        with_ip.extend_from_slice(&reply);
        assert_eq!(reply_seq(&with_ip, &token), Some(3));
        assert_eq!(reply_seq(&request, &token), None, "our own request on raw");
        assert_eq!(reply_seq(&reply, &[0; 8]), None, "another process's reply");
        assert_eq!(reply_seq(&reply[..10], &token), None);
        assert_eq!(reply_seq(&[0x4f], &token), None);
    }
}

#[cfg(test)]
mod loopback {
    use super::*;
    use crate::{run_check, CheckKind, CheckSpec, CheckState};

    fn icmp_socket_error() -> Option<std::io::Error> {
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))
            .or_else(|_| Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)))
            .err()
    }

    #[tokio::test]
    async fn pings_loopback() {
        if let Some(e) = icmp_socket_error() {
            println!("skipped: no ICMP socket here ({e})");
            return;
        }
        let spec = CheckSpec {
            kind: CheckKind::Icmp {
                count: 5,
                interval: Duration::from_millis(20),
            },
            target: "127.0.0.1".into(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            retries: 0,
        };
        let result = run_check(&spec, &crate::NetworkPolicy::permissive()).await;
        assert_eq!(result.state, CheckState::Up, "{result:?}");
        assert_eq!(result.sample("vigil_icmp_loss_ratio"), Some(0.0));
        let (min, avg, max) = (
            result.sample("vigil_icmp_rtt_min_seconds").unwrap(),
            result.sample("vigil_icmp_rtt_seconds").unwrap(),
            result.sample("vigil_icmp_rtt_max_seconds").unwrap(),
        );
        assert!(
            0.0 < min && min <= avg && avg <= max && max < 0.5,
            "{min} {avg} {max}"
        );
    }

    #[tokio::test]
    async fn an_ipv6_only_target_says_so() {
        let spec = CheckSpec {
            kind: CheckKind::Icmp {
                count: 1,
                interval: Duration::from_millis(20),
            },
            target: "::1".into(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            retries: 0,
        };
        let reason = run_check(&spec, &crate::NetworkPolicy::permissive())
            .await
            .state
            .reason()
            .map(str::to_owned);
        assert_eq!(
            reason.as_deref(),
            Some("::1 has no IPv4 address (ICMP checks are IPv4 only)")
        );
    }
}

//! The trap receiver: SNMPv2c notifications (Trap and Inform) to [`Trap`]s.
//!
//! Decoding is separate from the socket ([`decode_trap`] is pure) so the
//! fuzzer and the tests reach it directly. The listener never stops on bad
//! input: a datagram that does not decode, or comes with a community that
//! is not allowed, is counted and dropped. Informs are acknowledged (a
//! Response echoing them), as RFC 3416 asks, once they are handed over.
//!
//! The listener hands traps over with `try_send`: when the channel is full
//! the trap is dropped and counted rather than the receive loop stalling
//! while the kernel's buffer overflows where nobody sees it.

use crate::ber::{
    decode_message, encode_message, CommunityMessage, DecodeError, Message, Pdu, PduKind, Value,
    VarBind, Version,
};
use crate::oid::{oid, Oid};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// snmpTrapOID.0: the second varbind of every notification.
const SNMP_TRAP_OID_0: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// sysUpTime.0: the first.
const SYS_UPTIME_0: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTraps: the standard notifications live under it.
const SNMP_TRAPS: [u32; 9] = [1, 3, 6, 1, 6, 3, 1, 1, 5];

/// A notification received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trap {
    pub peer: SocketAddr,
    pub community: String,
    /// Whether it was an Inform (acknowledged) rather than a Trap.
    pub inform: bool,
    /// The sender's sysUpTime when it sent the notification, in ticks.
    pub uptime_ticks: u32,
    pub trap_oid: Oid,
    /// linkDown, linkUp, coldStart, warmStart, authenticationFailure, or
    /// the OID as text for any other notification.
    pub name: String,
    /// The varbinds after sysUpTime.0 and snmpTrapOID.0.
    pub varbinds: Vec<VarBind>,
}

/// Why a datagram is not a trap Vigil reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrapError {
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    #[error("not an SNMPv2c notification: {0}")]
    NotATrap(String),
}

/// The name of a standard notification (RFC 3418, IF-MIB).
pub fn trap_name(trap_oid: &Oid) -> String {
    let arcs = trap_oid.arcs();
    if arcs.len() == SNMP_TRAPS.len() + 1 && arcs.starts_with(&SNMP_TRAPS) {
        let name = match arcs[SNMP_TRAPS.len()] {
            1 => Some("coldStart"),
            2 => Some("warmStart"),
            3 => Some("linkDown"),
            4 => Some("linkUp"),
            5 => Some("authenticationFailure"),
            _ => None,
        };
        if let Some(n) = name {
            return n.to_string();
        }
    }
    trap_oid.to_string()
}

/// Reads a v2c Trap or Inform.
pub fn decode_trap(bytes: &[u8], peer: SocketAddr) -> Result<Trap, TrapError> {
    let msg = match decode_message(bytes)? {
        Message::Community(m) if m.version == Version::V2c => m,
        Message::Community(_) => return Err(TrapError::NotATrap("SNMPv1".into())),
        Message::V3(_) => return Err(TrapError::NotATrap("SNMPv3 (not supported)".into())),
    };
    let inform = match msg.pdu.kind {
        PduKind::TrapV2 => false,
        PduKind::Inform => true,
        k => return Err(TrapError::NotATrap(format!("a {k:?} PDU"))),
    };
    let mut varbinds = msg.pdu.varbinds.into_iter();
    let uptime_ticks = match varbinds.next() {
        Some(VarBind {
            oid: o,
            value: Value::TimeTicks(t),
        }) if o.arcs() == SYS_UPTIME_0 => t,
        _ => {
            return Err(TrapError::NotATrap(
                "the first varbind is not sysUpTime.0".into(),
            ))
        }
    };
    let trap_oid = match varbinds.next() {
        Some(VarBind {
            oid: o,
            value: Value::Oid(t),
        }) if o.arcs() == SNMP_TRAP_OID_0 => t,
        _ => {
            return Err(TrapError::NotATrap(
                "the second varbind is not snmpTrapOID.0".into(),
            ))
        }
    };
    Ok(Trap {
        peer,
        community: String::from_utf8_lossy(&msg.community).into_owned(),
        inform,
        uptime_ticks,
        name: trap_name(&trap_oid),
        trap_oid,
        varbinds: varbinds.collect(),
    })
}

/// What the listener has seen, for metrics.
#[derive(Debug, Default)]
pub struct TrapStats {
    pub received: AtomicU64,
    pub malformed: AtomicU64,
    pub rejected_community: AtomicU64,
    /// Dropped because the channel was full.
    pub dropped: AtomicU64,
}

impl TrapStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A trap listener on one UDP socket.
pub struct TrapListener {
    socket: UdpSocket,
    communities: Option<Vec<String>>,
    stats: Arc<TrapStats>,
}

impl TrapListener {
    /// Binds `addr`. With `communities`, only those are accepted.
    pub async fn bind(
        addr: SocketAddr,
        communities: Option<Vec<String>>,
    ) -> std::io::Result<TrapListener> {
        Ok(TrapListener {
            socket: UdpSocket::bind(addr).await?,
            communities,
            stats: Arc::default(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn stats(&self) -> Arc<TrapStats> {
        self.stats.clone()
    }

    /// Receives until the channel's receiver is gone.
    pub async fn run(self, tx: mpsc::Sender<Trap>) -> std::io::Result<()> {
        let mut buf = vec![0u8; 65536];
        while !tx.is_closed() {
            let (n, peer) = match self.socket.recv_from(&mut buf).await {
                Ok(r) => r,
                // An ICMP error from an earlier send (an inform's answer).
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            self.handle(&buf[..n], peer, &tx).await;
        }
        Ok(())
    }

    async fn handle(&self, datagram: &[u8], peer: SocketAddr, tx: &mpsc::Sender<Trap>) {
        let trap = match decode_trap(datagram, peer) {
            Ok(t) => t,
            Err(_) => return TrapStats::bump(&self.stats.malformed),
        };
        if let Some(allowed) = &self.communities {
            if !allowed.contains(&trap.community) {
                return TrapStats::bump(&self.stats.rejected_community);
            }
        }
        TrapStats::bump(&self.stats.received);
        let ack = trap.inform.then(|| acknowledgement(datagram));
        if tx.try_send(trap).is_err() {
            // Not acknowledged either: the sender of an inform retries.
            return TrapStats::bump(&self.stats.dropped);
        }
        if let Some(Some(bytes)) = ack {
            let _ = self.socket.send_to(&bytes, peer).await;
        }
    }
}

/// The Response to an Inform: the same request-id and varbinds.
fn acknowledgement(datagram: &[u8]) -> Option<Vec<u8>> {
    let Ok(Message::Community(m)) = decode_message(datagram) else {
        return None;
    };
    let reply = Message::Community(CommunityMessage {
        version: m.version,
        community: m.community,
        pdu: Pdu {
            kind: PduKind::Response,
            error_status: 0,
            error_index: 0,
            ..m.pdu
        },
    });
    Some(encode_message(&reply))
}

/// The standard notification OIDs, for callers that match on them.
pub fn standard_trap_oid(arc: u32) -> Oid {
    oid(&SNMP_TRAPS).child(arc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ber::encode_message;

    fn o(s: &str) -> Oid {
        s.parse().unwrap()
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:162".parse().unwrap()
    }

    fn trap_bytes(kind: PduKind, trap_oid: &str, extra: Vec<VarBind>) -> Vec<u8> {
        let mut varbinds = vec![
            VarBind {
                oid: o("1.3.6.1.2.1.1.3.0"),
                value: Value::TimeTicks(4242),
            },
            VarBind {
                oid: o("1.3.6.1.6.3.1.1.4.1.0"),
                value: Value::Oid(o(trap_oid)),
            },
        ];
        varbinds.extend(extra);
        encode_message(&Message::Community(CommunityMessage {
            version: Version::V2c,
            community: b"public".to_vec(),
            pdu: Pdu {
                kind,
                request_id: 7,
                error_status: 0,
                error_index: 0,
                varbinds,
            },
        }))
    }

    #[test]
    fn link_down_with_its_varbinds() {
        let extra = vec![VarBind {
            oid: o("1.3.6.1.2.1.2.2.1.1.2"),
            value: Value::Integer(2),
        }];
        let t = decode_trap(
            &trap_bytes(PduKind::TrapV2, "1.3.6.1.6.3.1.1.5.3", extra.clone()),
            peer(),
        )
        .unwrap();
        assert_eq!(t.name, "linkDown");
        assert_eq!(t.uptime_ticks, 4242);
        assert_eq!(t.community, "public");
        assert_eq!(t.varbinds, extra);
        assert!(!t.inform);
    }

    #[test]
    fn names_of_standard_and_other_traps() {
        for (arc, name) in [
            (1, "coldStart"),
            (2, "warmStart"),
            (4, "linkUp"),
            (5, "authenticationFailure"),
        ] {
            assert_eq!(trap_name(&standard_trap_oid(arc)), name);
        }
        assert_eq!(trap_name(&standard_trap_oid(9)), "1.3.6.1.6.3.1.1.5.9");
        assert_eq!(
            trap_name(&o("1.3.6.1.4.1.8072.2.3.0.1")),
            "1.3.6.1.4.1.8072.2.3.0.1"
        );
    }

    #[test]
    fn an_inform_is_a_trap_and_is_acknowledged() {
        let bytes = trap_bytes(PduKind::Inform, "1.3.6.1.6.3.1.1.5.1", vec![]);
        assert!(decode_trap(&bytes, peer()).unwrap().inform);
        let Message::Community(ack) = decode_message(&acknowledgement(&bytes).unwrap()).unwrap()
        else {
            panic!()
        };
        assert_eq!(ack.pdu.kind, PduKind::Response);
        assert_eq!(ack.pdu.request_id, 7);
        assert_eq!(ack.pdu.varbinds.len(), 2);
    }

    #[test]
    fn what_is_not_a_trap_is_refused() {
        let get = trap_bytes(PduKind::Get, "1.3.6.1.6.3.1.1.5.1", vec![]);
        assert!(matches!(
            decode_trap(&get, peer()),
            Err(TrapError::NotATrap(_))
        ));
        assert!(matches!(
            decode_trap(b"\x30\x03junk", peer()),
            Err(TrapError::Malformed(_))
        ));
        let no_uptime = encode_message(&Message::Community(CommunityMessage {
            version: Version::V2c,
            community: b"public".to_vec(),
            pdu: Pdu {
                kind: PduKind::TrapV2,
                request_id: 1,
                error_status: 0,
                error_index: 0,
                varbinds: vec![],
            },
        }));
        assert!(matches!(
            decode_trap(&no_uptime, peer()),
            Err(TrapError::NotATrap(_))
        ));
    }
}

//! SNMP for the NOC: poll agents (v2c, and v3 with USM authPriv) and
//! receive their traps. Pure Rust, no net-snmp.
//!
//! A map of the crate, from the wire up:
//!
//! - [`oid`]: [`Oid`], parsed from and shown as `1.3.6.1.2.1.1.3.0`.
//! - [`ber`]: the BER codec for SNMP messages ([`Value`], [`Pdu`],
//!   v1/v2c and v3 messages). Reads outside data defensively; errors
//!   carry the byte offset.
//! - [`usm`]: v3 security: password to key, key localization, HMAC-SHA-96
//!   and HMAC-SHA-256-192, AES-128-CFB.
//! - [`client`]: [`Client`] for one agent: get, get-next, get-bulk and
//!   walk; retries, request matching, engine discovery and time sync;
//!   every failure an [`Error`] with a reason an operator can act on.
//! - [`poll`]: typed pollers for what the NOC charts: the system group
//!   (sysUpTime: a reboot is an event), IF-MIB interfaces with 64-bit
//!   counters, HOST-RESOURCES-MIB CPU load and storage.
//! - [`rates`]: counters to rates without false spikes: wraps told from
//!   resets, reboots from sysUpTime, utilisation against the link speed.
//! - [`trap`]: v2c Trap/Inform decoding and an async [`TrapListener`].
//!
//! The crate does network I/O only in [`Client`] and [`TrapListener`];
//! turning polls and traps into Vigil's events and samples is the
//! server's job.
//!
//! Tested against net-snmp (Debian packages `snmpd` and `snmp`):
//! `tests/snmpd.rs` starts a real snmpd per test and compares with
//! snmpget/snmpwalk, and sends traps with snmptrap/snmpinform;
//! `tests/fake_agent.rs` plays devices snmpd cannot (no ifXTable, wraps,
//! reboots). Fuzz targets: `snmp_ber`, `snmp_trap`.
//!
//! Not here (yet): SET, SNMPv1 traps and v3 notifications (counted as
//! malformed by the listener), MD5/DES and AES-192/256, noAuthNoPriv v3.

pub mod ber;
pub mod client;
pub mod oid;
pub mod poll;
pub mod rates;
pub mod trap;
pub mod usm;

pub use ber::{DecodeError, Pdu, PduKind, Value, VarBind};
pub use client::{Client, ClientCounts, Error, UsmUser};
pub use oid::{Oid, OidError};
pub use poll::{host_resources, interfaces, system, HostResources, IfRow, Storage, SystemInfo};
pub use rates::{CounterTracker, CounterWidth, IfRates, InterfaceRates, Rate, Reboot};
pub use trap::{decode_trap, Trap, TrapError, TrapListener, TrapStats};
pub use usm::{AuthProtocol, PrivProtocol};

//! Vigil's active uptime checks for the NOC: ICMP ping, TCP connect,
//! HTTP(S) and DNS, run on a schedule per check.
//!
//! A check is data ([`CheckSpec`], read from the config or the API) and one
//! run of it gives a [`CheckResult`]: a state (up, down with a reason, or
//! error with a reason) and metric samples named after Prometheus
//! conventions. The [`Scheduler`] runs thousands of checks, each at its own
//! interval with a fixed jitter, and never lets one slow target hold back
//! the others.
//!
//! The protocol clients are small and written here on purpose: a check
//! needs to know *which step* failed (connecting, the handshake, the status
//! line, the body) to say so to an operator, and it must bound everything
//! it reads from a target it does not trust. A general HTTP or DNS library
//! hides the first and is more than the server needs for the second.
//!
//! # Map
//!
//! - `spec` ([`CheckSpec`]): what a check is, serde and validation;
//!   [`settings`]: a stored check of any kind (SNMP and Prometheus too),
//!   read and bounded in one place for the server's API and config;
//!   `duration`: `"30s"`-style durations.
//! - `run`: one run — attempts and retries within the timeout budget, the
//!   samples every check gives; `reason`: failures worded for operators.
//! - `tcp`, `icmp`, [`http`] (URL, head parser, body reader), `tls`
//!   (handshake, chain verification, expiry), [`dns`] (wire format and
//!   client): one module per kind of check.
//! - `scheduler`: the fixed grid of slots, jitter, the concurrency bound.
//! - `guard` ([`NetworkPolicy`]): which addresses a tenant's checks may
//!   connect to, judged for every address of every connection.
//!
//! Tests talk to real peers on loopback (`tests/`): TCP listeners open,
//! closed and silent; an HTTP server; an HTTPS server with certificates
//! the `openssl` command makes per run; a DNS server over UDP and TCP. The
//! DNS response parser and the HTTP head parser are fuzz targets
//! (`checks_dns`, `checks_http_head`); `bench/checks.sh` is the load test.
//!
//! # Left out
//!
//! - ICMPv6 (an IPv6-only target is an error that says so), and the
//!   unprivileged ping socket path is untested here: this machine's
//!   `net.ipv4.ping_group_range` is closed, so tests use the raw socket.
//! - HTTP: methods other than GET, request headers and bodies, HTTP/2,
//!   proxies, keep-alive (one connection per request), content encodings
//!   (`Accept-Encoding` is not sent, so servers send identity), client
//!   certificates, OCSP and revocation.
//! - DNS: EDNS(0), DNSSEC, record types other than A, AAAA, CNAME, MX and
//!   TXT, and the system resolver's configuration (a check names its
//!   server).
//! - Names of ICMP, TCP and HTTP targets resolve through the system
//!   (`getaddrinfo` on tokio's blocking pool); address literals skip it.

mod duration;
mod guard;
mod icmp;
mod reason;
mod result;
mod run;
mod scheduler;
pub mod settings;
mod spec;
mod tcp;
mod tls;

pub mod dns;
pub mod http;

pub use duration::{format_duration, parse_duration, DurationError};
pub use guard::{
    embedded_v4, has_control, is_local_address, parse_networks, Denial, Network, NetworkError,
    NetworkPolicy, OwnListeners, Reserved,
};
pub use result::{CheckResult, CheckState, Sample, INTERNAL_FAULT};
pub use run::run_check;
pub use scheduler::{CheckId, Runner, Scheduler, SchedulerStats};
pub use spec::{CheckKind, CheckSpec, RecordType, SpecError, StatusExpect};

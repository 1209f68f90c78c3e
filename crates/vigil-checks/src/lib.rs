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

mod duration;
mod icmp;
mod reason;
mod result;
mod run;
mod scheduler;
mod spec;
mod tcp;
mod tls;

pub mod dns;
pub mod http;

pub use duration::{format_duration, parse_duration, DurationError};
pub use result::{CheckResult, CheckState, Sample};
pub use run::run_check;
pub use scheduler::{CheckId, Scheduler, SchedulerStats};
pub use spec::{CheckKind, CheckSpec, RecordType, SpecError, StatusExpect};

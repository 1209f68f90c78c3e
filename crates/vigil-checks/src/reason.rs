//! Failures of one attempt, with reasons worded for an operator.

use crate::format_duration;
use std::io;
use std::time::Duration;

/// Why an attempt failed; [`crate::CheckState`] explains the two kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    #[error("{0}")]
    Down(String),
    #[error("{0}")]
    Error(String),
}

impl Failure {
    pub fn down(reason: impl Into<String>) -> Failure {
        Failure::Down(reason.into())
    }

    pub fn error(reason: impl Into<String>) -> Failure {
        Failure::Error(reason.into())
    }

    /// The budget ran out during `step` ("the HTTP status line").
    pub fn timed_out(budget: Duration, step: &str) -> Failure {
        Failure::Error(format!(
            "timed out after {} waiting for {step}",
            format_duration(budget)
        ))
    }

    /// An I/O error while `doing` something ("connecting to 10.0.0.1:80").
    /// A refused connection is the target's answer; anything else is a
    /// broken path or peer.
    pub fn io(error: &io::Error, doing: &str) -> Failure {
        let reason = describe_io(error);
        match error.kind() {
            io::ErrorKind::ConnectionRefused => Failure::Down(reason.to_owned()),
            _ => Failure::Error(format!("{reason} while {doing}")),
        }
    }
}

fn describe_io(error: &io::Error) -> String {
    use io::ErrorKind::*;
    let text = match error.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by the peer",
        ConnectionAborted => "connection aborted",
        UnexpectedEof => "the peer closed the connection",
        BrokenPipe => "the peer closed the connection",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        AddrNotAvailable => "no local address available",
        PermissionDenied => "permission denied",
        TimedOut => "timed out",
        _ => return error.to_string(),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_is_down_and_short() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Failure::io(&refused, "connecting"),
            Failure::down("connection refused")
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            Failure::io(&reset, "reading the HTTP status line"),
            Failure::error("connection reset by the peer while reading the HTTP status line")
        );
    }

    #[test]
    fn timeouts_name_their_step() {
        assert_eq!(
            Failure::timed_out(Duration::from_secs(5), "the HTTP status line").to_string(),
            "timed out after 5s waiting for the HTTP status line"
        );
    }
}

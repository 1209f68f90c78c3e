//! Reading one TCP or TLS connection: bytes in, batches of messages out.
//!
//! Back-pressure without timers: read, cut every complete frame, send them
//! as one batch with `send().await`, and only then read again. While the
//! pipeline is full the connection is not read, the kernel's buffers fill,
//! and the sender's writes stop (TCP flow control). What a connection
//! holds is one read buffer and at most one partial frame.

use super::framing::{Deframer, Frame, FramingError};
use super::{stopped, InboundMessage, Listener};
use crate::metrics::ProtocolReasonLabel;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use vigil_core::Timestamp;

/// Bytes read at once.
const READ_BYTES: usize = 64 << 10;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closed {
    /// The sender closed it.
    Eof,
    /// Silent for `idle_timeout_secs`.
    Idle,
    /// A read failed (reset, TLS alert...).
    Error,
    /// The stream could not be de-framed (an octet count over the limit).
    Framing,
    /// The TLS handshake failed or timed out.
    Handshake,
    Shutdown,
    /// The pipeline's channel is closed: the server is stopping.
    PipelineGone,
}

impl Closed {
    pub(super) fn reason(self) -> &'static str {
        match self {
            Closed::Eof => "eof",
            Closed::Idle => "idle",
            Closed::Error => "error",
            Closed::Framing => "framing",
            Closed::Handshake => "handshake",
            Closed::Shutdown => "shutdown",
            Closed::PipelineGone => "pipeline_closed",
        }
    }
}

/// Reads frames from `stream` until it ends, handing them to the pipeline.
pub(super) async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    names: Option<Arc<[String]>>,
    listener: &Listener,
) -> Closed {
    let mut deframer = Deframer::new(listener.config.max_message_bytes);
    let mut buf = vec![0u8; READ_BYTES];
    let mut shutdown = listener.shutdown.clone();
    let idle = Duration::from_secs(listener.config.idle_timeout_secs);
    let reader = Reader {
        peer,
        names,
        listener,
    };
    loop {
        let read = tokio::select! {
            _ = stopped(&mut shutdown) => return Closed::Shutdown,
            r = tokio::time::timeout(idle, stream.read(&mut buf)) => r,
        };
        let n = match read {
            Err(_) => return reader.idle(),
            Ok(Ok(0)) => return reader.end(&mut deframer).await,
            Ok(Ok(n)) => n,
            // Many TLS senders hang up without close_notify: an end, not
            // an attack on anything a syslog stream promises.
            Ok(Err(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                return reader.end(&mut deframer).await
            }
            Ok(Err(e)) => {
                tracing::debug!(protocol = listener.protocol, %peer, error = %e, "syslog read failed");
                return Closed::Error;
            }
        };
        deframer.push(&buf[..n]);
        let (batch, error) = reader.drain(&mut deframer);
        if let Err(closed) = reader.deliver(batch).await {
            return closed;
        }
        if let Some(e) = error {
            return reader.framing_error(&e);
        }
    }
}

/// What the steps of [`read_frames`] share.
struct Reader<'a> {
    peer: SocketAddr,
    names: Option<Arc<[String]>>,
    listener: &'a Listener,
}

impl Reader<'_> {
    /// Every complete frame buffered, and the error that stops the stream
    /// after them, if any.
    fn drain(&self, deframer: &mut Deframer) -> (Vec<InboundMessage>, Option<FramingError>) {
        let now = Timestamp::now();
        let mut batch = Vec::new();
        loop {
            match deframer.next_frame() {
                Ok(Some(frame)) => batch.push(self.message(frame, now)),
                Ok(None) => return (batch, None),
                Err(e) => return (batch, Some(e)),
            }
        }
    }

    fn message(&self, frame: Frame, now: Timestamp) -> InboundMessage {
        self.listener
            .message(frame.bytes, frame.truncated, self.peer, &self.names, now)
    }

    /// Journals the batch (or waits for room in the pipeline without a
    /// journal): this wait is the back-pressure.
    async fn deliver(&self, batch: Vec<InboundMessage>) -> Result<(), Closed> {
        self.listener.deliver(batch).await
    }

    /// The sender closed: its last newline frame counts even without LF.
    async fn end(&self, deframer: &mut Deframer) -> Closed {
        let (mut batch, error) = self.drain(deframer);
        let error = match error {
            Some(e) => Some(e),
            None => match deframer.finish() {
                Ok(Some(frame)) => {
                    batch.push(self.message(frame, Timestamp::now()));
                    None
                }
                Ok(None) => None,
                Err(e) => Some(e),
            },
        };
        if let Err(closed) = self.deliver(batch).await {
            return closed;
        }
        match error {
            Some(e) => self.framing_error(&e),
            None => Closed::Eof,
        }
    }

    fn idle(&self) -> Closed {
        let listener = self.listener;
        listener
            .metrics
            .syslog
            .idle_closed
            .get_or_create(&listener.label())
            .inc();
        tracing::debug!(protocol = listener.protocol, peer = %self.peer, "syslog connection idle: closed");
        Closed::Idle
    }

    fn framing_error(&self, error: &FramingError) -> Closed {
        let listener = self.listener;
        let syslog = &listener.metrics.syslog;
        syslog
            .framing_errors
            .get_or_create(&ProtocolReasonLabel {
                protocol: listener.protocol,
                reason: error.reason(),
            })
            .inc();
        match error {
            FramingError::OctetCountTooLarge { .. } => {
                listener.count_oversized();
                tracing::warn!(
                    protocol = listener.protocol,
                    peer = %self.peer,
                    error = %error,
                    "syslog connection closed: its framing cannot be trusted"
                );
                Closed::Framing
            }
            // The stream has ended anyway; the partial frame is lost.
            FramingError::TruncatedAtEof { .. } => {
                tracing::debug!(protocol = listener.protocol, peer = %self.peer, error = %error, "syslog frame cut short");
                Closed::Eof
            }
        }
    }
}

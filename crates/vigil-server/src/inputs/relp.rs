//! One RELP connection (rsyslog's `omrelp`): read, cut frames, journal the
//! messages, and only then answer `200 OK` for each of them.
//!
//! A read's complete frames are handled together: their messages go to
//! the input journal as one record, and once it is on disk every
//! transaction of the read is answered in order. Nothing more is read
//! meanwhile, so the transactions waiting for an answer are bounded by one
//! read (64 KiB) whatever window the sender keeps, and a slow journal or
//! pipeline slows the sender. A sender whose connection drops sends its
//! unanswered transactions again: a message is lost only if it was never
//! answered, which is what RELP promises.
//!
//! A frame that breaks the grammar (or is over `max_message_bytes`) gets
//! `500` and the connection is closed: the stream is out of step. On
//! shutdown the server says `serverclose`.

use super::stream::Closed;
use super::{stopped, InboundMessage, Listener};
use crate::metrics::ProtocolReasonLabel;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vigil_core::Timestamp;
use vigil_decode::relp::{self, RelpDecoder, RelpFrame};

/// Bytes read at once: also the bound on unanswered transactions.
const READ_BYTES: usize = 64 << 10;

/// What the server says it is, in its `open` answer.
const SOFTWARE: &str = concat!("vigil,", env!("CARGO_PKG_VERSION"));

/// What a read's frames call for.
#[derive(Default)]
struct Round {
    /// The syslog messages to journal before any answer.
    messages: Vec<InboundMessage>,
    /// The answers, in frame order, sent once the messages are durable.
    answers: Vec<u8>,
    /// The sender said `close` (answered last), or a frame was bad (its
    /// `500` is last).
    end: Option<Closed>,
}

/// Serves one RELP connection until it ends.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    names: Option<Arc<[String]>>,
    listener: &Listener,
) -> Closed {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut session = Session {
        decoder: RelpDecoder::new(listener.config.max_message_bytes),
        open: false,
        peer,
        names,
        listener,
    };
    let mut buf = vec![0u8; READ_BYTES];
    let mut shutdown = listener.shutdown.clone();
    let idle = Duration::from_secs(listener.config.idle_timeout_secs);
    loop {
        let read = tokio::select! {
            _ = stopped(&mut shutdown) => {
                let _ = writer.write_all(&relp::server_close()).await;
                return Closed::Shutdown;
            }
            r = tokio::time::timeout(idle, reader.read(&mut buf)) => r,
        };
        let n = match read {
            Err(_) => return Closed::Idle,
            // Unanswered transactions are the sender's to send again.
            Ok(Ok(0)) => return Closed::Eof,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "relp read failed");
                return Closed::Error;
            }
        };
        session.decoder.push(&buf[..n]);
        let round = session.round();
        if let Err(closed) = listener.deliver(round.messages).await {
            // Not durable: nothing is answered, the sender sends again.
            return closed;
        }
        let written = tokio::time::timeout(idle, writer.write_all(&round.answers)).await;
        if !matches!(written, Ok(Ok(()))) {
            return Closed::Error;
        }
        if let Some(end) = round.end {
            let _ = writer.shutdown().await;
            return end;
        }
    }
}

/// The state of one connection.
struct Session<'a> {
    decoder: RelpDecoder,
    /// `open` was answered: `syslog` may come.
    open: bool,
    peer: SocketAddr,
    names: Option<Arc<[String]>>,
    listener: &'a Listener,
}

impl Session<'_> {
    /// Handles every complete frame buffered.
    fn round(&mut self) -> Round {
        let mut round = Round::default();
        let now = Timestamp::now();
        while round.end.is_none() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.frame(frame, now, &mut round),
                Ok(None) => break,
                Err(e) => {
                    self.count_error(e.reason());
                    if matches!(e, relp::RelpError::TooLarge { .. }) {
                        self.listener.count_oversized();
                    }
                    tracing::warn!(peer = %self.peer, error = %e, "relp connection closed: its framing cannot be trusted");
                    let text = format!("invalid frame: {e}");
                    round.answers.extend(relp::response(0, 500, &text, None));
                    round.answers.extend(relp::server_close());
                    round.end = Some(Closed::Framing);
                }
            }
        }
        round
    }

    fn frame(&mut self, frame: RelpFrame, now: Timestamp, round: &mut Round) {
        let txnr = frame.txnr;
        match frame.command.as_str() {
            "open" if relp::offers_syslog(&frame.data) => {
                self.open = true;
                let offers = relp::open_offers(SOFTWARE);
                round
                    .answers
                    .extend(relp::response(txnr, 200, "OK", Some(&offers)));
            }
            "open" => self.refuse(txnr, "the syslog command is required", round),
            "syslog" if self.open => {
                if let Some(message) = self.message(frame.data, now) {
                    round.messages.push(message);
                }
                round.answers.extend(relp::response(txnr, 200, "OK", None));
            }
            "syslog" => self.refuse(txnr, "the session is not open", round),
            "close" => {
                round.answers.extend(relp::response(txnr, 200, "OK", None));
                round.end = Some(Closed::Eof);
            }
            _ => {
                // Unknown commands are answered, not fatal (librelp's way).
                self.count_error("unknown_command");
                round
                    .answers
                    .extend(relp::response(txnr, 500, "command not supported", None));
            }
        }
    }

    /// A 500 that ends the session: the sender cannot go on without it.
    fn refuse(&mut self, txnr: u64, why: &str, round: &mut Round) {
        self.count_error("session");
        round.answers.extend(relp::response(txnr, 500, why, None));
        round.answers.extend(relp::server_close());
        round.end = Some(Closed::Framing);
    }

    /// The message of a `syslog` frame, without the trailing LF, CR and
    /// NULs some senders add; `None` if nothing is left.
    fn message(&self, mut data: Vec<u8>, now: Timestamp) -> Option<InboundMessage> {
        while data.last().is_some_and(|b| matches!(b, b'\n' | b'\r' | 0)) {
            data.pop();
        }
        (!data.is_empty()).then(|| {
            self.listener
                .message(data, false, self.peer, &self.names, now)
        })
    }

    fn count_error(&self, reason: &'static str) {
        self.listener
            .metrics
            .syslog
            .framing_errors
            .get_or_create(&ProtocolReasonLabel {
                protocol: self.listener.protocol,
                reason,
            })
            .inc();
    }
}

//! The TCP and TLS listeners: accepting, the connection limit, and the life
//! of one connection (handshake, then [`super::stream::read_frames`]).

use super::stream::{read_frames, Closed};
use super::{stopped, tls, Listener};
use crate::metrics::{ProtocolLabel, ProtocolReasonLabel};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// First pause after a failed accept; it doubles up to [`MAX_BACKOFF`].
/// Out of file descriptors (EMFILE), accept fails at once and forever:
/// without a pause the loop would spin a core.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

pub(super) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

pub(super) fn spawn(socket: TcpListener, tls: Option<TlsAcceptor>, listener: Arc<Listener>) {
    tokio::spawn(accept_loop(socket, tls, listener));
}

async fn accept_loop(socket: TcpListener, tls: Option<TlsAcceptor>, listener: Arc<Listener>) {
    let mut shutdown = listener.shutdown.clone();
    let open = Arc::new(AtomicUsize::new(0));
    let mut backoff = MIN_BACKOFF;
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            r = socket.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = MIN_BACKOFF;
                let Some(slot) = Slot::take(&open, &listener) else {
                    reject(&listener, peer);
                    continue;
                };
                tokio::spawn(connection(
                    stream,
                    peer,
                    tls.clone(),
                    listener.clone(),
                    slot,
                ));
            }
            Err(e) => {
                if backoff == MIN_BACKOFF {
                    tracing::warn!(protocol = listener.protocol, error = %e, "syslog accept failed");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn reject(listener: &Listener, peer: SocketAddr) {
    let syslog = &listener.metrics.syslog;
    syslog
        .connections_rejected
        .get_or_create(&listener.label())
        .inc();
    tracing::debug!(
        protocol = listener.protocol,
        %peer,
        max = listener.config.max_connections,
        "syslog connection refused: too many open"
    );
}

/// One open connection of a listener, counted while it lives.
struct Slot {
    open: Arc<AtomicUsize>,
    listener: Arc<Listener>,
}

impl Slot {
    fn take(open: &Arc<AtomicUsize>, listener: &Arc<Listener>) -> Option<Slot> {
        let max = listener.config.max_connections;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()?;
        let label = listener.label();
        let syslog = &listener.metrics.syslog;
        syslog.connections_accepted.get_or_create(&label).inc();
        syslog.connections_open.get_or_create(&label).inc();
        Some(Slot {
            open: open.clone(),
            listener: listener.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        let label = ProtocolLabel {
            protocol: self.listener.protocol,
        };
        self.listener
            .metrics
            .syslog
            .connections_open
            .get_or_create(&label)
            .dec();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    listener: Arc<Listener>,
    _slot: Slot,
) {
    let relp = listener.config.protocol == super::SyslogProtocol::Relp;
    let closed = match tls {
        None if relp => super::relp::serve(stream, peer, None, &listener).await,
        None => read_frames(stream, peer, None, &listener).await,
        Some(acceptor) => {
            // A handshake can take seconds; shutdown does not wait for it.
            let mut shutdown = listener.shutdown.clone();
            let shaken = tokio::select! {
                _ = stopped(&mut shutdown) => Err(Closed::Shutdown),
                s = tls::handshake(&acceptor, stream, peer, &listener) => s.ok_or(Closed::Handshake),
            };
            match shaken {
                Ok((stream, names)) => read_frames(stream, peer, names, &listener).await,
                Err(closed) => closed,
            }
        }
    };
    listener
        .metrics
        .syslog
        .connections_closed
        .get_or_create(&ProtocolReasonLabel {
            protocol: listener.protocol,
            reason: closed.reason(),
        })
        .inc();
    tracing::debug!(protocol = listener.protocol, %peer, reason = closed.reason(), "syslog connection closed");
}

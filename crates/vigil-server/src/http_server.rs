//! The API's HTTP server: hyper HTTP/1 connections with the limits a
//! listener open to the network needs.
//!
//! `axum::serve` has no header timeout, no idle timeout and no connection
//! cap: 200 clients sending a header a byte a second held 200 connections
//! for as long as they liked. Here:
//!
//! - a request's header must arrive within `header_read_timeout` (hyper's
//!   timer; it runs from the moment the server waits for a request, so it
//!   also closes a kept-alive connection that sends nothing);
//! - a connection on which no byte moves while no request is being answered
//!   is closed after `idle_timeout` (a client that stops reading an answer);
//! - at most `max_connections` connections at once, and
//!   `max_connections_per_address` from one address: more are closed on
//!   accept, so one noisy client cannot take every slot;
//! - HTTPS (rustls, ring provider) when a certificate and key are given;
//!   the TLS handshake gets the header timeout too.
//!
//! Handlers find the client's address as axum's `ConnectInfo<SocketAddr>`.

use crate::config::ServerConfig;
use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// How the API listener serves its connections.
pub struct ServeOptions {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// HTTPS when set.
    pub tls: Option<TlsAcceptor>,
}

impl ServeOptions {
    /// The options of `[server]`, with the certificate and key read.
    pub fn from_config(server: &ServerConfig) -> anyhow::Result<Self> {
        let tls = match (&server.tls_cert, &server.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("server.tls_cert and server.tls_key go together"),
        };
        Ok(ServeOptions {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(server.idle_timeout_secs),
            max_connections: server.max_connections,
            max_connections_per_address: server.max_connections_per_address,
            tls,
        })
    }
}

/// The rustls server of the API from PEM files (ALPN: HTTP/1.1 only).
fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read certificates from {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("no TLS version available")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| format!("the key does not suit the certificate {}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    if options.tls.is_none() && !local.ip().is_loopback() {
        tracing::warn!(
            addr = %local,
            "the API listens in plain HTTP on a non-loopback address: tokens and passwords cross the network unencrypted; set server.tls_cert and server.tls_key"
        );
    }
    let options = Arc::new(options);
    let slots = Slots::new(options.max_connections, options.max_connections_per_address);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // instead of spinning on the error.
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = slots.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection limit reached: connection closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            options: options.clone(),
            peer,
            watcher: graceful.watcher(),
        };
        tokio::spawn(async move {
            let _slot = slot;
            connection.run(stream).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One accepted connection and what it needs to be served.
struct Connection {
    router: Router,
    options: Arc<ServeOptions>,
    peer: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream) {
        let Some(tls) = self.options.tls.clone() else {
            return self.serve(stream).await;
        };
        let handshake = tokio::time::timeout(self.options.header_read_timeout, tls.accept(stream));
        match handshake.await {
            Ok(Ok(stream)) => self.serve(stream).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let router = self.router;
        let peer = self.peer;
        let busy = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let answering = Answering::start(busy.clone());
            let mut router = router.clone();
            async move {
                let _answering = answering;
                router.call(request.map(axum::body::Body::new)).await
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_read_timeout)
            .keep_alive(true);
        let connection = self.watcher.watch(builder.serve_connection(io, service));
        tokio::select! {
            served = connection => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "API connection ended with an error");
                }
            }
            () = activity.idle_for(self.options.idle_timeout) => {
                tracing::debug!(%peer, "idle API connection closed");
            }
        }
    }
}

/// When bytes last moved on a connection, and how many requests on it are
/// being answered.
struct Activity {
    start: Instant,
    last_millis: AtomicU64,
    answering: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_millis: AtomicU64::new(0),
            answering: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(millis, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Completes once nothing has moved for `limit` while no request was
    /// being answered (a handler working on a long search is not idle).
    async fn idle_for(&self, limit: Duration) {
        loop {
            let quiet = self.quiet_for();
            if quiet >= limit && self.answering.load(Ordering::Relaxed) == 0 {
                return;
            }
            let wait = limit.saturating_sub(quiet).max(Duration::from_millis(100));
            tokio::time::sleep(wait).await;
        }
    }
}

/// Counts a request as being answered while it lives.
struct Answering(Arc<Activity>);

impl Answering {
    fn start(activity: Arc<Activity>) -> Self {
        activity.answering.fetch_add(1, Ordering::Relaxed);
        Answering(activity)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.touch();
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that notes in its [`Activity`] every time bytes move.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection caps: in total and per client address.
struct Slots {
    total: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
}

/// One admitted connection; frees its slots when dropped.
struct Slot {
    _permit: OwnedSemaphorePermit,
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn new(max: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Slots {
            total: Arc::new(Semaphore::new(max)),
            per_address: Mutex::new(HashMap::new()),
            max_per_address,
        })
    }

    /// A slot for a connection from `ip`, or `None` when a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut counts = self
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max_per_address {
            return None;
        }
        *count += 1;
        Some(Slot {
            _permit: permit,
            slots: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .slots
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_in_total_and_per_address() {
        let slots = Slots::new(3, 2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let a1 = slots.admit(a).expect("first of a");
        let _a2 = slots.admit(a).expect("second of a");
        assert!(slots.admit(a).is_none(), "a third from one address");
        let _b1 = slots.admit(b).expect("b has its own count");
        assert!(slots.admit(b).is_none(), "the total cap");
        drop(a1);
        assert!(slots.admit(a).is_some(), "a freed slot is reusable");
        assert!(slots.per_address.lock().unwrap().len() <= 2);
    }

    #[tokio::test]
    async fn idle_waits_while_a_request_is_answered() {
        let activity = Arc::new(Activity::new());
        let answering = Answering::start(activity.clone());
        let idle = activity.idle_for(Duration::from_millis(200));
        tokio::pin!(idle);
        let early = tokio::time::timeout(Duration::from_millis(800), &mut idle).await;
        assert!(early.is_err(), "idle while answering");
        drop(answering);
        tokio::time::timeout(Duration::from_secs(5), &mut idle)
            .await
            .expect("idle once answered and quiet");
    }
}

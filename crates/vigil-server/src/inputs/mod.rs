//! Syslog network inputs: UDP (RFC 5426), TCP (RFC 6587), TLS
//! (RFC 5425) and RELP listeners that turn what senders write into
//! [`InboundMessage`] batches on the pipeline's bounded channel.
//!
//! - TCP, TLS and RELP write what they read to the input journal
//!   ([`journal`]) before the pipeline sees it, and read on only once it is
//!   on disk; RELP answers a message only then. Without a journal (tests),
//!   they hand batches to the channel directly.
//!
//! - UDP never waits: when the channel is full the batch is dropped and
//!   counted (`vigil_syslog_udp_dropped_total`), since a blocked receive
//!   loop would only move the loss into the kernel, where it is invisible.
//! - TCP and TLS wait: a connection reads, cuts complete frames, and sends
//!   them as one batch before reading again, so a slow pipeline slows the
//!   sender through the TCP window and memory stays bounded per
//!   connection (one read buffer and one partial frame).
//!
//! Shutdown: every task watches a `tokio::sync::watch::Receiver<bool>`;
//! when `true` is sent, or the sender is dropped, listeners stop accepting
//! and connections end (a batch waiting for room in the channel is
//! dropped).

pub mod framing;
pub mod identity;
pub mod journal;
pub mod journal_record;
mod relp;
mod stream;
mod tcp;
mod tls;
mod udp;

use crate::metrics::{Metrics, ProtocolLabel};
use anyhow::Context;
use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use vigil_core::Timestamp;

pub use journal::{Delivery, Journal, JournalEntry, JournalPos};

/// The transport of a listener.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    Udp,
    Tcp,
    Tls,
    /// RELP (rsyslog's `omrelp`): every message answered once durable.
    Relp,
}

impl SyslogProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SyslogProtocol::Udp => "udp",
            SyslogProtocol::Tcp => "tcp",
            SyslogProtocol::Tls => "tls",
            SyslogProtocol::Relp => "relp",
        }
    }
}

/// One syslog listener (`[[inputs.syslog]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogInputConfig {
    pub protocol: SyslogProtocol,
    pub listen: SocketAddr,
    /// Tenant short name: everything received on this listener belongs to
    /// it.
    #[serde(default)]
    pub tenant: Option<String>,
    /// PEM certificate chain, server first (`tls` only, required there).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key: PKCS#8, RSA or SEC1 (`tls` only, required there).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates; when set, clients are asked for a certificate,
    /// which must chain to one of them.
    #[serde(default)]
    pub tls_client_ca: Option<PathBuf>,
    /// Refuse clients without a valid certificate (needs `tls_client_ca`).
    #[serde(default)]
    pub tls_client_required: bool,
    /// Longest message kept, in bytes: a longer newline-framed or UDP
    /// message is cut; a longer octet count closes the connection.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// A connection silent this long is closed, in seconds.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Connections open at once on this listener; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 10;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Largest `max_message_bytes` accepted: a frame is held whole in memory,
/// once per connection.
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 16 << 20;

fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

fn default_idle_timeout_secs() -> u64 {
    DEFAULT_IDLE_TIMEOUT_SECS
}

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

impl SyslogInputConfig {
    /// What the input journal notes of the listener that read a record
    /// (protocol, address, tenant), so that a replay after the config
    /// changed never routes by a listener that is now another one.
    pub fn journal_key(&self) -> String {
        format!(
            "{} {} {}",
            self.protocol.as_str(),
            self.listen,
            self.tenant.as_deref().unwrap_or("-")
        )
    }

    /// A listener with every optional key at its default.
    pub fn new(protocol: SyslogProtocol, listen: SocketAddr) -> Self {
        SyslogInputConfig {
            protocol,
            listen,
            tenant: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_client_required: false,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Checks the keys against each other, without touching files or
    /// sockets (for `vigil config check`).
    pub fn validate(&self) -> anyhow::Result<()> {
        let tls = self.protocol == SyslogProtocol::Tls;
        if tls && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            anyhow::bail!("a tls listener needs tls_cert and tls_key");
        }
        let tls_keys = [
            ("tls_cert", self.tls_cert.is_some()),
            ("tls_key", self.tls_key.is_some()),
            ("tls_client_ca", self.tls_client_ca.is_some()),
            ("tls_client_required", self.tls_client_required),
        ];
        if let Some((key, _)) = tls_keys.iter().find(|(_, set)| !tls && *set) {
            anyhow::bail!("{key} is set on a {} listener", self.protocol.as_str());
        }
        if self.tls_client_required && self.tls_client_ca.is_none() {
            anyhow::bail!("tls_client_required needs tls_client_ca");
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
            anyhow::bail!(
                "max_message_bytes must be between 1 and {MAX_MESSAGE_BYTES_LIMIT}, not {}",
                self.max_message_bytes
            );
        }
        if self.idle_timeout_secs == 0 {
            anyhow::bail!("idle_timeout_secs must be at least 1");
        }
        if self.max_connections == 0 {
            anyhow::bail!("max_connections must be at least 1");
        }
        Ok(())
    }

    /// Reads the TLS files of a `tls` listener as its start would (for
    /// `vigil config check`, and `serve` before it binds anything).
    pub fn check_files(&self) -> anyhow::Result<()> {
        if self.protocol == SyslogProtocol::Tls {
            tls::acceptor(self)?;
        }
        Ok(())
    }

    /// How errors name this listener.
    fn describe(&self, index: usize) -> String {
        format!(
            "syslog input {index} ({} {})",
            self.protocol.as_str(),
            self.listen
        )
    }
}

/// One syslog message as received, before any parsing.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// One message, de-framed, trailing CR/LF and NULs removed, invalid
    /// UTF-8 replaced (and counted).
    pub text: String,
    pub peer: SocketAddr,
    /// Index of the listener in the configs given to
    /// [`start_syslog_inputs`].
    pub listener: usize,
    /// TLS client certificate identities: subject CNs, DNS SANs and
    /// `sha256:<hex of DER>`; `None` without a client certificate.
    pub client_names: Option<Arc<[String]>>,
    pub received: Timestamp,
    /// Its place in the input journal (set by the journal; `None` for UDP):
    /// what its events' ids are derived from.
    pub journal: Option<JournalPos>,
}

/// What every task of one listener shares.
struct Listener {
    index: usize,
    protocol: &'static str,
    config: SyslogInputConfig,
    sink: mpsc::Sender<Delivery>,
    /// Where TCP, TLS and RELP write what they read (`None`: straight to
    /// `sink`).
    journal: Option<Journal>,
    metrics: Arc<Metrics>,
    counters: Counters,
    shutdown: watch::Receiver<bool>,
}

/// The per-message counters of a listener's protocol, looked up once: a
/// family lookup takes a lock, too much for every message.
struct Counters {
    messages: Counter,
    bytes: Counter,
    invalid_utf8: Counter,
    oversized: Counter,
    journalled: Counter,
}

impl Counters {
    fn new(metrics: &Metrics, protocol: &'static str) -> Self {
        let label = ProtocolLabel { protocol };
        let syslog = &metrics.syslog;
        Counters {
            messages: syslog.messages.get_or_create(&label).clone(),
            bytes: syslog.bytes.get_or_create(&label).clone(),
            invalid_utf8: syslog.invalid_utf8.get_or_create(&label).clone(),
            oversized: syslog.oversized.get_or_create(&label).clone(),
            journalled: syslog.journalled.get_or_create(&label).clone(),
        }
    }
}

impl Listener {
    fn label(&self) -> ProtocolLabel {
        ProtocolLabel {
            protocol: self.protocol,
        }
    }

    /// Turns the bytes of one message into an [`InboundMessage`],
    /// counting it. `truncated`: the message was cut to the limit.
    fn message(
        &self,
        bytes: Vec<u8>,
        truncated: bool,
        peer: SocketAddr,
        client_names: &Option<Arc<[String]>>,
        received: Timestamp,
    ) -> InboundMessage {
        self.counters.messages.inc();
        self.counters.bytes.inc_by(bytes.len() as u64);
        if truncated {
            self.count_oversized();
        }
        InboundMessage {
            text: self.text(bytes, truncated),
            peer: canonical(peer),
            listener: self.index,
            client_names: client_names.clone(),
            received,
            journal: None,
        }
    }

    /// The bytes as text, invalid UTF-8 replaced and counted. A character
    /// that the cut of a truncated message split is dropped, not counted:
    /// the sender wrote it whole.
    fn text(&self, bytes: Vec<u8>, truncated: bool) -> String {
        let e = match String::from_utf8(bytes) {
            Ok(text) => return text,
            Err(e) => e,
        };
        let error = e.utf8_error();
        if truncated && error.error_len().is_none() {
            // Valid up to there: nothing is replaced.
            let valid = &e.as_bytes()[..error.valid_up_to()];
            return String::from_utf8_lossy(valid).into_owned();
        }
        self.counters.invalid_utf8.inc();
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    }

    /// Hands a connection's batch on: to the input journal, returning once
    /// it is on disk (and queued for the pipeline), or without a journal
    /// to the pipeline's queue. The wait is the back-pressure. On shutdown
    /// a batch not yet journalled is dropped (never acknowledged).
    async fn deliver(&self, batch: Vec<InboundMessage>) -> Result<(), stream::Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut shutdown = self.shutdown.clone();
        let count = batch.len() as u64;
        let journalled = &self.counters.journalled;
        let key = self.config.journal_key();
        match &self.journal {
            Some(journal) => tokio::select! {
                _ = stopped(&mut shutdown) => Err(stream::Closed::Shutdown),
                r = journal.append(&key, batch) => r.map(|_| { journalled.inc_by(count); }).map_err(|e| {
                    tracing::error!(protocol = self.protocol, error = %e, "cannot write the input journal");
                    stream::Closed::PipelineGone
                }),
            },
            None => tokio::select! {
                _ = stopped(&mut shutdown) => Err(stream::Closed::Shutdown),
                r = self.sink.send(Delivery::unjournalled(batch)) => r.map_err(|_| stream::Closed::PipelineGone),
            },
        }
    }

    fn count_oversized(&self) {
        self.counters.oversized.inc();
    }
}

/// An IPv4 sender seen through a dual-stack IPv6 socket (`[::]:514`) is
/// reported as the IPv4 address it is (`::ffff:10.0.0.1` → `10.0.0.1`),
/// so that source address blocks match it.
fn canonical(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => peer,
        },
        SocketAddr::V4(_) => peer,
    }
}

/// Resolves when the server stops: `true` was sent or the sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A listener's socket, bound, with what it needs to serve.
enum Bound {
    Udp(tokio::net::UdpSocket),
    Tcp(tokio::net::TcpListener),
    Tls(tokio::net::TcpListener, tokio_rustls::TlsAcceptor),
}

impl Bound {
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Bound::Udp(s) => s.local_addr(),
            Bound::Tcp(l) | Bound::Tls(l, _) => l.local_addr(),
        }
    }
}

async fn bind(config: &SyslogInputConfig) -> anyhow::Result<Bound> {
    config.validate()?;
    Ok(match config.protocol {
        SyslogProtocol::Udp => Bound::Udp(udp::bind(config.listen)?),
        SyslogProtocol::Tcp | SyslogProtocol::Relp => Bound::Tcp(tcp::bind(config.listen).await?),
        SyslogProtocol::Tls => {
            let acceptor = tls::acceptor(config)?;
            Bound::Tls(tcp::bind(config.listen).await?, acceptor)
        }
    })
}

/// Binds every listener, starts serving, and returns their bound addresses
/// (port 0 resolved), in the order of `configs`. Nothing is served unless
/// every listener binds and loads its certificates: the error names the
/// listener that failed. Batches go to `sink`, through `journal` for
/// TCP, TLS and RELP (`None`: straight to `sink`); see the module docs for
/// `shutdown`.
pub async fn start_syslog_inputs(
    configs: &[SyslogInputConfig],
    sink: mpsc::Sender<Delivery>,
    journal: Option<Journal>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let mut bound = Vec::with_capacity(configs.len());
    for (index, config) in configs.iter().enumerate() {
        let socket = bind(config)
            .await
            .with_context(|| format!("cannot start {}", config.describe(index)))?;
        let addr = socket
            .local_addr()
            .with_context(|| format!("cannot start {}", config.describe(index)))?;
        bound.push((socket, addr));
    }
    let mut addrs = Vec::with_capacity(bound.len());
    for (index, ((socket, addr), config)) in bound.into_iter().zip(configs).enumerate() {
        let listener = Arc::new(Listener {
            index,
            protocol: config.protocol.as_str(),
            config: config.clone(),
            sink: sink.clone(),
            journal: match config.protocol {
                SyslogProtocol::Udp => None,
                _ => journal.clone(),
            },
            metrics: metrics.clone(),
            counters: Counters::new(&metrics, config.protocol.as_str()),
            shutdown: shutdown.clone(),
        });
        tracing::info!(
            protocol = listener.protocol,
            addr = %addr,
            "syslog input is listening"
        );
        match socket {
            Bound::Udp(s) => udp::spawn(s, listener),
            Bound::Tcp(l) => tcp::spawn(l, None, listener),
            Bound::Tls(l, acceptor) => tcp::spawn(l, Some(acceptor), listener),
        }
        addrs.push(addr);
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SyslogInputConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_and_names() {
        let c = parse("protocol = \"udp\"\nlisten = \"0.0.0.0:514\"").unwrap();
        assert_eq!(
            c,
            SyslogInputConfig::new(SyslogProtocol::Udp, "0.0.0.0:514".parse().unwrap())
        );
        assert!(c.validate().is_ok());
        assert!(parse("protocol = \"UDP\"\nlisten = \"0.0.0.0:514\"").is_err());
        assert!(parse("protocol = \"tcp\"\nlisten = \"0.0.0.0:514\"\nport = 1").is_err());
    }

    #[test]
    fn mapped_ipv4_peers_are_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:514".parse().unwrap();
        assert_eq!(canonical(mapped), "10.1.2.3:514".parse().unwrap());
        let v6: SocketAddr = "[2001:db8::1]:514".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn validation() {
        let addr = "127.0.0.1:6514".parse().unwrap();
        let tls = SyslogInputConfig::new(SyslogProtocol::Tls, addr);
        assert!(tls.validate().unwrap_err().to_string().contains("tls_cert"));
        let mut tcp = SyslogInputConfig::new(SyslogProtocol::Tcp, addr);
        tcp.tls_key = Some("k.pem".into());
        assert_eq!(
            tcp.validate().unwrap_err().to_string(),
            "tls_key is set on a tcp listener"
        );
        let mut tls = SyslogInputConfig {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            tls_client_required: true,
            ..tls
        };
        assert!(tls.validate().is_err());
        tls.tls_client_ca = Some("ca.pem".into());
        assert!(tls.validate().is_ok());
        let zero = SyslogInputConfig {
            max_message_bytes: 0,
            ..SyslogInputConfig::new(SyslogProtocol::Udp, addr)
        };
        assert!(zero.validate().is_err());
    }
}

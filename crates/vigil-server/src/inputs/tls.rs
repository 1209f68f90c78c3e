//! TLS (RFC 5425): the server configuration from PEM files, and the
//! handshake of one connection with its client identities.
//!
//! The crypto is rustls with the ring provider (aws-lc-rs, rustls's
//! default, needs cmake to build).

use super::identity::client_names;
use super::{Listener, SyslogInputConfig};
use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake not done by then is abandoned: a client that connects and
/// says nothing must not hold a connection slot for the idle timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the acceptor of a `tls` listener from its PEM files.
pub(super) fn acceptor(config: &SyslogInputConfig) -> anyhow::Result<TlsAcceptor> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        anyhow::bail!("a tls listener needs tls_cert and tls_key");
    };
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("no TLS version available")?;
    let builder = match &config.tls_client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(
            ca,
            config.tls_client_required,
            provider,
        )?),
    };
    let server = builder
        .with_single_cert(chain, key)
        .with_context(|| format!("the key does not suit the certificate {}", cert.display()))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read certificates from {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

fn client_verifier(
    ca: &Path,
    required: bool,
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots
            .add(cert)
            .with_context(|| format!("a CA certificate in {} is not usable", ca.display()))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .with_context(|| format!("cannot verify clients with {}", ca.display()))
}

/// Runs the handshake; on failure counts and logs it and returns `None`.
pub(super) async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    listener: &Listener,
) -> Option<(TlsStream<TcpStream>, Option<Arc<[String]>>)> {
    let error = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let names = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| Arc::from(client_names(cert.as_ref())));
            return Some((stream, names));
        }
        Ok(Err(e)) => e,
        Err(_) => std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"),
    };
    listener.metrics.syslog.tls_handshake_failures.inc();
    // A rejected certificate is a sender to fix: worth a warning. Anything
    // else (scanners, plain text on the port) would only flood the log.
    if is_certificate_error(&error) {
        tracing::warn!(%peer, error = %error, "syslog TLS client refused");
    } else {
        tracing::debug!(%peer, error = %error, "syslog TLS handshake failed");
    }
    None
}

fn is_certificate_error(error: &std::io::Error) -> bool {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    matches!(
        rustls_error,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

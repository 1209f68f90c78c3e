//! TLS for HTTPS checks: the handshake, and what a check wants to know of
//! the certificate (days to expiry, whether the chain verifies).
//!
//! The handshake accepts any certificate (its signatures over the handshake
//! are still verified) and the chain is verified afterwards, on its own.
//! A check must report the expiry of a certificate it does not trust, and
//! say *why* it does not trust it, rather than fail with a handshake error.
//!
//! Roots are the system bundle, a CA file named in the MSP's config, or CA
//! certificates given as PEM text with the check (what a tenant gives: the
//! server reads no file on a tenant's behalf). Each is read once and kept;
//! a file is read only when it is a regular file, and at most
//! [`MAX_CA_BYTES`] of it.

use crate::reason::Failure;
use crate::run::Budget;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Where the system's CA bundle is (Debian, Ubuntu, Alpine, Arch).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The most bytes of CA certificates a check may carry or a CA file may
/// hold.
pub const MAX_CA_BYTES: usize = 64 * 1024;

/// Verifiers kept at most; past this the cache starts again (PEM texts are
/// per check, and checks come and go).
const MAX_VERIFIERS: usize = 256;

/// What a chain is verified against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Roots<'a> {
    System,
    /// A CA file of a check from the MSP's config.
    File(&'a Path),
    /// CA certificates as PEM text, kept with the check.
    Pem(&'a str),
}

/// What the handshake showed of the server's certificate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CertInfo {
    /// Negative once expired; `None` when the certificate does not parse.
    pub expiry_days: Option<f64>,
    /// Why the chain does not verify, worded for an operator.
    pub untrusted: Option<String>,
}

/// Connects TLS over `stream` and verifies the chain against the roots of
/// `roots`.
pub(crate) async fn handshake(
    stream: TcpStream,
    host: &str,
    roots: Roots<'_>,
    budget: Budget,
) -> Result<(TlsStream<TcpStream>, CertInfo), Failure> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Failure::error(format!("{host:?} is not a name TLS can check")))?;
    let verifier = chain_verifier(roots)?;
    let connect = async {
        TlsConnector::from(client_config())
            .connect(name.clone(), stream)
            .await
            .map_err(|e| Failure::io(&e, "in the TLS handshake"))
    };
    let tls = budget.within("the TLS handshake", connect).await?;
    let chain = tls.get_ref().1.peer_certificates().unwrap_or_default();
    let info = inspect(chain, &name, &verifier, host);
    Ok((tls, info))
}

fn inspect(
    chain: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    verifier: &WebPkiServerVerifier,
    host: &str,
) -> CertInfo {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return CertInfo {
            expiry_days: None,
            untrusted: Some("the server sent no certificate".into()),
        };
    };
    let untrusted = verifier
        .verify_server_cert(leaf, intermediates, name, &[], UnixTime::now())
        .err()
        .map(|e| match is_self_signed(leaf) && intermediates.is_empty() {
            true => "certificate not trusted (self-signed)".to_owned(),
            false => describe(&e, host),
        });
    CertInfo {
        expiry_days: expiry_days(leaf, SystemTime::now()),
        untrusted,
    }
}

fn is_self_signed(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, cert)| cert.subject().as_raw() == cert.issuer().as_raw())
}

/// Days from `now` to the certificate's notAfter.
pub(crate) fn expiry_days(der: &[u8], now: SystemTime) -> Option<f64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp() as f64;
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    Some((not_after - now) / 86_400.0)
}

fn describe(error: &rustls::Error, host: &str) -> String {
    let rustls::Error::InvalidCertificate(error) = error else {
        return format!("certificate not trusted: {error}");
    };
    match error {
        CertificateError::UnknownIssuer => "certificate not trusted (unknown issuer)".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not valid yet".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("certificate not valid for {host}")
        }
        CertificateError::Revoked => "certificate revoked".into(),
        // Other reasons carry the library's own words at most; a fixed
        // phrase keeps internals (and anything the peer sent) out.
        _ => "certificate not trusted".into(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = provider();
            let algorithms = provider.signature_verification_algorithms;
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(algorithms)))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Where verifiers are kept: by file (`None`: the system bundle) or by PEM
/// text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum RootsKey {
    File(Option<PathBuf>),
    Pem(String),
}

/// Verifiers by their roots. Failures are not kept: a missing CA file may
/// be put in place later.
fn chain_verifier(roots: Roots<'_>) -> Result<Arc<WebPkiServerVerifier>, Failure> {
    static VERIFIERS: OnceLock<Mutex<HashMap<RootsKey, Arc<WebPkiServerVerifier>>>> =
        OnceLock::new();
    let verifiers = VERIFIERS.get_or_init(Default::default);
    let key = match roots {
        Roots::System => RootsKey::File(None),
        Roots::File(path) => RootsKey::File(Some(path.to_path_buf())),
        Roots::Pem(text) => RootsKey::Pem(text.to_owned()),
    };
    if let Some(found) = lock(verifiers).get(&key) {
        return Ok(found.clone());
    }
    let store = match roots {
        Roots::System => load_roots(Path::new(SYSTEM_CA_BUNDLE)),
        Roots::File(path) => load_roots(path),
        Roots::Pem(text) => pem_roots(text.as_bytes()).map_err(|e| format!("ca_pem: {e}")),
    }
    .map_err(Failure::error)?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| Failure::error(format!("cannot verify with these CA certificates: {e}")))?;
    let mut kept = lock(verifiers);
    if kept.len() >= MAX_VERIFIERS {
        kept.clear();
    }
    kept.insert(key, verifier.clone());
    Ok(verifier)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A CA file: only a regular file (not a device, a pipe or a directory),
/// and at most [`MAX_CA_BYTES`] of it; the system bundle may be larger.
fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let cannot = |e: &dyn std::fmt::Display| {
        format!("cannot read CA certificates from {}: {e}", path.display())
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let meta = file.metadata().map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    let cap = match path == Path::new(SYSTEM_CA_BUNDLE) {
        true => 16 * 1024 * 1024,
        false => MAX_CA_BYTES,
    };
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() > cap {
        return Err(cannot(&format!("over {cap} bytes")));
    }
    pem_roots(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The CA certificates of PEM text; at least one must be usable.
pub(crate) fn pem_roots(pem: &[u8]) -> Result<RootCertStore, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not PEM certificates".to_owned())?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err("no usable CA certificate".to_owned());
    }
    Ok(roots)
}

/// Accepts any chain; checks the handshake's signatures with the
/// provider's algorithms, as the real verifier would.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

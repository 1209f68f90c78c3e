//! HTTPS checks against a TLS server here, with certificates made by the
//! `openssl` command for each run: a test CA, a server certificate it
//! signed that expires in 10 days, and a self-signed one.

mod common;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use vigil_checks::{run_check, CheckKind, CheckResult, CheckState, NetworkPolicy};

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

fn make_pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut ca = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=Vigil Test CA",
    ];
    ca.extend(EC);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(d, &ca);
    let mut csr = vec!["req", "-nodes", "-subj", "/CN=vigil.test"];
    csr.extend(EC);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr"]);
    openssl(d, &csr);
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=DNS:vigil.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "10",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
    let mut own = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "10",
        "-subj",
        "/CN=vigil.test",
    ];
    own.extend(EC);
    own.extend([
        "-keyout",
        "self.key",
        "-out",
        "self.pem",
        "-addext",
        "subjectAltName=DNS:vigil.test,IP:127.0.0.1",
    ]);
    openssl(d, &own);
    Pki { dir }
}

fn acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn page(_: &str) -> Vec<u8> {
    response("200 OK", &[], "secure hello")
}

async fn https_check(url: String, ca: Option<PathBuf>, verify: bool, min_days: u32) -> CheckResult {
    let kind = CheckKind::Http {
        url,
        expect_status: None,
        expect_text: Some("secure hello".into()),
        follow_redirects: 0,
        verify_tls: verify,
        ca_file: ca,
        ca_pem: None,
        cert_min_days: min_days,
    };
    run_check(&spec(kind, "secure", 3000), &NetworkPolicy::permissive()).await
}

#[tokio::test]
async fn a_certificate_of_the_test_ca_is_valid_and_expires_in_ten_days() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("leaf.pem"), &pki.path("leaf.key")), page).await;
    let url = format!("https://{addr}/");
    let result = https_check(url.clone(), Some(pki.path("ca.pem")), true, 7).await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");
    let days = result.sample("vigil_tls_cert_expiry_days").unwrap();
    assert!((9.9..=10.01).contains(&days), "{days}");
    assert_eq!(result.sample("vigil_tls_cert_valid"), Some(1.0));

    let result = https_check(url.clone(), Some(pki.path("ca.pem")), true, 30).await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "certificate expires in 10 days".into()
        }
    );

    // Without the test CA, the system's roots do not know the issuer.
    let result = https_check(url, None, true, 7).await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "certificate not trusted (unknown issuer)".into()
        }
    );
    assert_eq!(result.sample("vigil_tls_cert_valid"), Some(0.0));
}

#[tokio::test]
async fn a_self_signed_certificate_is_flagged() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("self.pem"), &pki.path("self.key")), page).await;
    let url = format!("https://{addr}/");
    let result = https_check(url.clone(), Some(pki.path("ca.pem")), true, 7).await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "certificate not trusted (self-signed)".into()
        }
    );
    assert_eq!(result.sample("vigil_tls_cert_valid"), Some(0.0));
    assert!(result.sample("vigil_tls_cert_expiry_days").unwrap() > 9.9);

    // Not verifying: up, and the invalid chain still shows in the samples.
    let result = https_check(url, Some(pki.path("ca.pem")), false, 7).await;
    assert_eq!(result.state, CheckState::Up);
    assert_eq!(result.sample("vigil_tls_cert_valid"), Some(0.0));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_flagged() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("leaf.pem"), &pki.path("leaf.key")), page).await;
    let url = format!("https://localhost:{}/", addr.port());
    let result = https_check(url, Some(pki.path("ca.pem")), true, 7).await;
    assert_eq!(
        result.state.reason(),
        Some("certificate not valid for localhost")
    );
}

#[tokio::test]
async fn a_tls_server_that_never_answers_times_out_in_the_handshake() {
    let addr = silent_listener().await;
    let result = https_check(format!("https://{addr}/"), None, true, 7).await;
    assert_eq!(
        result.state,
        CheckState::Error {
            reason: "timed out after 3s waiting for the TLS handshake".into()
        }
    );
}

#[tokio::test]
async fn a_missing_ca_file_is_an_error_not_down() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("leaf.pem"), &pki.path("leaf.key")), page).await;
    let result = https_check(
        format!("https://{addr}/"),
        Some(pki.path("absent.pem")),
        true,
        7,
    )
    .await;
    let CheckState::Error { reason } = &result.state else {
        panic!("{result:?}");
    };
    assert!(
        reason.starts_with("cannot read CA certificates from"),
        "{reason}"
    );
}

#[tokio::test]
async fn ca_certificates_as_pem_text_verify_the_chain() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("leaf.pem"), &pki.path("leaf.key")), page).await;
    let kind = CheckKind::Http {
        url: format!("https://{addr}/"),
        expect_status: None,
        expect_text: Some("secure hello".into()),
        follow_redirects: 0,
        verify_tls: true,
        ca_file: None,
        ca_pem: Some(std::fs::read_to_string(pki.path("ca.pem")).unwrap()),
        cert_min_days: 7,
    };
    let spec = spec(kind, "secure", 3000);
    spec.validate().unwrap();
    let result = run_check(&spec, &NetworkPolicy::permissive()).await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");
    assert_eq!(result.sample("vigil_tls_cert_valid"), Some(1.0));
}

/// A device as a CA file is refused at once, never read (it used to spin
/// the server reading /dev/urandom forever).
#[tokio::test]
async fn a_device_as_ca_file_is_an_error_at_once() {
    let pki = make_pki();
    let addr = https_server(acceptor(&pki.path("leaf.pem"), &pki.path("leaf.key")), page).await;
    let result = https_check(
        format!("https://{addr}/"),
        Some(PathBuf::from("/dev/urandom")),
        true,
        7,
    )
    .await;
    let CheckState::Error { reason } = &result.state else {
        panic!("{result:?}");
    };
    assert!(reason.contains("not a regular file"), "{reason}");
}

//! Who a TLS client is, read from its certificate: the names a tenant
//! mapping can match on.

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// The identities of a client certificate (DER): its subject common
/// names, its DNS subject alternative names, and `sha256:<hex>` of the
/// whole certificate, without repeats. The fingerprint is always there,
/// so a certificate whose names cannot be read is still identified.
pub fn client_names(der: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok((_, cert)) = X509Certificate::from_der(der) {
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok());
        for name in common_names {
            push_unique(&mut names, name);
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for general in &san.value.general_names {
                if let GeneralName::DNSName(name) = general {
                    push_unique(&mut names, name);
                }
            }
        }
    }
    names.push(fingerprint(der));
    names
}

/// `sha256:` and the lowercase hex SHA-256 of the DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

fn push_unique(names: &mut Vec<String>, name: &str) {
    if !name.is_empty() && !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_still_has_a_fingerprint() {
        assert_eq!(
            client_names(b"not a certificate"),
            [fingerprint(b"not a certificate")]
        );
        assert_eq!(
            fingerprint(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

//! API token secrets: generation, format and the hash that is stored.
//!
//! A token is 256 bits from the OS RNG, so a fast hash is enough: nobody can
//! search that space, and `authenticate` runs on every request. Only the
//! SHA-256 of the token is stored; a stolen database yields no usable token.

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that lets secret scanners and people recognise a Vigil token.
pub(crate) const PREFIX: &str = "vgl_";

const SECRET_BYTES: usize = 32;

/// A fresh token: `vgl_` and 64 lowercase hex digits.
pub(crate) fn generate() -> String {
    let mut secret = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut secret);
    format!("{PREFIX}{}", hex::encode(secret))
}

/// Whether `token` has the shape of one we issue; anything else is refused
/// before touching the database.
pub(crate) fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == SECRET_BYTES * 2
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What is stored and looked up: SHA-256 of the whole token, lowercase hex.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(is_well_formed(&a), "{a}");
    }

    #[test]
    fn rejects_other_shapes() {
        let hex64 = "0".repeat(64);
        assert!(is_well_formed(&format!("vgl_{hex64}")));
        for bad in [
            String::new(),
            hex64.clone(),
            format!("VGL_{hex64}"),
            format!("vgl_{}", "A".repeat(64)),
            format!("vgl_{}", "0".repeat(63)),
            format!("vgl_{hex64}0"),
            format!("vgl_{}g", "0".repeat(63)),
        ] {
            assert!(!is_well_formed(&bad), "{bad}");
        }
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

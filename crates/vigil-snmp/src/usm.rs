//! The User-based Security Model's cryptography (RFC 3414, 3826, 7860):
//! keys from passwords, localized to one engine; HMAC authentication;
//! AES-128-CFB privacy.
//!
//! Passwords are turned into keys once per engine (a megabyte of hashing
//! each), so a client keeps the localized keys with the engine it found.

use aes::Aes128;
use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Authentication protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthProtocol {
    /// usmHMACSHAAuthProtocol: HMAC-SHA-96 (RFC 3414).
    Sha1,
    /// usmHMAC192SHA256AuthProtocol: HMAC-SHA-256 cut to 192 bits (RFC 7860).
    Sha256,
}

/// Privacy protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrivProtocol {
    /// usmAesCfb128Protocol (RFC 3826).
    Aes128,
}

/// Shortest password RFC 3414 (and net-snmp) accept.
pub const MIN_PASSWORD_LEN: usize = 8;

impl AuthProtocol {
    /// Bytes of the truncated MAC carried in msgAuthenticationParameters.
    pub fn mac_len(self) -> usize {
        match self {
            AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha256 => 24,
        }
    }

    fn hash(self, data: &[&[u8]]) -> Vec<u8> {
        match self {
            AuthProtocol::Sha1 => {
                let mut h = Sha1::new();
                data.iter().for_each(|d| h.update(d));
                h.finalize().to_vec()
            }
            AuthProtocol::Sha256 => {
                let mut h = Sha256::new();
                data.iter().for_each(|d| h.update(d));
                h.finalize().to_vec()
            }
        }
    }

    /// The password-to-key algorithm (RFC 3414 A.2): the hash of one
    /// megabyte of the password repeated.
    pub fn password_to_key(self, password: &[u8]) -> Vec<u8> {
        if password.is_empty() {
            return self.hash(&[]);
        }
        const TOTAL: usize = 1 << 20;
        let mut block = [0u8; 64];
        let mut index = 0;
        let mut feed = |h: &mut dyn FnMut(&[u8])| {
            for _ in 0..TOTAL / 64 {
                for b in block.iter_mut() {
                    *b = password[index % password.len()];
                    index += 1;
                }
                h(&block);
            }
        };
        match self {
            AuthProtocol::Sha1 => {
                let mut h = Sha1::new();
                feed(&mut |b| h.update(b));
                h.finalize().to_vec()
            }
            AuthProtocol::Sha256 => {
                let mut h = Sha256::new();
                feed(&mut |b| h.update(b));
                h.finalize().to_vec()
            }
        }
    }

    /// Localizes a key to an engine: H(key || engineID || key).
    pub fn localize(self, key: &[u8], engine_id: &[u8]) -> Vec<u8> {
        self.hash(&[key, engine_id, key])
    }

    /// The truncated HMAC of a whole message (its auth parameters zeroed).
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut full = match self {
            AuthProtocol::Sha1 => {
                let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key");
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            AuthProtocol::Sha256 => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
        };
        full.truncate(self.mac_len());
        full
    }
}

/// Compares two MACs in time that does not depend on where they differ.
pub fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The RFC 3826 IV: engine boots and time (big-endian) then the 8-byte salt.
fn aes_iv(boots: i32, time: i32, salt: &[u8; 8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&boots.to_be_bytes());
    iv[4..8].copy_from_slice(&time.to_be_bytes());
    iv[8..].copy_from_slice(salt);
    iv
}

/// The first 16 bytes of a localized privacy key, the AES-128 key.
fn aes_key(priv_key: &[u8]) -> Option<[u8; 16]> {
    priv_key.get(..16)?.try_into().ok()
}

/// Encrypts a scoped PDU in place with AES-128-CFB.
pub fn aes_encrypt(priv_key: &[u8], boots: i32, time: i32, salt: &[u8; 8], data: &mut [u8]) {
    if let Some(key) = aes_key(priv_key) {
        let iv = aes_iv(boots, time, salt);
        cfb_mode::Encryptor::<Aes128>::new(&key.into(), &iv.into()).encrypt(data);
    }
}

/// Decrypts in place; `None` when the salt is not 8 bytes.
pub fn aes_decrypt(
    priv_key: &[u8],
    boots: i32,
    time: i32,
    salt: &[u8],
    data: &mut [u8],
) -> Option<()> {
    let salt: &[u8; 8] = salt.try_into().ok()?;
    let key = aes_key(priv_key)?;
    let iv = aes_iv(boots, time, salt);
    cfb_mode::Decryptor::<Aes128>::new(&key.into(), &iv.into()).decrypt(data);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 3414 A.3.2: "maplesyrup" and engine 000000000000000000000002.
    #[test]
    fn rfc3414_sha1_key_localization() {
        let ku = AuthProtocol::Sha1.password_to_key(b"maplesyrup");
        assert_eq!(hex(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
        let engine = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let kul = AuthProtocol::Sha1.localize(&ku, &engine);
        assert_eq!(hex(&kul), "6695febc9288e36282235fc7151f128497b38f3f");
    }

    /// RFC 7860 has no vector; this is the commonly published one for
    /// SHA-256 with "maplesyrup" and the same engine.
    #[test]
    fn sha256_key_localization() {
        let ku = AuthProtocol::Sha256.password_to_key(b"maplesyrup");
        let engine = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let kul = AuthProtocol::Sha256.localize(&ku, &engine);
        assert_eq!(
            hex(&kul),
            "8982e0e549e866db361a6b625d84cccc11162d453ee8ce3a6445c2d6776f0f8b"
        );
    }

    #[test]
    fn aes_round_trips_and_depends_on_the_iv() {
        let key = [7u8; 20];
        let mut data = b"a scoped PDU of some length".to_vec();
        aes_encrypt(&key, 1, 2, &[3; 8], &mut data);
        assert_ne!(&data[..], b"a scoped PDU of some length");
        let mut wrong = data.clone();
        aes_decrypt(&key, 1, 3, &[3; 8], &mut wrong).unwrap();
        assert_ne!(&wrong[..], b"a scoped PDU of some length");
        aes_decrypt(&key, 1, 2, &[3; 8], &mut data).unwrap();
        assert_eq!(&data[..], b"a scoped PDU of some length");
        assert!(aes_decrypt(&key, 1, 2, &[3; 7], &mut data).is_none());
    }

    #[test]
    fn macs_are_truncated() {
        assert_eq!(AuthProtocol::Sha1.mac(b"k", b"m").len(), 12);
        assert_eq!(AuthProtocol::Sha256.mac(b"k", b"m").len(), 24);
        assert!(mac_eq(b"abc", b"abc") && !mac_eq(b"abc", b"abd") && !mac_eq(b"ab", b"abc"));
    }
}

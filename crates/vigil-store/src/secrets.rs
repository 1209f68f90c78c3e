//! Secrets at rest: SNMP communities and v3 passwords today, and every
//! secret added later (webhook and SMTP credentials) the same way.
//!
//! A [`Sealer`] holds a 32-byte key kept in the data directory
//! (`secret.key`, created mode 0600 on first start) and seals a value with
//! ChaCha20-Poly1305 (ring's AEAD, already in the build for TLS) under a
//! random 96-bit nonce: `enc:v1:<base64(nonce || ciphertext || tag)>`. A
//! value without that prefix is a plaintext written before sealing existed:
//! it still reads, and is sealed on its next write (the server also seals
//! such rows at start).
//!
//! What the API shows of a secret is [`SHOWN`] (`"set"`), whatever the
//! caller's role: [`redact_fields`]. Nothing here prints a key or a value
//! (`Sealer`'s `Debug` says only that it is one).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::Path;

/// The key file, in the data directory.
pub const KEY_FILE: &str = "secret.key";
const KEY_LEN: usize = 32;
/// The prefix of a sealed value (the version names key use and format).
pub const SEALED_PREFIX: &str = "enc:v1:";
/// What the API shows in place of a secret that is set.
pub const SHOWN: &str = "set";

/// The settings of a check that are secrets: never shown, sealed at rest.
pub const CHECK_SECRET_FIELDS: &[&str] = &["community", "auth_password", "priv_password"];

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("a sealed value cannot be opened with this server's key (was secret.key replaced?)")]
    Open,
    #[error("no random numbers from the system")]
    Random,
}

/// Seals and opens secrets with the data directory's key.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The key of `dir/secret.key`, made (32 random bytes, mode 0600) when
    /// there is none.
    pub fn open_or_create(dir: &Path) -> Result<Sealer, SecretError> {
        let path = dir.join(KEY_FILE);
        let failed = |reason: String| SecretError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] = bytes
                    .try_into()
                    .map_err(|_| failed(format!("not {KEY_LEN} bytes")))?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| SecretError::Random)?;
                write_new_private(&path, &key).map_err(|e| failed(e.to_string()))?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(failed(e.to_string())),
        }
    }

    pub fn from_key(key: &[u8; KEY_LEN]) -> Sealer {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is a ChaCha20-Poly1305 key"));
        Sealer {
            key: LessSafeKey::new(unbound),
            random: SystemRandom::new(),
        }
    }

    /// `enc:v1:<base64(nonce || ciphertext)>`.
    pub fn seal(&self, plain: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut sealed = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| SecretError::Random)?;
        let mut out = nonce.to_vec();
        out.append(&mut sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plaintext of a sealed value; a value without the prefix is a
    /// plaintext from before sealing and comes back as it is.
    pub fn open(&self, text: &str) -> Result<String, SecretError> {
        let Some(encoded) = text.strip_prefix(SEALED_PREFIX) else {
            return Ok(text.to_owned());
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Open);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Open)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut sealed)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Open)
    }

    /// Seals the string values of `fields` in `map` that are not sealed yet.
    pub fn seal_fields(
        &self,
        map: &mut Map<String, Value>,
        fields: &[&str],
    ) -> Result<(), SecretError> {
        for field in fields {
            if let Some(Value::String(value)) = map.get_mut(*field) {
                if !is_sealed(value) {
                    *value = self.seal(value)?;
                }
            }
        }
        Ok(())
    }

    /// Opens the values of `fields` in `map`. One that cannot be opened
    /// stays sealed (whoever reads it refuses it, saying why) rather than
    /// failing the whole read.
    pub fn open_fields(&self, map: &mut Map<String, Value>, fields: &[&str]) {
        for field in fields {
            if let Some(Value::String(value)) = map.get_mut(*field) {
                if let Ok(plain) = self.open(value) {
                    *value = plain;
                }
            }
        }
    }
}

pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// Shows each of `fields` that is present as [`SHOWN`]; on a JSON object,
/// and on nothing else.
pub fn redact_fields(value: &mut Value, fields: &[&str]) {
    if let Value::Object(map) = value {
        for field in fields {
            if let Some(v) = map.get_mut(*field) {
                *v = Value::String(SHOWN.to_owned());
            }
        }
    }
}

/// A partial update of an object with secrets: a secret the patch leaves
/// out, or gives as [`SHOWN`], keeps its current value.
pub fn keep_unchanged_secrets(patch: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if patch.get(*field).and_then(Value::as_str) == Some(SHOWN) {
            patch.remove(*field);
        }
    }
}

/// Creates `path` with `bytes`, mode 0600, failing if it exists.
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seals_and_opens_and_keeps_plaintext_readable() {
        let sealer = Sealer::from_key(&[7; 32]);
        let sealed = sealer.seal("s3cret-community").unwrap();
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            sealer.seal("s3cret-community").unwrap(),
            "fresh nonce"
        );
        assert_eq!(sealer.open(&sealed).unwrap(), "s3cret-community");
        assert_eq!(sealer.open("legacy plain").unwrap(), "legacy plain");
        let other = Sealer::from_key(&[8; 32]);
        assert!(other.open(&sealed).is_err());
        assert!(sealer.open("enc:v1:!!").is_err());
        assert!(sealer.open("enc:v1:AAAA").is_err());
        assert_eq!(format!("{sealer:?}"), "Sealer(..)");
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::open_or_create(dir.path()).unwrap();
        let sealed = first.seal("x").unwrap();
        let meta = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        let again = Sealer::open_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "x");
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(Sealer::open_or_create(dir.path()).is_err());
    }

    #[test]
    fn fields_are_sealed_redacted_and_kept() {
        let sealer = Sealer::from_key(&[1; 32]);
        let mut spec = json!({"community": "public", "target": "h"});
        let map = spec.as_object_mut().unwrap();
        sealer.seal_fields(map, CHECK_SECRET_FIELDS).unwrap();
        let sealed = map["community"].as_str().unwrap().to_owned();
        assert!(is_sealed(&sealed));
        sealer.seal_fields(map, CHECK_SECRET_FIELDS).unwrap();
        assert_eq!(map["community"], sealed.as_str(), "not sealed twice");
        sealer.open_fields(map, CHECK_SECRET_FIELDS);
        assert_eq!(map["community"], "public");
        redact_fields(&mut spec, CHECK_SECRET_FIELDS);
        assert_eq!(spec, json!({"community": "set", "target": "h"}));
        let mut patch = json!({"community": "set", "auth_password": "new"});
        keep_unchanged_secrets(patch.as_object_mut().unwrap(), CHECK_SECRET_FIELDS);
        assert_eq!(patch, json!({"auth_password": "new"}));
    }
}

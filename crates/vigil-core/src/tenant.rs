//! Tenants: the client networks an MSP watches.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Database id of a tenant. Every stored record carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub i64);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A tenant's unique short name (`acme`), usable wherever a tenant is named.
///
/// 1 to 63 characters of lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit: safe in URLs, file names and labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant name {name:?}: {reason}")]
pub struct TenantNameError {
    pub name: String,
    pub reason: &'static str,
}

impl TenantName {
    pub fn new(name: &str) -> Result<Self, TenantNameError> {
        let fail = |reason| {
            Err(TenantNameError {
                name: name.to_string(),
                reason,
            })
        };
        if name.is_empty() || name.len() > 63 {
            return fail("must be 1 to 63 characters long");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return fail("only lowercase letters, digits, '-' and '_' are allowed");
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return fail("must start with a letter or a digit");
        }
        Ok(TenantName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_short_names() {
        for ok in ["acme", "a", "client-42", "x_y", "0day"] {
            assert!(TenantName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "Acme", "a b", "-x", "a/b", &"x".repeat(64), "é"] {
            assert!(TenantName::new(bad).is_err(), "{bad}");
        }
    }
}

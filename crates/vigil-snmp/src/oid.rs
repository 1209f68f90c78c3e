//! Object identifiers: what SNMP names every value by.
//!
//! An [`Oid`] is a list of arcs. Its ordering is the lexicographic one of
//! its arcs, which is the order agents walk their MIBs in, so a walk can
//! check that every answer moves forward.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Most arcs an OID may have (RFC 2578 says 128).
pub const MAX_ARCS: usize = 128;

/// An object identifier such as `1.3.6.1.2.1.1.3.0`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Oid(Vec<u32>);

/// Why text is not an OID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OID {text:?}: {reason}")]
pub struct OidError {
    pub text: String,
    pub reason: &'static str,
}

impl Oid {
    /// An OID from its arcs; `None` unless it has 2 to [`MAX_ARCS`] arcs
    /// and a first arc BER can encode (0, 1 or 2, and under 40 after 0 or 1).
    pub fn from_arcs(arcs: &[u32]) -> Option<Oid> {
        match arcs {
            [first, second, ..]
                if arcs.len() <= MAX_ARCS
                    && (*first < 2 && *second < 40 || *first == 2 && *second <= u32::MAX - 80) =>
            {
                Some(Oid(arcs.to_vec()))
            }
            _ => None,
        }
    }

    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Whether `self` is `root` or lies under it.
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }

    /// This OID with `arc` appended (a column plus an index, say).
    pub fn child(&self, arc: u32) -> Oid {
        let mut arcs = self.0.clone();
        if arcs.len() < MAX_ARCS {
            arcs.push(arc);
        }
        Oid(arcs)
    }

    /// The last arc: a table's index when it is a single integer.
    pub fn last(&self) -> u32 {
        self.0.last().copied().unwrap_or(0)
    }

    /// Built from arcs already checked by the decoder.
    pub(crate) fn from_vec_unchecked(arcs: Vec<u32>) -> Oid {
        Oid(arcs)
    }
}

impl FromStr for Oid {
    type Err = OidError;

    fn from_str(text: &str) -> Result<Oid, OidError> {
        let fail = |reason| OidError {
            text: text.to_string(),
            reason,
        };
        let body = text.strip_prefix('.').unwrap_or(text);
        let mut arcs = Vec::new();
        for part in body.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail("arcs are decimal numbers separated by dots"));
            }
            arcs.push(
                part.parse()
                    .map_err(|_| fail("an arc is over 4294967295"))?,
            );
            if arcs.len() > MAX_ARCS {
                return Err(fail("more than 128 arcs"));
            }
        }
        Oid::from_arcs(&arcs).ok_or_else(|| fail("needs two arcs, the first 0, 1 or 2"))
    }
}

impl TryFrom<String> for Oid {
    type Error = OidError;
    fn try_from(text: String) -> Result<Oid, OidError> {
        text.parse()
    }
}

impl From<Oid> for String {
    fn from(oid: Oid) -> String {
        oid.to_string()
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// An OID from a literal known to be valid (for the MIB constants).
pub(crate) fn oid(arcs: &[u32]) -> Oid {
    Oid(arcs.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let o: Oid = "1.3.6.1.2.1.1.3.0".parse().unwrap();
        assert_eq!(o.arcs(), &[1, 3, 6, 1, 2, 1, 1, 3, 0]);
        assert_eq!(o.to_string(), "1.3.6.1.2.1.1.3.0");
        assert_eq!(".1.3.6".parse::<Oid>().unwrap().to_string(), "1.3.6");
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "1",
            "1..2",
            "1.3.x",
            "3.1",
            "1.40",
            "1.3.99999999999",
            "1.3.",
        ] {
            assert!(bad.parse::<Oid>().is_err(), "{bad}");
        }
        let long = vec!["1"; 129].join(".");
        assert!(long.parse::<Oid>().is_err());
    }

    #[test]
    fn orders_like_a_walk() {
        let a: Oid = "1.3.6.1.2.1.2".parse().unwrap();
        let b: Oid = "1.3.6.1.2.1.2.1".parse().unwrap();
        let c: Oid = "1.3.6.1.2.1.10".parse().unwrap();
        assert!(a < b && b < c);
        assert!(b.starts_with(&a) && !c.starts_with(&a));
    }
}

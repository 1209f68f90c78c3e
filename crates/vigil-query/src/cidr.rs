//! Recognising `address/length` network values.
//!
//! Shared by the parser (which turns them into [`Predicate::Cidr`]) and the
//! renderer (which must escape an equality value that would otherwise read
//! back as a network).
//!
//! [`Predicate::Cidr`]: crate::Predicate::Cidr

use std::net::IpAddr;

/// What a bare value is, as far as networks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cidr {
    /// Not `ip/digits`: an ordinary value.
    No,
    /// A network, the address kept as written (the index masks it).
    Network(IpAddr, u8),
    /// `ip/digits` with a length beyond the address's bits: a mistake, not a
    /// value to search for.
    TooLong {
        /// Character offset of the length within the value.
        offset: usize,
        /// The largest length for this kind of address.
        max: u8,
    },
}

/// Classifies a value: an IP address, `/`, then ASCII digits.
pub(crate) fn classify(value: &str) -> Cidr {
    let Some((addr, len)) = value.split_once('/') else {
        return Cidr::No;
    };
    let Ok(network) = addr.parse::<IpAddr>() else {
        return Cidr::No;
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Cidr::No;
    }
    let max = if network.is_ipv4() { 32 } else { 128 };
    match len.parse::<u8>() {
        Ok(prefix_len) if prefix_len <= max => Cidr::Network(network, prefix_len),
        _ => Cidr::TooLong {
            offset: addr.chars().count() + 1,
            max,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_non_networks() {
        let v4: IpAddr = "10.0.0.0".parse().expect("address");
        assert_eq!(classify("10.0.0.0/8"), Cidr::Network(v4, 8));
        let v6: IpAddr = "2001:db8::".parse().expect("address");
        assert_eq!(classify("2001:db8::/32"), Cidr::Network(v6, 32));
        assert_eq!(classify("10.0.0.0"), Cidr::No);
        assert_eq!(classify("10.0.0.0/"), Cidr::No);
        assert_eq!(classify("10.0.0.0/x"), Cidr::No);
        assert_eq!(classify("host/8"), Cidr::No);
        assert_eq!(
            classify("10.0.0.0/33"),
            Cidr::TooLong { offset: 9, max: 32 }
        );
        assert_eq!(
            classify("::/99999999999"),
            Cidr::TooLong {
                offset: 3,
                max: 128
            }
        );
    }
}

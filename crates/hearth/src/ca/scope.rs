//! What Hearth's CA may vouch for, in one place: the names and addresses of a home, never a
//! public name. The CA is written into its own certificate as X.509 name constraints (marked
//! critical, so a client that cannot read them must refuse the CA), and the server certificates
//! it issues hold only names and addresses inside them (a leaf naming anything else would fail
//! every client's check).
//!
//! A CA installed on the family's phones is trusted for every website they visit, unless its
//! certificate says otherwise. Constrained, a stolen key can impersonate only `.local` names and
//! private addresses: devices of the home, not the bank.
//!
//! Not included, on purpose: a bare host name (`nas`, `pi`). A DNS constraint covers every name
//! under it, and many one-label names are public top-level domains (a server called `dev` or
//! `app` would let the CA vouch for every `.dev` or `.app` site). Devices reach Hearth by its
//! `.local` name or an address instead. Nor public addresses: a machine's global IPv6 address
//! is left out of its certificate.

use rcgen::{CidrSubnet, GeneralSubtree, NameConstraints};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// DNS names the CA may vouch for, and every name under them: mDNS names (`.local`, RFC 6762,
/// never delegated on the internet) and this machine itself (`localhost`, RFC 6761).
pub const DNS_SUFFIXES: [&str; 2] = ["local", "localhost"];

/// Address ranges the CA may vouch for: RFC 1918 private IPv4, loopback, IPv4 link-local
/// (a home without DHCP), IPv6 unique local (RFC 4193) and link-local.
pub const RANGES: [(IpAddr, u8); 8] = [
    (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
    (IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
    (IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
    (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
    (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16),
    (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    (IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
    (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
];

/// The name constraints of Hearth's CA certificate.
pub fn name_constraints() -> NameConstraints {
    let names = DNS_SUFFIXES.iter().map(|d| GeneralSubtree::DnsName((*d).to_owned()));
    let ranges = RANGES.iter().map(|(ip, prefix)| GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, *prefix)));
    NameConstraints { permitted_subtrees: names.chain(ranges).collect(), excluded_subtrees: vec![] }
}

/// Whether the CA may vouch for this DNS name (case does not matter in DNS).
pub fn permits_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    DNS_SUFFIXES.iter().any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}")))
}

/// Whether the CA may vouch for this address.
pub fn permits_address(address: IpAddr) -> bool {
    let address = address.to_canonical();
    RANGES.iter().any(|(base, prefix)| in_range(address, *base, *prefix))
}

fn in_range(address: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (address, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_names_and_private_addresses_only() {
        for name in ["hearth-pi.local", "pi.local", "PI.LOCAL.", "localhost", "local"] {
            assert!(permits_name(name), "{name}");
        }
        for name in ["example.com", "pi", "dev", "evil-local", "local.example.com", "notlocalhost"] {
            assert!(!permits_name(name), "{name}");
        }
        for ip in ["10.1.2.3", "172.31.255.255", "192.168.1.20", "127.0.0.1", "169.254.3.4", "::1", "fd12::3", "fe80::1", "::ffff:10.0.0.2"]
        {
            assert!(permits_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "192.169.0.1", "100.64.0.1", "2001:db8::1", "2a00:1450::1", "::"] {
            assert!(!permits_address(ip.parse().unwrap()), "{ip}");
        }
    }
}

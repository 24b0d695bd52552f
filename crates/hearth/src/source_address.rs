//! What a host on the home network controls of its source address: the key of the web server's
//! request budget per address, of the broker's limit on refused CONNECTs per IPv6 network, and
//! what refused CONNECTs are filed under.
//!
//! A host cannot forge the source of a TCP connection, so an IPv4 address is one host. An IPv6
//! host picks any address of its network's /64 (privacy addresses, or simply by adding one): a
//! limit per IPv6 address alone would be a limit per connection for whoever cares to change it.
//! Where a /64 key is used, and what it costs the other hosts of that network, is said there
//! (`http::request_budget`, `gate::attempts`); sign-in links and passwords stay limited per
//! address (`http::limiter` says why).

use std::net::{IpAddr, Ipv6Addr};

/// The key of an address's budget: the address itself for IPv4 (IPv4-mapped IPv6 included),
/// its /64 for IPv6.
pub fn budget_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// A budget key as a person reads it: `10.77.0.3`, or `fd77::/64`.
pub fn describe_budget_key(key: IpAddr) -> String {
    match key {
        IpAddr::V6(v6) => format!("{v6}/64"),
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: &str) -> IpAddr {
        budget_key(a.parse().expect("an address"))
    }

    /// An IPv6 host picks any address in its /64: they all count as one.
    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        assert_eq!(key("fd00:1:2:3::1"), key("fd00:1:2:3:ffff:eeee:dddd:cccc"));
        assert_ne!(key("fd00:1:2:3::1"), key("fd00:1:2:4::1"));
        assert_eq!(key("::ffff:10.77.0.2"), key("10.77.0.2"), "IPv4-mapped is the IPv4 address");
        assert_ne!(key("10.77.0.2"), key("10.77.0.3"));
        assert_eq!(describe_budget_key(key("fd77::3")), "fd77::/64");
        assert_eq!(describe_budget_key(key("::ffff:10.77.0.3")), "10.77.0.3");
    }
}

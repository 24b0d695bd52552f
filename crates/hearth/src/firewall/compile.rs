//! The ruleset as nft text. Only checked values reach it (device ids, MAC addresses, a port);
//! device names go into comments with anything but plain characters removed.

use super::{Enforcement, FirewallDevice, set_name};
use std::fmt::Write;

pub const TABLE: &str = "hearth";
/// The home's own ranges: a restricted device still reaches the rest of the home through the
/// gateway (another subnet, a VLAN); a blocked one does not.
pub const HOME_V4: &str = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16";
pub const HOME_V6: &str = "fc00::/7, fe80::/10";

/// Where the compiled sets get their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filling {
    /// Hearth's DNS gate adds each answer's addresses with a timeout.
    DnsGate,
    /// dnsmasq's `nftset` lines fill them (a gateway Hearth does not run on).
    Dnsmasq,
}

/// `table inet hearth { ... }` for `devices`, redirecting DNS to `dns_port` on the gateway.
/// `elements(set)` gives the addresses to put back into a set (with seconds left) when the
/// table is replaced while running.
pub fn table(devices: &[FirewallDevice], dns_port: u16, elements: &dyn Fn(&str) -> Vec<(String, u64)>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "table inet {TABLE} {{");
    for device in devices.iter().filter(|d| d.enforcement == Enforcement::Restricted) {
        for v6 in [false, true] {
            let name = set_name(&device.id, v6);
            let kind = if v6 { "ipv6_addr" } else { "ipv4_addr" };
            let _ = write!(out, "\tset {name} {{\n\t\ttype {kind}; flags timeout;\n");
            let current = elements(&name);
            if !current.is_empty() {
                let list: Vec<String> = current.iter().map(|(a, secs)| format!("{a} timeout {}s", secs.max(&1))).collect();
                let _ = writeln!(out, "\t\telements = {{ {} }}", list.join(", "));
            }
            let _ = writeln!(out, "\t}}");
        }
    }
    let _ = writeln!(out, "\tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;");
    let _ = writeln!(out, "\t\tct state established,related accept");
    for (device, mac) in devices.iter().flat_map(|d| d.macs.iter().map(move |m| (d, m))) {
        let _ = writeln!(out, "\t\t# {} {}", device.id, comment(&device.name));
        match device.enforcement {
            Enforcement::DnsOnly => {}
            Enforcement::Blocked => {
                let _ = writeln!(out, "\t\tether saddr {mac} counter reject with icmpx admin-prohibited");
            }
            Enforcement::Restricted => {
                let (v4, v6) = (set_name(&device.id, false), set_name(&device.id, true));
                let _ = writeln!(out, "\t\tether saddr {mac} tcp dport 853 counter reject with tcp reset");
                let _ = writeln!(out, "\t\tether saddr {mac} ip daddr {{ {HOME_V4} }} accept");
                let _ = writeln!(out, "\t\tether saddr {mac} ip6 daddr {{ {HOME_V6} }} accept");
                let _ = writeln!(out, "\t\tether saddr {mac} ip daddr @{v4} counter accept");
                let _ = writeln!(out, "\t\tether saddr {mac} ip6 daddr @{v6} counter accept");
                let _ = writeln!(out, "\t\tether saddr {mac} counter reject with icmpx admin-prohibited");
            }
        }
    }
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "\tchain dns_to_hearth {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;");
    for mac in devices.iter().flat_map(|d| &d.macs) {
        for l4 in ["udp", "tcp"] {
            let _ = writeln!(out, "\t\tether saddr {mac} {l4} dport 53 redirect to :{dns_port}");
        }
    }
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    out
}

/// The whole file: replaces any earlier `table inet hearth` in one transaction (`nft -f`).
pub fn replace(devices: &[FirewallDevice], dns_port: u16, elements: &dyn Fn(&str) -> Vec<(String, u64)>) -> String {
    // Declaring the table first makes the delete succeed when there is none yet.
    format!("table inet {TABLE}\ndelete table inet {TABLE}\n{}", table(devices, dns_port, elements))
}

/// A device's name as a comment: letters, digits, spaces and a little punctuation only.
fn comment(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric() || " -_.()".contains(*c)).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::DeviceId;

    fn device(n: u64, enforcement: Enforcement) -> FirewallDevice {
        FirewallDevice {
            id: DeviceId::from_random(n),
            name: "Cam\"; flush ruleset".into(),
            macs: vec![format!("02:00:00:00:00:{n:02x}")],
            enforcement,
            allowed: vec!["vendor.test".into()],
        }
    }

    #[test]
    fn restricted_blocked_and_dns_only_devices_compile_to_their_rules() {
        let devices = [device(1, Enforcement::Restricted), device(2, Enforcement::Blocked), device(3, Enforcement::DnsOnly)];
        let text = replace(&devices, 53, &|set| if set.ends_with("01_v4") { vec![("192.0.2.7".into(), 90)] } else { vec![] });
        assert!(text.starts_with("table inet hearth\ndelete table inet hearth\ntable inet hearth {"), "{text}");
        assert!(text.contains("set dev_000000000001_v4 {\n\t\ttype ipv4_addr; flags timeout;\n\t\telements = { 192.0.2.7 timeout 90s }"));
        assert!(text.contains("ether saddr 02:00:00:00:00:01 ip daddr @dev_000000000001_v4 counter accept"));
        assert!(text.contains("ether saddr 02:00:00:00:00:01 counter reject with icmpx admin-prohibited"));
        assert!(text.contains("ether saddr 02:00:00:00:00:01 tcp dport 853 counter reject with tcp reset"));
        assert!(text.contains("ether saddr 02:00:00:00:00:02 counter reject"), "blocked: everything refused");
        assert!(!text.contains("dev_000000000002_v4"), "a blocked device has no allowed addresses");
        assert!(!text.contains("02:00:00:00:00:03 counter reject"), "dns only: nothing refused");
        for n in 1..=3 {
            assert!(text.contains(&format!("ether saddr 02:00:00:00:00:{n:02x} udp dport 53 redirect to :53")));
        }
        assert!(!text.contains('"') && text.contains("# d-000000000001 Cam flush ruleset"), "names only in clean comments");
    }
}

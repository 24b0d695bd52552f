//! The firewall for an OpenWrt gateway Hearth does not run on (fw4 and dnsmasq-full): an
//! include for fw4 (bare sets and chains, read inside `table inet fw4`), and dnsmasq `nftset`
//! lines that fill each device's sets with the addresses of the names it may reach. The gateway's
//! dnsmasq then answers with the home's router's view; Hearth's per-device decisions about names
//! need Hearth as the resolver too (DHCP option 6), which the README explains.

use super::{Enforcement, FirewallDevice, set_name};
use std::fmt::Write;

/// The fw4 include (`/etc/nftables.d/50-hearth.nft`) and the dnsmasq lines (`/etc/dnsmasq.d/hearth.conf`
/// or, with UCI, `config ipset` sections), as one text with its install steps in comments.
pub fn export(devices: &[FirewallDevice], hearth_address: Option<std::net::IpAddr>) -> String {
    let mut out = String::new();
    out.push_str("# Hearth's network permissions for an OpenWrt gateway (fw4, dnsmasq-full).\n");
    out.push_str("# 1. Save the part between the cut lines as /etc/nftables.d/50-hearth.nft\n");
    out.push_str("# 2. Save the nftset lines as /etc/dnsmasq.d/hearth.conf (or the confdir your dnsmasq reads)\n");
    out.push_str("# 3. fw4 check && /etc/init.d/firewall reload && /etc/init.d/dnsmasq restart\n");
    out.push_str("# ---- cut: /etc/nftables.d/50-hearth.nft ----\n");
    for device in devices.iter().filter(|d| d.enforcement == Enforcement::Restricted) {
        for v6 in [false, true] {
            let kind = if v6 { "ipv6_addr" } else { "ipv4_addr" };
            let _ = writeln!(out, "set hearth_{} {{ type {kind}; flags timeout; timeout 1h; }}", set_name(&device.id, v6));
        }
    }
    out.push_str("chain hearth_forward {\n\ttype filter hook forward priority filter - 1; policy accept;\n");
    out.push_str("\tct state established,related accept\n");
    for (device, mac) in devices.iter().flat_map(|d| d.macs.iter().map(move |m| (d, m))) {
        match device.enforcement {
            Enforcement::DnsOnly => {}
            Enforcement::Blocked => {
                let _ = writeln!(out, "\tether saddr {mac} reject with icmpx admin-prohibited");
            }
            Enforcement::Restricted => {
                let _ = writeln!(out, "\tether saddr {mac} tcp dport 853 reject with tcp reset");
                let _ = writeln!(out, "\tether saddr {mac} ip daddr {{ {} }} accept", super::compile::HOME_V4);
                let _ = writeln!(out, "\tether saddr {mac} ip6 daddr {{ {} }} accept", super::compile::HOME_V6);
                let _ = writeln!(out, "\tether saddr {mac} ip daddr @hearth_{} accept", set_name(&device.id, false));
                let _ = writeln!(out, "\tether saddr {mac} ip6 daddr @hearth_{} accept", set_name(&device.id, true));
                let _ = writeln!(out, "\tether saddr {mac} reject with icmpx admin-prohibited");
            }
        }
    }
    out.push_str("}\n");
    if let Some(hearth) = hearth_address {
        out.push_str("chain hearth_dns {\n\ttype nat hook prerouting priority dstnat - 1; policy accept;\n");
        let family = if hearth.is_ipv4() { "ip" } else { "ip6" };
        for mac in devices.iter().flat_map(|d| &d.macs) {
            for l4 in ["udp", "tcp"] {
                let _ = writeln!(out, "\tether saddr {mac} {l4} dport 53 dnat {family} to {hearth}");
            }
        }
        out.push_str("}\n");
    }
    out.push_str("# ---- cut: /etc/dnsmasq.d/hearth.conf ----\n");
    for device in devices.iter().filter(|d| d.enforcement == Enforcement::Restricted) {
        let (v4, v6) = (set_name(&device.id, false), set_name(&device.id, true));
        for domain in &device.allowed {
            let _ = writeln!(out, "nftset=/{domain}/4#inet#fw4#hearth_{v4},6#inet#fw4#hearth_{v6}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::DeviceId;

    #[test]
    fn the_export_has_fw4_sets_chains_and_dnsmasq_lines() {
        let camera = FirewallDevice {
            id: DeviceId::from_random(0xa),
            name: "Camera".into(),
            macs: vec!["02:00:00:00:00:0a".into()],
            enforcement: Enforcement::Restricted,
            allowed: vec!["vendor.test".into(), "pool.ntp.org".into()],
        };
        let text = export(&[camera], Some("10.77.0.1".parse().unwrap()));
        assert!(text.contains("set hearth_dev_00000000000a_v4 { type ipv4_addr; flags timeout; timeout 1h; }"));
        assert!(text.contains("type filter hook forward priority filter - 1; policy accept;"));
        assert!(text.contains("ether saddr 02:00:00:00:00:0a ip daddr @hearth_dev_00000000000a_v4 accept"));
        assert!(text.contains("ether saddr 02:00:00:00:00:0a udp dport 53 dnat ip to 10.77.0.1"));
        assert!(text.contains("nftset=/vendor.test/4#inet#fw4#hearth_dev_00000000000a_v4,6#inet#fw4#hearth_dev_00000000000a_v6"));
        assert!(!text.contains("table "), "fw4 includes are read inside its table");
    }
}

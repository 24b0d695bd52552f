//! The firewall: the same policy as the DNS gate, compiled to nftables (`table inet hearth`),
//! keyed by each device's MAC address.
//!
//! For every device Hearth knows the MAC of (from its queries to the DNS gate): DNS to any other
//! resolver is redirected to Hearth. For a device whose internet is restricted (`home_only`,
//! `allowed_list`, or blocked): DNS over TLS (853) is refused, the home's private ranges stay
//! reachable (not for a blocked device), the addresses the DNS gate answered it are reachable
//! until their TTL runs out (per-device sets, filled before each answer is sent), and everything
//! else it sends through the gateway is rejected.
//!
//! - [`compile`]: the ruleset as nft text, the one form for applying, exporting and reading;
//! - [`apply`]: applying it to this machine (one transaction) and adding answers' addresses;
//! - [`openwrt`]: the same for a gateway Hearth does not run on (fw4 include + dnsmasq nftset).

pub mod apply;
pub mod compile;
pub mod openwrt;

use hearth_core::device::DeviceId;

/// One device as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallDevice {
    pub id: DeviceId,
    pub name: String,
    /// Every MAC address its queries came from: six lower-case hex pairs each (checked by
    /// `network::neighbours::is_mac`). A device showing a made-up one adds a rule, never frees
    /// its real one.
    pub macs: Vec<String>,
    pub enforcement: Enforcement,
    /// Domains its sets are filled for (the OpenWrt export hands them to dnsmasq).
    pub allowed: Vec<String>,
}

/// What the firewall does with a device's traffic through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Only its DNS is redirected to Hearth (unrestricted, or still learning).
    DnsOnly,
    /// Only the home and the addresses Hearth answered it.
    Restricted,
    /// Nothing but DNS to Hearth.
    Blocked,
}

/// The name of a device's address set: `dev_<id hex>_v4` / `_v6`.
pub fn set_name(id: &DeviceId, v6: bool) -> String {
    format!("dev_{}_{}", id.as_str().trim_start_matches("d-"), if v6 { "v6" } else { "v4" })
}

/// The devices the firewall covers now, from the network permissions in memory.
pub fn devices(network: &crate::network::Network, names: &std::collections::HashMap<DeviceId, String>, now: i64) -> Vec<FirewallDevice> {
    use hearth_core::device::DeviceState;
    use hearth_core::network::{InternetLevel, RuleVerdict};
    network
        .devices()
        .into_iter()
        .filter_map(|policy| {
            let macs: Vec<String> = policy.macs.iter().filter(|m| crate::network::neighbours::is_mac(m)).cloned().collect();
            if macs.is_empty() {
                return None;
            }
            let (level, learning) = network.effective(&policy.device_id, now)?;
            let enforcement = match (policy.state, level, learning) {
                (DeviceState::Blocked, _, _) => Enforcement::Blocked,
                (_, _, true) | (_, InternetLevel::Unrestricted, _) => Enforcement::DnsOnly,
                _ => Enforcement::Restricted,
            };
            let mut allowed: Vec<String> = match level {
                InternetLevel::AllowedList => {
                    policy.rules.iter().filter(|r| r.verdict == RuleVerdict::Allow).map(|r| r.domain.to_string()).collect()
                }
                _ => vec![],
            };
            allowed.extend(network.defaults.always_allowed.iter().map(ToString::to_string));
            Some(FirewallDevice {
                name: names.get(&policy.device_id).cloned().unwrap_or_default(),
                id: policy.device_id,
                macs,
                enforcement,
                allowed,
            })
        })
        .collect()
}

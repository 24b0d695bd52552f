//! The kernel's neighbour table: which link-layer (MAC) address an IPv4 client address is at,
//! read from `/proc/net/arp` at most once a second (a query flood must not become a flood of
//! file reads). IPv6 neighbours are not read yet: a device querying over IPv6 is known by its
//! address alone.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FRESH: Duration = Duration::from_secs(1);
/// ATF_COM: the entry is complete (the address answered).
const COMPLETE: u32 = 0x2;

#[derive(Debug, Default)]
pub struct Neighbours {
    cached: Mutex<Option<(Instant, HashMap<Ipv4Addr, String>)>>,
}

impl Neighbours {
    /// The MAC address `ip` is at, lower case, if the kernel knows it.
    pub fn mac(&self, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(v4) = crate::network::canonical(ip) else { return None };
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.as_ref().is_none_or(|(at, _)| at.elapsed() > FRESH) {
            let table = std::fs::read_to_string("/proc/net/arp").map(|t| parse(&t)).unwrap_or_default();
            *cached = Some((Instant::now(), table));
        }
        cached.as_ref().and_then(|(_, table)| table.get(&v4).cloned())
    }
}

/// `/proc/net/arp`: a header line, then `IP HWtype Flags HWaddress Mask Device` per entry.
pub fn parse(text: &str) -> HashMap<Ipv4Addr, String> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [ip, _, flags, mac, ..] = fields.as_slice() else { return None };
            let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
            let ip: Ipv4Addr = ip.parse().ok()?;
            (flags & COMPLETE != 0 && is_mac(mac) && *mac != "00:00:00:00:00:00").then(|| (ip, mac.to_ascii_lowercase()))
        })
        .collect()
}

/// Six hex pairs separated by colons: the only shape written into a firewall rule.
pub fn is_mac(s: &str) -> bool {
    s.len() == 17 && s.split(':').count() == 6 && s.split(':').all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_entries_are_read_and_incomplete_ones_skipped() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.77.0.11       0x1         0x2         02:AA:bb:cc:dd:0b     *        hearth0\n\
                    10.77.0.12       0x1         0x0         00:00:00:00:00:00     *        hearth0\n\
                    10.77.0.13       0x1         0x2         not-a-mac             *        hearth0\n";
        let table = parse(text);
        assert_eq!(table.len(), 1);
        assert_eq!(table[&Ipv4Addr::new(10, 77, 0, 11)], "02:aa:bb:cc:dd:0b");
        assert!(is_mac("02:aa:bb:cc:dd:0b") && !is_mac("02:aa:bb:cc:dd") && !is_mac("02:aa:bb:cc:dd:0b; drop"));
    }
}

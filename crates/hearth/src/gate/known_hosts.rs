//! The addresses approved devices connected from with their credential, so that a host flooding
//! its IPv6 network with refused CONNECTs does not hold back the devices already on it (see
//! `attempts`, which also asks whether the device is still approved). Only such a CONNECT adds
//! an address: a host of the network cannot forge the source of a TCP connection, and without an
//! approved device's secret it cannot make its own address known. Bounded: a few addresses per
//! device (the most recent), and a bound on devices.

use hearth_core::device::DeviceId;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Addresses remembered per device: its IPv4 one and a few IPv6 ones (privacy addresses change).
pub const PER_DEVICE: usize = 4;
/// Devices remembered; past it, a new device's addresses are not (those known stay).
pub const MAX_DEVICES: usize = 1024;

#[derive(Debug, Default)]
pub struct KnownHosts {
    device_of: HashMap<IpAddr, DeviceId>,
    /// Each device's addresses, oldest first.
    of_device: HashMap<DeviceId, VecDeque<IpAddr>>,
}

impl KnownHosts {
    /// The device that connected from `host` last, if any did.
    pub fn device_of(&self, host: IpAddr) -> Option<&DeviceId> {
        self.device_of.get(&host)
    }

    #[cfg(test)]
    fn contains(&self, host: IpAddr) -> bool {
        self.device_of.contains_key(&host)
    }

    /// `device`, approved, connected from `host` with its credential.
    pub fn remember(&mut self, device: &DeviceId, host: IpAddr) {
        if self.device_of.get(&host) == Some(device) {
            let hosts = self.of_device.entry(device.clone()).or_default();
            hosts.retain(|h| *h != host);
            hosts.push_back(host);
            return;
        }
        if !self.of_device.contains_key(device) && self.of_device.len() >= MAX_DEVICES {
            return;
        }
        // An address moves to the device that connected from it last (a DHCP lease given again).
        if let Some(previous) = self.device_of.insert(host, device.clone())
            && let Some(hosts) = self.of_device.get_mut(&previous)
        {
            hosts.retain(|h| *h != host);
            if hosts.is_empty() {
                self.of_device.remove(&previous);
            }
        }
        let hosts = self.of_device.entry(device.clone()).or_default();
        hosts.push_back(host);
        if hosts.len() > PER_DEVICE
            && let Some(oldest) = hosts.pop_front()
        {
            self.device_of.remove(&oldest);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.device_of.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(i: u32) -> IpAddr {
        IpAddr::V6((0xfd77_u128 << 112 | u128::from(i)).into())
    }

    #[test]
    fn a_device_keeps_its_latest_few_addresses_and_an_address_follows_its_last_device() {
        let (plug, lamp) = (DeviceId::from_random(1), DeviceId::from_random(2));
        let mut known = KnownHosts::default();
        for i in 0..10 {
            known.remember(&plug, host(i));
        }
        assert_eq!(known.len(), PER_DEVICE);
        assert!(known.contains(host(9)) && !known.contains(host(5)));
        known.remember(&plug, host(6)); // seen again: the newest
        known.remember(&plug, host(20));
        assert!(known.contains(host(6)), "an address seen again is kept");
        known.remember(&lamp, host(20));
        assert_eq!(known.device_of[&host(20)], lamp);
        assert!(!known.of_device[&plug].contains(&host(20)));
    }

    /// A device rotating addresses cannot push another device's out, and the devices are bounded.
    #[test]
    fn one_device_cannot_crowd_out_another_and_the_memory_is_bounded() {
        let mut known = KnownHosts::default();
        let (plug, rotating) = (DeviceId::from_random(1), DeviceId::from_random(2));
        known.remember(&plug, host(1));
        for i in 100..100_000 {
            known.remember(&rotating, host(i));
        }
        assert!(known.contains(host(1)));
        for d in 0..(MAX_DEVICES as u64) * 2 {
            known.remember(&DeviceId::from_random(1000 + d), host(200_000 + d as u32));
        }
        assert!(known.of_device.len() <= MAX_DEVICES);
        assert!(known.len() <= MAX_DEVICES * PER_DEVICE);
        assert!(known.contains(host(1)), "the devices already known stay");
    }
}

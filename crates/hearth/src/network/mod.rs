//! Network permissions held in memory for the DNS gate and the firewall: every device's state,
//! internet level and destination rules, and which device each client address is. Reloaded from
//! the store whenever a person decides something (with the broker's policies) and every few
//! seconds for addresses (announcements and connections change them).
//!
//! Who asked: an address the inventory lists for exactly one device is that device; an address
//! listed for several (one of them announcing another's address, or a device that moved) gets
//! the strictest of their answers and is recorded under none, so that claiming an address never
//! gains anything; an unknown address is a person's phone or laptop: forwarded, not recorded,
//! unless the kernel's neighbour table shows the link-layer address of a device that moved to it.

pub mod neighbours;

use crate::config::NetworkConfig;
use hearth_core::device::{DeviceId, DeviceState};
use hearth_core::inventory::Millis;
use hearth_core::network::{DefaultNames, DeviceNetwork, Domain, InternetLevel, QueryAction, QueryDecision, decide};
use hearth_store::Store;
use hearth_store::network::NetworkPolicy;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

/// Who sent a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A device of the inventory.
    Device(DeviceId),
    /// An address several devices claim: the strictest answer of theirs, recorded under none.
    Ambiguous(Vec<DeviceId>),
    /// Not a device Hearth knows: forwarded, not recorded.
    Unknown,
}

/// The decision for one query, and the device to record it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub decision: QueryDecision,
    /// `None` for unknown and ambiguous clients.
    pub device: Option<(DeviceId, DeviceState)>,
    /// The device's firewall set to fill before the answer is sent (a known device only).
    pub level: Option<InternetLevel>,
}

#[derive(Debug, Default)]
struct Snapshot {
    devices: HashMap<DeviceId, NetworkPolicy>,
    by_address: HashMap<IpAddr, Vec<DeviceId>>,
    /// Link-layer addresses held by exactly one device's queries.
    by_mac: HashMap<String, DeviceId>,
}

/// The network permissions of the whole home, in memory.
#[derive(Debug)]
pub struct Network {
    pub config: NetworkConfig,
    pub defaults: DefaultNames,
    snapshot: RwLock<Arc<Snapshot>>,
    /// First queries seen in memory (the store learns them with the next batch): whether a
    /// device is still in its learning window must not wait for the disk. One entry per device.
    first_queries: Mutex<HashMap<DeviceId, (Millis, DeviceState)>>,
}

impl Network {
    pub fn new(config: NetworkConfig) -> Self {
        Self { config, defaults: DefaultNames::builtin(), snapshot: RwLock::default(), first_queries: Mutex::default() }
    }

    /// Reads every device's policy and addresses from the store.
    pub fn reload(&self, store: &Store) -> Result<(), hearth_store::StoreError> {
        let policies = store.network_policies()?;
        let addresses = store.device_addresses()?;
        let mut snapshot = Snapshot::default();
        let mut macs: HashMap<String, Vec<DeviceId>> = HashMap::new();
        for policy in policies {
            for mac in &policy.macs {
                macs.entry(mac.clone()).or_default().push(policy.device_id.clone());
            }
            snapshot.devices.insert(policy.device_id.clone(), policy);
        }
        for (id, address) in addresses {
            if let Ok(ip) = address.parse::<IpAddr>() {
                let holders = snapshot.by_address.entry(ip).or_default();
                if !holders.contains(&id) {
                    holders.push(id);
                }
            }
        }
        snapshot.by_mac = macs.into_iter().filter(|(_, ids)| ids.len() == 1).map(|(mac, mut ids)| (mac, ids.remove(0))).collect();
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Who `ip` is; `mac` is its link-layer address from the neighbour table, when known.
    pub fn client(&self, ip: IpAddr, mac: Option<&str>) -> Client {
        let snapshot = self.snapshot();
        let by_mac = mac.and_then(|m| snapshot.by_mac.get(m));
        match snapshot.by_address.get(&canonical(ip)).map(Vec::as_slice) {
            Some([one]) => Client::Device(one.clone()),
            // Several devices claim the address: the one whose MAC the kernel sees there is it
            // (a device announcing another's address cannot take that device's answers away).
            Some(several) if several.len() > 1 => match by_mac {
                Some(id) if several.contains(id) => Client::Device(id.clone()),
                _ => Client::Ambiguous(several.to_vec()),
            },
            _ => match by_mac {
                Some(id) => Client::Device(id.clone()),
                None => Client::Unknown,
            },
        }
    }

    /// The device's policy as [`decide`] takes it, at `now`.
    fn device_network(&self, policy: &NetworkPolicy, now: Millis) -> DeviceNetwork {
        let first =
            policy.first_query.or_else(|| self.first_queries.lock().unwrap_or_else(|p| p.into_inner()).get(&policy.device_id).copied());
        let window = i64::from(self.config.learn_hours) * 3_600_000;
        let learning = policy.level.is_none()
            && match policy.state {
                DeviceState::New => self.config.learn_while_new,
                DeviceState::Approved => match first {
                    None => window > 0,
                    Some((at, state)) => state == DeviceState::Approved && now < at + window,
                },
                DeviceState::Blocked => false,
            };
        DeviceNetwork {
            state: policy.state,
            level: policy.level.unwrap_or(self.config.default_level),
            learning,
            rules: policy.rules.clone(),
        }
    }

    /// Decides the query of `client` for `name` at `now`.
    pub fn answer(&self, client: &Client, name: &Domain, now: Millis) -> Answer {
        let snapshot = self.snapshot();
        match client {
            Client::Device(id) => match snapshot.devices.get(id) {
                Some(policy) => {
                    let device = self.device_network(policy, now);
                    self.first_queries.lock().unwrap_or_else(|p| p.into_inner()).entry(id.clone()).or_insert((now, policy.state));
                    Answer {
                        decision: decide(&device, &self.defaults, name),
                        device: Some((id.clone(), policy.state)),
                        level: Some(device.level),
                    }
                }
                None => unknown(),
            },
            Client::Ambiguous(ids) => {
                let strictest = ids
                    .iter()
                    .filter_map(|id| snapshot.devices.get(id))
                    .map(|p| decide(&self.device_network(p, now), &self.defaults, name))
                    .max_by_key(|d| strictness(d.action));
                match strictest {
                    Some(mut decision) => {
                        decision.propose = false;
                        Answer { decision, device: None, level: None }
                    }
                    None => unknown(),
                }
            }
            Client::Unknown => unknown(),
        }
    }

    /// The devices whose level the firewall enforces: known, with a link-layer address, and not
    /// free to go anywhere.
    pub fn devices(&self) -> Vec<NetworkPolicy> {
        let mut all: Vec<_> = self.snapshot().devices.values().cloned().collect();
        all.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        all
    }

    /// The effective level of a device (its own, else the default), and whether it is learning.
    pub fn effective(&self, id: &DeviceId, now: Millis) -> Option<(InternetLevel, bool)> {
        let snapshot = self.snapshot();
        let policy = snapshot.devices.get(id)?;
        let device = self.device_network(policy, now);
        Some((device.level, device.learning))
    }

    /// Whether the store already knows when the device first used Hearth's resolver.
    pub fn has_first_query(&self, id: &DeviceId) -> bool {
        self.snapshot().devices.get(id).is_some_and(|p| p.first_query.is_some())
    }

    /// How many devices asked Hearth's resolver something since `since`.
    pub fn devices_using_dns(&self, since: Millis) -> usize {
        self.snapshot().devices.values().filter(|p| p.last_query.is_some_and(|at| at >= since)).count()
    }
}

fn unknown() -> Answer {
    Answer {
        decision: QueryDecision { action: QueryAction::Forward, because: hearth_core::network::Because::Unrestricted, propose: false },
        device: None,
        level: None,
    }
}

/// Higher is stricter: a refusal beats forwarding.
fn strictness(action: QueryAction) -> u8 {
    match action {
        QueryAction::Forward => 0,
        QueryAction::NoSuchName => 1,
        QueryAction::Refuse => 2,
    }
}

/// An IPv4 client over an IPv6 socket arrives as ::ffff:a.b.c.d; the inventory lists a.b.c.d.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;

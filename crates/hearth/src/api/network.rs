//! Network permissions through the API: a device's internet level, its destination rules and
//! what it asked for, MUD files, the home's destinations, and the firewall export.

use super::{now, parse_id};
use crate::api::types::{ApiError, Event};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::device::DeviceId;
pub use hearth_core::network::InternetLevel;
use hearth_core::network::{DestinationRule, Domain, QueryAction, RuleSource, RuleVerdict};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A device that asked Hearth's resolver nothing for this long is not in Hearth's path.
pub const IN_PATH_WITHIN: i64 = 24 * 3_600_000;

/// How far a device's internet level is really enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Enforcement {
    /// Hearth's firewall on the gateway holds it: only what its level allows gets through.
    Firewall,
    /// Hearth answers its DNS queries, but a device with its own resolver can go around it.
    DnsOnly,
    /// It asked Hearth's resolver nothing in a day: its level changes nothing yet.
    NotInPath,
}

/// A destination rule as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DestinationRuleView {
    pub domain: String,
    pub verdict: RuleVerdict,
    pub source: RuleSource,
    #[ts(type = "number")]
    pub since: i64,
}

/// A name the device asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DestinationView {
    pub name: String,
    /// The registrable domain (`vendor.co.uk`), for grouping.
    pub domain: String,
    #[ts(type = "number")]
    pub first_seen: i64,
    #[ts(type = "number")]
    pub last_seen: i64,
    #[ts(type = "number")]
    pub queries: u64,
    #[ts(type = "number")]
    pub refused: u64,
    pub last_action: QueryAction,
    /// The rule or level that decided its last query (`rule:person:allow:vendor.test`, `not_on_list`).
    pub because: String,
    /// The addresses its last answer carried.
    pub answers: Vec<String>,
    /// Waiting for a person: asked for while learning or refused only because nobody listed it.
    pub waiting: bool,
}

/// `GET /devices/{id}/network`: the device page's Internet section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NetworkView {
    pub level: InternetLevel,
    /// False: no person chose it, the setting's default applies.
    pub level_chosen: bool,
    /// Its names are still forwarded and proposed (new, or in its first hours on Hearth's resolver).
    pub learning: bool,
    pub enforcement: Enforcement,
    #[ts(type = "number | null")]
    pub last_query: Option<i64>,
    pub rules: Vec<DestinationRuleView>,
    pub destinations: Vec<DestinationView>,
    /// Whether Hearth's DNS gate runs at all.
    pub dns_gate: bool,
}

/// `POST /devices/{id}/network/level`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LevelRequest {
    pub level: InternetLevel,
}

/// What to do with a domain for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DomainChoice {
    Allow,
    Deny,
    /// Remove the rule for exactly this domain.
    Remove,
}

/// `POST /devices/{id}/network/destinations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DomainRequest {
    pub domain: String,
    pub choice: DomainChoice,
}

/// One part of a MUD file Hearth cannot enforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MudUnsupported {
    /// Where in the file (`$.ietf-access-control-list:acls.acl[0]...`).
    pub path: String,
    pub what: String,
}

/// `POST /devices/{id}/mud`: what an imported MUD file became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MudImported {
    pub rules: Vec<DestinationRuleView>,
    /// Rules kept (a person's rule for the same domain stays and is not counted).
    pub kept: u32,
    pub unsupported: Vec<MudUnsupported>,
    pub mud_url: Option<String>,
}

/// The DNS gate's and the firewall's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NetworkServices {
    /// Where the DNS gate listens; none: it is off.
    pub dns_listen: Option<String>,
    pub dns_upstream: Vec<String>,
    /// Queries dropped by the per-client rate limit, and records not written (queue full).
    #[ts(type = "number")]
    pub rate_limited: u64,
    #[ts(type = "number")]
    pub unrecorded: u64,
    /// Queries past a device's daily budget of rows: counted in its names and hours, not kept one by one.
    #[ts(type = "number")]
    pub rows_not_kept: u64,
    /// MAC addresses a device showed that another device showed first (not given to it).
    #[ts(type = "number")]
    pub macs_refused: u64,
    /// Queries dropped because 2 048 were already being answered (a flood from many addresses,
    /// or an upstream too slow for the home's rate).
    #[ts(type = "number")]
    pub overloaded: u64,
    pub firewall: FirewallStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FirewallStatus {
    /// `--apply-firewall` was asked for.
    pub requested: bool,
    /// Hearth's table is applied on this machine now.
    pub applied: bool,
    pub error: Option<String>,
    /// Devices it holds.
    pub devices: u32,
    /// Time from an answer to its addresses being in the firewall: the last, and the worst (µs).
    #[ts(type = "number")]
    pub last_fill_micros: u64,
    #[ts(type = "number")]
    pub worst_fill_micros: u64,
}

/// One device and one registrable domain, for the home's chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DomainTraffic {
    pub device_id: DeviceId,
    pub device_name: String,
    pub domain: String,
    #[ts(type = "number")]
    pub queries: u64,
    #[ts(type = "number")]
    pub refused: u64,
}

/// `GET /network`: the home's network page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HomeNetwork {
    pub services: NetworkServices,
    /// Devices that asked Hearth's resolver something in the last day, of all devices.
    pub devices_using_dns: u32,
    pub devices: u32,
    /// Who talks to which domains over the last seven days, busiest first.
    pub traffic: Vec<DomainTraffic>,
}

fn rule_view(r: hearth_store::network::StoredDestinationRule) -> DestinationRuleView {
    DestinationRuleView { domain: r.rule.domain.to_string(), verdict: r.rule.verdict, source: r.rule.source, since: r.since }
}

fn parse_domain(name: &str) -> Result<Domain, ApiError> {
    Domain::parse(name.trim()).map_err(|e| ApiError::bad_request(e.to_string()))
}

impl Hub {
    /// The device page's Internet section.
    pub fn network_view(&self, id: &str) -> Result<NetworkView, ApiError> {
        let id = parse_id(id)?;
        let store = self.reader();
        let chosen = store.internet_level(&id)?;
        let rules = store.destination_rules(&id)?;
        let destinations = store.destinations(&id)?;
        drop(store);
        let now = now();
        let network = self.network();
        let (level, learning) = network.effective(&id, now).unwrap_or((network.config.default_level, false));
        let last_query = destinations.iter().map(|d| d.last_seen).max();
        let firewall = self.firewall().is_some_and(|f| f.covers(&id));
        let enforcement = match last_query {
            Some(at) if now - at < IN_PATH_WITHIN && firewall => Enforcement::Firewall,
            Some(at) if now - at < IN_PATH_WITHIN => Enforcement::DnsOnly,
            _ => Enforcement::NotInPath,
        };
        // Whether each name waits for a person is decided now, by today's rules.
        let current = network.devices().into_iter().find(|p| p.device_id == id);
        let destinations = destinations
            .into_iter()
            .map(|d| {
                let waiting = d.proposed
                    && Domain::parse(&d.name)
                        .is_ok_and(|name| current.as_ref().is_none_or(|p| !p.rules.iter().any(|r| r.domain.covers(&name))));
                DestinationView {
                    name: d.name,
                    domain: d.registrable,
                    first_seen: d.first_seen,
                    last_seen: d.last_seen,
                    queries: d.queries,
                    refused: d.refused,
                    last_action: d.last_action,
                    because: d.last_because,
                    answers: d.last_answers,
                    waiting,
                }
            })
            .collect();
        Ok(NetworkView {
            level,
            level_chosen: chosen.is_some(),
            learning,
            enforcement,
            last_query,
            rules: rules.into_iter().map(rule_view).collect(),
            destinations,
            dns_gate: self.network_services().dns_listen.is_some(),
        })
    }

    fn network_changed(&self, id: &DeviceId) -> Result<(), ApiError> {
        let store = self.store();
        self.network().reload(&store)?;
        drop(store);
        self.publish(Event::DestinationsChanged { id: id.clone() });
        self.firewall_changed();
        Ok(())
    }

    pub fn set_internet_level(&self, id: &str, level: InternetLevel, caller: &Caller) -> Result<NetworkView, ApiError> {
        let device = parse_id(id)?;
        self.store().set_internet_level(&device, level, &caller.actor(), caller.origin, now())?;
        tracing::info!(%device, %level, origin = caller.origin, "internet level set");
        self.network_changed(&device)?;
        self.network_view(id)
    }

    /// Allows or denies a domain (and the names under it) for the device, or removes its rule.
    /// Allowing a name the device asked for keeps `learned` as where it came from.
    pub fn set_domain(&self, id: &str, request: &DomainRequest, caller: &Caller) -> Result<NetworkView, ApiError> {
        let device = parse_id(id)?;
        let domain = parse_domain(&request.domain)?;
        let asked =
            self.reader().destinations(&device)?.iter().any(|d| d.proposed && Domain::parse(&d.name).is_ok_and(|n| domain.covers(&n)));
        let verdict = match request.choice {
            DomainChoice::Allow => RuleVerdict::Allow,
            DomainChoice::Deny => RuleVerdict::Deny,
            DomainChoice::Remove => {
                self.store().remove_destination_rule(&device, &domain, &caller.actor(), caller.origin, now())?;
                self.network_changed(&device)?;
                return self.network_view(id);
            }
        };
        let source = if asked && verdict == RuleVerdict::Allow { RuleSource::Learned } else { RuleSource::Person };
        self.store().set_destination_rule(&device, &DestinationRule { domain, verdict, source }, &caller.actor(), caller.origin, now())?;
        self.network_changed(&device)?;
        self.network_view(id)
    }

    /// Allows every name waiting for a person, in one step.
    pub fn allow_waiting(&self, id: &str, caller: &Caller) -> Result<NetworkView, ApiError> {
        let device = parse_id(id)?;
        let waiting: Vec<String> = self.network_view(id)?.destinations.into_iter().filter(|d| d.waiting).map(|d| d.name).collect();
        {
            let mut store = self.store();
            for name in waiting {
                let rule = DestinationRule { domain: parse_domain(&name)?, verdict: RuleVerdict::Allow, source: RuleSource::Learned };
                store.set_destination_rule(&device, &rule, &caller.actor(), caller.origin, now())?;
            }
        }
        self.network_changed(&device)?;
        self.network_view(id)
    }

    /// Reads a MUD file into the device's `mud` rules (replacing earlier ones).
    pub fn import_mud(&self, id: &str, file: &str, caller: &Caller) -> Result<MudImported, ApiError> {
        let device = parse_id(id)?;
        let imported =
            hearth_core::network::mud::import(file).map_err(|e| ApiError::bad_request(format!("the MUD file is not valid: {e}")))?;
        let kept = self.store().replace_mud_rules(&device, &imported.rules, &caller.actor(), caller.origin, now())?;
        tracing::info!(%device, rules = imported.rules.len(), kept, unsupported = imported.unsupported.len(), origin = caller.origin, "MUD file imported");
        self.network_changed(&device)?;
        Ok(MudImported {
            rules: imported
                .rules
                .iter()
                .map(|r| DestinationRuleView { domain: r.domain.to_string(), verdict: r.verdict, source: r.source, since: now() })
                .collect(),
            kept: kept as u32,
            unsupported: imported.unsupported.into_iter().map(|u| MudUnsupported { path: u.path, what: u.what }).collect(),
            mud_url: imported.mud_url,
        })
    }

    /// The device's allowed destinations as a MUD file.
    pub fn export_mud(&self, id: &str) -> Result<String, ApiError> {
        let device = parse_id(id)?;
        let store = self.reader();
        let detail = store.device(&device)?;
        let rules: Vec<DestinationRule> = store.destination_rules(&device)?.into_iter().map(|r| r.rule).collect();
        drop(store);
        let url = format!("https://hearth.invalid/mud/{}.json", device.as_str());
        let when = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        Ok(hearth_core::network::mud::export(&url, &detail.device.name, &rules, &when))
    }

    /// The home's network page.
    pub fn home_network(&self) -> Result<HomeNetwork, ApiError> {
        let store = self.reader();
        let devices = store.devices()?;
        let counts = store.destination_counts(now() - 7 * 24 * 3_600_000)?;
        drop(store);
        let names: std::collections::HashMap<_, _> = devices.iter().map(|d| (d.id.clone(), d.name.clone())).collect();
        let traffic = counts
            .into_iter()
            .map(|c| DomainTraffic {
                device_name: names.get(&c.device_id).cloned().unwrap_or_default(),
                device_id: c.device_id,
                domain: c.registrable,
                queries: c.queries,
                refused: c.refused,
            })
            .collect();
        Ok(HomeNetwork {
            services: self.network_status(),
            devices_using_dns: self.network().devices_using_dns(now() - IN_PATH_WITHIN) as u32,
            devices: devices.len() as u32,
            traffic,
        })
    }

    /// The DNS gate's and the firewall's state now.
    pub fn network_status(&self) -> NetworkServices {
        let mut status = self.network_services().clone();
        if let Some(counters) = self.dns_counters() {
            status.rate_limited = counters.0;
            status.unrecorded = counters.1;
            status.rows_not_kept = counters.2;
            status.macs_refused = counters.3;
            status.overloaded = counters.4;
        }
        if let Some(firewall) = self.firewall() {
            let (last, worst) = *firewall.timing.lock().unwrap_or_else(|p| p.into_inner());
            status.firewall.last_fill_micros = last.as_micros() as u64;
            status.firewall.worst_fill_micros = worst.as_micros() as u64;
        }
        status
    }

    /// The firewall as nft text (`--nft`) or for OpenWrt (`--openwrt`).
    pub fn export_firewall(&self, format: &str) -> Result<String, ApiError> {
        let names: std::collections::HashMap<_, _> = self.reader().devices()?.into_iter().map(|d| (d.id, d.name)).collect();
        let devices = crate::firewall::devices(self.network(), &names, now());
        let dns = self.network_services().dns_listen.clone().and_then(|a| a.parse::<std::net::SocketAddr>().ok());
        match format {
            "nft" => Ok(format!(
                "#!/usr/sbin/nft -f\n# Hearth's network permissions: load with `nft -f FILE` on the home's Linux gateway.\n# The sets are filled by Hearth's DNS gate (`hearth serve --apply-firewall`) or by dnsmasq's nftset.\n{}",
                crate::firewall::compile::replace(&devices, dns.map_or(53, |a| a.port()), &|_| vec![])
            )),
            "openwrt" => Ok(crate::firewall::openwrt::export(&devices, dns.map(|a| a.ip()).filter(|ip| !ip.is_unspecified()))),
            other => Err(ApiError::bad_request(format!("`{other}` is not an export format (nft or openwrt)"))),
        }
    }
}

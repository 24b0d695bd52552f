//! Network permissions and what the DNS gate heard: each device's internet level (when a person
//! chose one), its destination rules, its queries, the names it asked for, hourly counts per
//! registrable domain, and when it first and last used Hearth's resolver.

use crate::audit::write as audit;
use crate::inventory::{corrupt, load_device, parse_id};
use crate::{Store, StoreError};
use hearth_core::device::{Actor, DeviceId, DeviceState};
use hearth_core::inventory::Millis;
use hearth_core::network::{DestinationRule, Domain, InternetLevel, QueryAction, RuleSource, RuleVerdict};
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// Most names kept per device. A device asking for ever-new names (a random label per query, as
/// some trackers and every DNS tunnel do) must not grow the table without bound: past this, its
/// queries are still recorded and counted per registrable domain, but no new name is kept.
pub const MAX_DESTINATIONS: i64 = 2_000;
/// Most registrable domains counted apart per device and hour; the rest are counted under
/// [`OTHER_DOMAINS`] (a device asking for random domains must not add a row per query).
pub const MAX_DOMAINS_PER_HOUR: i64 = 500;
pub const OTHER_DOMAINS: &str = "(other)";
/// Most queries kept as rows per device and day (its names and counts still take every one).
pub const MAX_QUERIES_PER_DAY: i64 = 20_000;
/// Most link-layer addresses kept per device.
pub const MAX_MACS: i64 = 8;
/// How long the hourly counts are kept (as the ledger keeps its metadata).
pub const HOURS_KEPT: Millis = 30 * 24 * 3_600_000;

/// What the DNS gate keeps in memory about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub device_id: DeviceId,
    pub state: DeviceState,
    /// `None`: no person chose one; the setting's default applies and the device may learn.
    pub level: Option<InternetLevel>,
    pub rules: Vec<DestinationRule>,
    /// When it first used Hearth's resolver, and its state then.
    pub first_query: Option<(Millis, DeviceState)>,
    pub last_query: Option<Millis>,
    /// Every MAC address its queries came from (the kernel's neighbour table), for the firewall.
    pub macs: Vec<String>,
}

/// One query of a known device, as the DNS gate decided and answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub at: Millis,
    pub device_id: DeviceId,
    /// The device's state when it asked: a name first asked by an approved device is news.
    pub state: DeviceState,
    pub name: Domain,
    pub registrable: String,
    pub qtype: String,
    pub action: QueryAction,
    pub because: String,
    pub propose: bool,
    pub answers: Vec<String>,
    pub ttl: Option<u32>,
    pub address: String,
    pub mac: Option<String>,
}

/// What filing a batch found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Names first asked for by an approved device.
    pub news: Vec<(DeviceId, String)>,
    /// A device showed a link-layer address not seen before.
    pub new_mac: bool,
    /// Queries past a device's daily budget of rows (counted in its names and hours all the same).
    pub queries_not_kept: u64,
    /// Link-layer addresses a device showed that another device showed first: not given to it.
    pub macs_refused: u64,
}

/// A name a device asked for, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub registrable: String,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub queries: u64,
    pub refused: u64,
    pub last_action: QueryAction,
    pub last_because: String,
    pub last_answers: Vec<String>,
    pub last_ttl: Option<u32>,
    pub proposed: bool,
}

/// Counts for one device and one registrable domain over a span of hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainCount {
    pub device_id: DeviceId,
    pub registrable: String,
    pub queries: u64,
    pub refused: u64,
}

/// One recorded query: when, the name, its type, what was answered, and why.
pub type QueryRow = (Millis, String, String, QueryAction, String);

/// A destination rule as shown, with when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDestinationRule {
    pub rule: DestinationRule,
    pub since: Millis,
}

fn action_from(s: &str) -> Result<QueryAction, StoreError> {
    match s {
        "forward" => Ok(QueryAction::Forward),
        "refuse" => Ok(QueryAction::Refuse),
        "no_such_name" => Ok(QueryAction::NoSuchName),
        other => Err(corrupt(format!("`{other}` is not a DNS action"))),
    }
}

fn rule_row(domain: String, verdict: &str, source: &str) -> Result<DestinationRule, StoreError> {
    Ok(DestinationRule {
        domain: Domain::parse(&domain).map_err(corrupt)?,
        verdict: verdict.parse().map_err(corrupt)?,
        source: source.parse().map_err(corrupt)?,
    })
}

impl Store {
    /// Everything the DNS gate needs, for every device.
    pub fn network_policies(&self) -> Result<Vec<NetworkPolicy>, StoreError> {
        let mut rules: HashMap<String, Vec<DestinationRule>> = HashMap::new();
        let mut stmt = self.conn.prepare("SELECT device_id, domain, verdict, source FROM destination_rules")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))? {
            let (device, domain, verdict, source) = row?;
            rules.entry(device).or_default().push(rule_row(domain, &verdict, &source)?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.state, l.level, c.first_query, c.first_state, c.last_query FROM devices d
             LEFT JOIN internet_levels l ON l.device_id = d.id LEFT JOIN dns_clients c ON c.device_id = d.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut macs: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = self.conn.prepare("SELECT device_id, mac FROM dns_client_macs ORDER BY device_id, first_seen")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (device, mac) = row?;
            macs.entry(device).or_default().push(mac);
        }
        rows.into_iter()
            .map(|(id, state, level, first, first_state, last_query)| {
                let first_query = match (first, first_state) {
                    (Some(at), Some(s)) => Some((at, s.parse().map_err(corrupt)?)),
                    _ => None,
                };
                Ok(NetworkPolicy {
                    rules: rules.remove(&id).unwrap_or_default(),
                    device_id: parse_id(&id)?,
                    state: state.parse().map_err(corrupt)?,
                    level: level.map(|l| l.parse().map_err(corrupt)).transpose()?,
                    first_query,
                    last_query,
                    macs: macs.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Every address each device is known at: what its announcements say (mDNS), where its
    /// accepted broker connections came from, and its anonymous pin. An address may be listed
    /// for two devices (one of them lying, or one that moved): the DNS gate then gives that
    /// address the stricter of their answers.
    pub fn device_addresses(&self) -> Result<Vec<(DeviceId, String)>, StoreError> {
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare("SELECT device_id, addresses FROM sightings")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, addresses) = row?;
            let id = parse_id(&id)?;
            for a in serde_json::from_str::<Vec<String>>(&addresses).map_err(corrupt)? {
                out.push((id.clone(), a));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT device_id, address FROM connect_attempts WHERE device_id IS NOT NULL AND outcome = 'allow' AND address != ''
             UNION SELECT device_id, address FROM anonymous_clients WHERE address IS NOT NULL",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, address) = row?;
            out.push((parse_id(&id)?, address));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The level a person chose for the device, if any.
    pub fn internet_level(&self, id: &DeviceId) -> Result<Option<InternetLevel>, StoreError> {
        load_device(&self.conn, id)?;
        let level: Option<String> =
            self.conn.query_row("SELECT level FROM internet_levels WHERE device_id = ?1", [id.as_str()], |r| r.get(0)).optional()?;
        level.map(|l| l.parse().map_err(corrupt)).transpose()
    }

    /// A person chooses the device's internet level.
    pub fn set_internet_level(
        &mut self,
        id: &DeviceId,
        level: InternetLevel,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        tx.execute(
            "INSERT INTO internet_levels (device_id, level, since) VALUES (?1, ?2, ?3)
             ON CONFLICT(device_id) DO UPDATE SET level = excluded.level, since = excluded.since",
            params![id.as_str(), level.as_str(), now],
        )?;
        audit(&tx, now, actor, origin, "set_internet_level", &format!("{} {}", id.as_str(), level.as_str()))?;
        tx.commit()?;
        Ok(())
    }

    /// Sets a destination rule for a domain (and the names under it), replacing any rule for
    /// the same domain. A person's allow of a name the device proposed keeps `learned` as its
    /// source, so the page can say where the name came from.
    pub fn set_destination_rule(
        &mut self,
        id: &DeviceId,
        rule: &DestinationRule,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        put_rule(&tx, id, rule, now)?;
        // Names it covers are no longer waiting for a decision.
        clear_proposals(&tx, id, &rule.domain)?;
        let action = format!("{}_destination", rule.verdict.as_str());
        audit(&tx, now, actor, origin, &action, &format!("{} {} ({})", id.as_str(), rule.domain, rule.source.as_str()))?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the rule for exactly this domain; whether there was one.
    pub fn remove_destination_rule(
        &mut self,
        id: &DeviceId,
        domain: &Domain,
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        let n = tx.execute("DELETE FROM destination_rules WHERE device_id = ?1 AND domain = ?2", params![id.as_str(), domain.as_str()])?;
        if n > 0 {
            audit(&tx, now, actor, origin, "remove_destination_rule", &format!("{} {domain}", id.as_str()))?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Replaces the device's MUD rules with `rules` (all of source `mud`) in one transaction.
    /// A person's rule for the same domain stays: a maker's file does not overrule a person.
    pub fn replace_mud_rules(
        &mut self,
        id: &DeviceId,
        rules: &[DestinationRule],
        actor: &Actor,
        origin: &str,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        load_device(&tx, id)?;
        tx.execute("DELETE FROM destination_rules WHERE device_id = ?1 AND source = 'mud'", [id.as_str()])?;
        let mut kept = 0;
        for rule in rules.iter().filter(|r| r.source == RuleSource::Mud) {
            kept += tx.execute(
                "INSERT INTO destination_rules (device_id, domain, verdict, source, since) VALUES (?1, ?2, ?3, 'mud', ?4)
                 ON CONFLICT(device_id, domain) DO NOTHING",
                params![id.as_str(), rule.domain.as_str(), rule.verdict.as_str(), now],
            )?;
            if rule.verdict == RuleVerdict::Allow {
                clear_proposals(&tx, id, &rule.domain)?;
            }
        }
        audit(&tx, now, actor, origin, "import_mud", &format!("{} {kept} rules", id.as_str()))?;
        tx.commit()?;
        Ok(kept)
    }

    pub fn destination_rules(&self, id: &DeviceId) -> Result<Vec<StoredDestinationRule>, StoreError> {
        load_device(&self.conn, id)?;
        let mut stmt =
            self.conn.prepare("SELECT domain, verdict, source, since FROM destination_rules WHERE device_id = ?1 ORDER BY domain")?;
        let rows =
            stmt.query_map([id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?)))?;
        rows.map(|row| {
            let (domain, verdict, source, since) = row?;
            Ok(StoredDestinationRule { rule: rule_row(domain, &verdict, &source)?, since })
        })
        .collect()
    }

    /// Files a batch of the DNS gate's records in one transaction. Returns the names that are
    /// news (first asked for by a device that was approved when it asked) and whether a device
    /// showed a link-layer address not seen before (the firewall must hold it too).
    pub fn record_dns(&mut self, batch: &[DnsRecord]) -> Result<Recorded, StoreError> {
        let tx = self.conn.transaction()?;
        let mut recorded = Recorded::default();
        // Each query is one row (within its device's daily budget); everything else is summed
        // over the batch first, so a device asking the same names over and over costs one
        // update per name, hour and device per batch, not one per query (measured: the per-query
        // updates were a third of the DNS gate's CPU time under load).
        let mut names: HashMap<(&str, &str), NameSum<'_>> = HashMap::new();
        let mut hours: HashMap<(&str, i64, &str), (i64, i64)> = HashMap::new();
        let mut clients: HashMap<&str, &DnsRecord> = HashMap::new();
        let mut first: HashMap<&str, &DnsRecord> = HashMap::new();
        let mut macs: HashMap<(&str, &str), i64> = HashMap::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO dns_queries (at, device_id, name, qtype, action, because, answers, ttl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut queries_today = tx.prepare_cached("SELECT kept FROM dns_query_days WHERE device_id = ?1 AND day = ?2")?;
            let mut today: HashMap<(&str, i64), i64> = HashMap::new();
            for r in batch {
                let id = r.device_id.as_str();
                let day = r.at - r.at.rem_euclid(86_400_000);
                let kept = match today.entry((id, day)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(queries_today.query_row(params![id, day], |row| row.get(0)).optional()?.unwrap_or(0))
                    }
                };
                if *kept < MAX_QUERIES_PER_DAY {
                    let answers = serde_json::to_string(&r.answers).unwrap_or_else(|_| "[]".into());
                    insert.execute(params![r.at, id, r.name.as_str(), r.qtype, r.action.as_str(), r.because, answers, r.ttl])?;
                    *kept += 1;
                } else {
                    recorded.queries_not_kept += 1;
                }
                let refused = i64::from(r.action != QueryAction::Forward);
                let sum = names.entry((id, r.name.as_str())).or_insert_with(|| NameSum {
                    first: r,
                    last: r,
                    answered: None,
                    earliest: r.at,
                    latest: r.at,
                    ttl: None,
                    queries: 0,
                    refused: 0,
                });
                sum.last = r;
                sum.earliest = sum.earliest.min(r.at);
                sum.latest = sum.latest.max(r.at);
                sum.ttl = r.ttl.or(sum.ttl);
                if !r.answers.is_empty() {
                    sum.answered = Some(r);
                }
                sum.queries += 1;
                sum.refused += refused;
                let hour = hours.entry((id, r.at - r.at.rem_euclid(3_600_000), r.registrable.as_str())).or_default();
                hour.0 += 1;
                hour.1 += refused;
                first.entry(id).or_insert(r);
                clients.insert(id, r);
                if let Some(mac) = &r.mac {
                    macs.insert((id, mac.as_str()), r.at);
                }
            }
            let mut save = tx.prepare_cached(
                "INSERT INTO dns_query_days (device_id, day, kept) VALUES (?1, ?2, ?3) ON CONFLICT(device_id, day) DO UPDATE SET kept = excluded.kept",
            )?;
            for ((id, day), kept) in today {
                save.execute(params![id, day, kept])?;
            }
        }
        write_names(&tx, &names, &mut recorded)?;
        write_hours(&tx, &hours)?;
        {
            let mut client = tx.prepare_cached(
                "INSERT INTO dns_clients (device_id, first_query, first_state, last_query, address, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(device_id) DO UPDATE SET last_query = max(last_query, excluded.last_query), address = excluded.address,
                    mac = coalesce(excluded.mac, mac)",
            )?;
            for (id, last) in &clients {
                let first = first.get(id).copied().unwrap_or(last);
                client.execute(params![id, first.at, first.state.as_str(), last.at, last.address, last.mac])?;
            }
            let mut known_mac = tx.prepare_cached("SELECT 1 FROM dns_client_macs WHERE device_id = ?1 AND mac = ?2")?;
            let mut held_by_other = tx.prepare_cached("SELECT 1 FROM dns_client_macs WHERE mac = ?2 AND device_id != ?1")?;
            let mut count_macs = tx.prepare_cached("SELECT COUNT(*) FROM dns_client_macs WHERE device_id = ?1")?;
            let mut drop_stalest = tx.prepare_cached(
                "DELETE FROM dns_client_macs WHERE device_id = ?1 AND mac =
                   (SELECT mac FROM dns_client_macs WHERE device_id = ?1 ORDER BY last_seen, first_seen LIMIT 1)",
            )?;
            let mut add_mac = tx.prepare_cached(
                "INSERT INTO dns_client_macs (device_id, mac, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(device_id, mac) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            )?;
            let mut seen: Vec<_> = macs.into_iter().collect();
            seen.sort_by_key(|(_, at)| *at);
            for ((id, mac), at) in seen {
                if known_mac.exists(params![id, mac])? {
                    add_mac.execute(params![id, mac, at])?;
                } else if held_by_other.exists(params![id, mac])? {
                    // Another device showed it first (a device pretending to be it, or queries
                    // through a router): it stays that device's, so nobody's rules move.
                    recorded.macs_refused += 1;
                } else {
                    // At the bound, the one seen least recently goes: the address a device uses
                    // now is always held (made-up addresses cannot push it out for long).
                    if count_macs.query_row([id], |row| row.get::<_, i64>(0))? >= MAX_MACS {
                        drop_stalest.execute([id])?;
                    }
                    recorded.new_mac = true;
                    add_mac.execute(params![id, mac, at])?;
                }
            }
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// The names the device asked for, most recent first.
    pub fn destinations(&self, id: &DeviceId) -> Result<Vec<Destination>, StoreError> {
        load_device(&self.conn, id)?;
        let mut stmt = self.conn.prepare(
            "SELECT name, registrable, first_seen, last_seen, queries, refused, last_action, last_because, last_answers, last_ttl, proposed
             FROM destinations WHERE device_id = ?1 ORDER BY last_seen DESC, name",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?),
                (r.get::<_, String>(6)?, r.get::<_, String>(7)?, r.get::<_, String>(8)?, r.get::<_, Option<i64>>(9)?, r.get::<_, i64>(10)?),
            ))
        })?;
        rows.map(|row| {
            let ((name, registrable, first_seen, last_seen, queries, refused), (action, because, answers, ttl, proposed)) = row?;
            Ok(Destination {
                name,
                registrable,
                first_seen,
                last_seen,
                queries: queries.max(0) as u64,
                refused: refused.max(0) as u64,
                last_action: action_from(&action)?,
                last_because: because,
                last_answers: serde_json::from_str(&answers).map_err(corrupt)?,
                last_ttl: ttl.and_then(|t| u32::try_from(t).ok()),
                proposed: proposed != 0,
            })
        })
        .collect()
    }

    /// Queries and refusals per device and registrable domain since `since` (the home's chart).
    pub fn destination_counts(&self, since: Millis) -> Result<Vec<DomainCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT device_id, registrable, SUM(queries), SUM(refused) FROM destination_hours WHERE hour >= ?1
             GROUP BY device_id, registrable ORDER BY SUM(queries) DESC",
        )?;
        let rows = stmt.query_map([since - since.rem_euclid(3_600_000)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })?;
        rows.map(|row| {
            let (id, registrable, queries, refused) = row?;
            Ok(DomainCount { device_id: parse_id(&id)?, registrable, queries: queries.max(0) as u64, refused: refused.max(0) as u64 })
        })
        .collect()
    }

    /// The most recent queries of one device (its page, and `--json` output).
    pub fn recent_dns_queries(&self, id: &DeviceId, limit: u32) -> Result<Vec<QueryRow>, StoreError> {
        load_device(&self.conn, id)?;
        let mut stmt = self
            .conn
            .prepare("SELECT at, name, qtype, action, because FROM dns_queries WHERE device_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2")?;
        let rows = stmt.query_map(params![id.as_str(), limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
        })?;
        rows.map(|row| {
            let (at, name, qtype, action, because) = row?;
            Ok((at, name, qtype, action_from(&action)?, because))
        })
        .collect()
    }

    /// Deletes query rows older than `before`, and hourly counts older than [`HOURS_KEPT`]
    /// before `now` (the names stay, as the ledger keeps metadata).
    pub fn prune_dns_queries(&mut self, before: Millis, now: Millis) -> Result<usize, StoreError> {
        let queries = self.conn.execute("DELETE FROM dns_queries WHERE at < ?1", [before])?;
        let hours = self.conn.execute("DELETE FROM destination_hours WHERE hour < ?1", [now - HOURS_KEPT])?;
        self.conn.execute("DELETE FROM dns_query_days WHERE day < ?1", [before - 86_400_000])?;
        Ok(queries + hours)
    }
}

/// One name's queries in a batch: the first (its state decides news), the last (what it was
/// answered last), the last one with addresses, and the counts.
struct NameSum<'a> {
    first: &'a DnsRecord,
    last: &'a DnsRecord,
    answered: Option<&'a DnsRecord>,
    /// Earliest and latest question times: a record is queued when its answer is sent, so an
    /// upstream question answered late arrives after later cached ones.
    earliest: i64,
    latest: i64,
    ttl: Option<u32>,
    queries: i64,
    refused: i64,
}

/// Adds a batch's sums to each name's row (new names only while the device has fewer than
/// [`MAX_DESTINATIONS`]); a name new to an approved device is news.
fn write_names(
    tx: &rusqlite::Transaction<'_>,
    names: &HashMap<(&str, &str), NameSum<'_>>,
    recorded: &mut Recorded,
) -> Result<(), StoreError> {
    let mut known = tx.prepare_cached("SELECT 1 FROM destinations WHERE device_id = ?1 AND name = ?2")?;
    let mut count = tx.prepare_cached("SELECT COUNT(*) FROM destinations WHERE device_id = ?1")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO destinations (device_id, name, registrable, first_seen, last_seen, queries, refused, last_action, last_because,
                                   last_answers, last_ttl, proposed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(device_id, name) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), queries = queries + excluded.queries,
            refused = refused + excluded.refused, last_action = excluded.last_action, last_because = excluded.last_because,
            last_answers = CASE WHEN excluded.last_answers = '[]' THEN last_answers ELSE excluded.last_answers END,
            last_ttl = coalesce(excluded.last_ttl, last_ttl), proposed = excluded.proposed",
    )?;
    let mut ordered: Vec<_> = names.iter().collect();
    ordered.sort_by_key(|(_, sum)| sum.first.at);
    // Counted once per device and batch: a device asking for ever-new names must not cost a
    // count of its names per query.
    let mut kept: HashMap<&str, i64> = HashMap::new();
    for ((id, name), sum) in ordered {
        let exists = known.exists(params![id, name])?;
        if !exists {
            let n = match kept.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(count.query_row([id], |row| row.get::<_, i64>(0))?),
            };
            if *n >= MAX_DESTINATIONS {
                continue;
            }
            *n += 1;
        }
        let answered = sum.answered.unwrap_or(sum.last);
        let answers = serde_json::to_string(&answered.answers).unwrap_or_else(|_| "[]".into());
        upsert.execute(params![
            id,
            name,
            sum.first.registrable,
            sum.earliest,
            sum.latest,
            sum.queries,
            sum.refused,
            sum.last.action.as_str(),
            sum.last.because,
            answers,
            sum.ttl,
            sum.last.propose
        ])?;
        if !exists && sum.first.state == DeviceState::Approved {
            recorded.news.push((sum.first.device_id.clone(), (*name).to_owned()));
        }
    }
    Ok(())
}

/// Adds a batch's hourly sums, each registrable domain apart up to [`MAX_DOMAINS_PER_HOUR`] per
/// device and hour, the rest under [`OTHER_DOMAINS`].
fn write_hours(tx: &rusqlite::Transaction<'_>, hours: &HashMap<(&str, i64, &str), (i64, i64)>) -> Result<(), StoreError> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO destination_hours (device_id, hour, registrable, queries, refused) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(device_id, hour, registrable) DO UPDATE SET queries = queries + excluded.queries, refused = refused + excluded.refused",
    )?;
    let mut counted = tx.prepare_cached("SELECT 1 FROM destination_hours WHERE device_id = ?1 AND hour = ?2 AND registrable = ?3")?;
    let mut apart_now = tx.prepare_cached("SELECT COUNT(*) FROM destination_hours WHERE device_id = ?1 AND hour = ?2")?;
    let mut apart: HashMap<(&str, i64), i64> = HashMap::new();
    let mut ordered: Vec<_> = hours.iter().collect();
    ordered.sort();
    for ((id, hour, registrable), (queries, refused)) in ordered {
        let n = match apart.entry((id, *hour)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(apart_now.query_row(params![id, hour], |row| row.get(0))?),
        };
        let name = if counted.exists(params![id, hour, registrable])? {
            *registrable
        } else if *n < MAX_DOMAINS_PER_HOUR {
            *n += 1;
            *registrable
        } else {
            OTHER_DOMAINS
        };
        upsert.execute(params![id, hour, name, queries, refused])?;
    }
    Ok(())
}

fn put_rule(tx: &rusqlite::Transaction<'_>, id: &DeviceId, rule: &DestinationRule, now: Millis) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO destination_rules (device_id, domain, verdict, source, since) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(device_id, domain) DO UPDATE SET verdict = excluded.verdict, source = excluded.source, since = excluded.since",
        params![id.as_str(), rule.domain.as_str(), rule.verdict.as_str(), rule.source.as_str(), now],
    )?;
    Ok(())
}

/// Names under `domain` stop being proposals: a rule now decides them.
fn clear_proposals(tx: &rusqlite::Transaction<'_>, id: &DeviceId, domain: &Domain) -> Result<(), StoreError> {
    tx.execute(
        // Compared exactly, not with LIKE: `_` is a wildcard there, and may be in a name.
        "UPDATE destinations SET proposed = 0 WHERE device_id = ?1 AND (name = ?2 OR substr(name, -length(?2) - 1) = '.' || ?2)",
        params![id.as_str(), domain.as_str()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::device::Actor;

    fn store_with_device() -> (Store, DeviceId) {
        let mut store = Store::open_in_memory().unwrap();
        let id = DeviceId::parse("d-00000000000a").unwrap();
        store.add_device(&id, "Camera", &Actor::owner(), "test", 1).unwrap();
        (store, id)
    }

    fn record(id: &DeviceId, at: Millis, name: &str, action: QueryAction, state: DeviceState) -> DnsRecord {
        DnsRecord {
            at,
            device_id: id.clone(),
            state,
            name: Domain::parse(name).unwrap(),
            registrable: name.rsplitn(3, '.').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("."),
            qtype: "A".into(),
            action,
            because: "test".into(),
            propose: action == QueryAction::Refuse,
            answers: vec!["192.0.2.1".into()],
            ttl: Some(60),
            address: "10.77.0.11".into(),
            mac: Some("02:00:00:00:00:0b".into()),
        }
    }

    #[test]
    fn queries_become_destinations_counts_and_news() {
        let (mut store, id) = store_with_device();
        let batch = [
            record(&id, 10, "eu.vendor.test", QueryAction::Forward, DeviceState::New),
            record(&id, 20, "eu.vendor.test", QueryAction::Forward, DeviceState::Approved),
            record(&id, 30, "tracker.test", QueryAction::Refuse, DeviceState::Approved),
        ];
        let recorded = store.record_dns(&batch).unwrap();
        assert_eq!(recorded.news, vec![(id.clone(), "tracker.test".to_owned())], "only a name first asked after approval is news");
        assert!(recorded.new_mac);
        let dest = store.destinations(&id).unwrap();
        assert_eq!(dest.len(), 2);
        assert_eq!((dest[0].name.as_str(), dest[0].queries, dest[0].refused, dest[0].proposed), ("tracker.test", 1, 1, true));
        assert_eq!((dest[1].name.as_str(), dest[1].queries, dest[1].first_seen, dest[1].last_seen), ("eu.vendor.test", 2, 10, 20));
        let counts = store.destination_counts(0).unwrap();
        assert_eq!(
            counts.iter().map(|c| (c.registrable.as_str(), c.queries, c.refused)).collect::<Vec<_>>(),
            [("vendor.test", 2, 0), ("tracker.test", 1, 1)]
        );
        let policy = store.network_policies().unwrap().into_iter().find(|p| p.device_id == id).unwrap();
        assert_eq!(policy.first_query, Some((10, DeviceState::New)));
        assert_eq!((policy.last_query, policy.macs.as_slice()), (Some(30), ["02:00:00:00:00:0b".to_owned()].as_slice()));
        assert_eq!(store.recent_dns_queries(&id, 10).unwrap().len(), 3);
        assert_eq!(store.prune_dns_queries(25, 0).unwrap(), 2);
        assert_eq!(store.prune_dns_queries(0, HOURS_KEPT + 3_600_000).unwrap(), 2, "hourly counts go after 30 days");
        assert_eq!(store.destinations(&id).unwrap().len(), 2, "names outlive the raw queries");
    }

    #[test]
    fn a_rule_answers_the_proposals_it_covers_and_is_audited() {
        let (mut store, id) = store_with_device();
        store.record_dns(&[record(&id, 1, "a.tracker.test", QueryAction::Refuse, DeviceState::Approved)]).unwrap();
        store.record_dns(&[record(&id, 2, "nottracker.test", QueryAction::Refuse, DeviceState::Approved)]).unwrap();
        store.record_dns(&[record(&id, 2, "a.trackerxtest", QueryAction::Refuse, DeviceState::Approved)]).unwrap();
        let rule =
            DestinationRule { domain: Domain::parse("tracker.test").unwrap(), verdict: RuleVerdict::Allow, source: RuleSource::Learned };
        store.set_destination_rule(&id, &rule, &Actor::owner(), "cli", 3).unwrap();
        let proposed: Vec<_> = store.destinations(&id).unwrap().into_iter().filter(|d| d.proposed).map(|d| d.name).collect();
        assert_eq!(proposed, ["a.trackerxtest", "nottracker.test"], "only names under the rule's domain, matched exactly");
        assert_eq!(store.destination_rules(&id).unwrap()[0].rule, rule);
        assert!(store.audit(5).unwrap().iter().any(|a| a.action == "allow_destination" && a.subject.contains("tracker.test")));
        store.set_internet_level(&id, InternetLevel::HomeOnly, &Actor::owner(), "cli", 4).unwrap();
        assert_eq!(store.internet_level(&id).unwrap(), Some(InternetLevel::HomeOnly));
    }

    #[test]
    fn mud_rules_are_replaced_as_a_whole_and_never_overrule_a_person() {
        let (mut store, id) = store_with_device();
        let rule = |d: &str, v, s| DestinationRule { domain: Domain::parse(d).unwrap(), verdict: v, source: s };
        store
            .set_destination_rule(&id, &rule("cdn.vendor.test", RuleVerdict::Deny, RuleSource::Person), &Actor::owner(), "cli", 1)
            .unwrap();
        let first = [rule("vendor.test", RuleVerdict::Allow, RuleSource::Mud), rule("old.test", RuleVerdict::Allow, RuleSource::Mud)];
        assert_eq!(store.replace_mud_rules(&id, &first, &Actor::owner(), "cli", 2).unwrap(), 2);
        let second =
            [rule("vendor.test", RuleVerdict::Allow, RuleSource::Mud), rule("cdn.vendor.test", RuleVerdict::Allow, RuleSource::Mud)];
        assert_eq!(store.replace_mud_rules(&id, &second, &Actor::owner(), "cli", 3).unwrap(), 1);
        let rules: Vec<_> = store.destination_rules(&id).unwrap().into_iter().map(|r| (r.rule.domain.to_string(), r.rule.source)).collect();
        assert_eq!(rules, [("cdn.vendor.test".to_owned(), RuleSource::Person), ("vendor.test".to_owned(), RuleSource::Mud)]);
    }

    #[test]
    fn a_device_asking_for_ever_new_names_keeps_a_bounded_list_and_every_count() {
        let (mut store, id) = store_with_device();
        let batch: Vec<_> = (0..MAX_DESTINATIONS + 50)
            .map(|i| record(&id, i, &format!("x{i}.tunnel.test"), QueryAction::Forward, DeviceState::Approved))
            .collect();
        store.record_dns(&batch).unwrap();
        assert_eq!(store.destinations(&id).unwrap().len() as i64, MAX_DESTINATIONS);
        let counts = store.destination_counts(0).unwrap();
        assert_eq!(counts.iter().map(|c| c.queries as i64).sum::<i64>(), MAX_DESTINATIONS + 50, "every query counted");
    }

    #[test]
    fn random_domains_fold_into_other_and_raw_rows_have_a_daily_budget() {
        let (mut store, id) = store_with_device();
        let batch: Vec<_> = (0..MAX_QUERIES_PER_DAY + 100)
            .map(|i| {
                let mut r = record(&id, 1_000 + i, &format!("x.r{i}.test"), QueryAction::Forward, DeviceState::Approved);
                r.registrable = format!("r{i}.test");
                r
            })
            .collect();
        let recorded = store.record_dns(&batch).unwrap();
        assert_eq!(recorded.queries_not_kept, 100);
        assert_eq!(store.recent_dns_queries(&id, u32::MAX).unwrap().len() as i64, MAX_QUERIES_PER_DAY);
        let counts = store.destination_counts(0).unwrap();
        assert_eq!(counts.len() as i64, MAX_DOMAINS_PER_HOUR + 1, "one row per domain up to the budget, then (other)");
        let other = counts.iter().find(|c| c.registrable == OTHER_DOMAINS).unwrap();
        assert_eq!(other.queries as i64, MAX_QUERIES_PER_DAY + 100 - MAX_DOMAINS_PER_HOUR);
    }

    #[test]
    fn macs_are_kept_up_to_a_bound_the_one_in_use_always_and_never_another_devices() {
        let (mut store, id) = store_with_device();
        let at = |i: i64, mac: &str| {
            let mut r = record(&id, i, "a.test", QueryAction::Forward, DeviceState::Approved);
            r.mac = Some(mac.into());
            r
        };
        // Its real address, then made-up ones to push it out.
        store.record_dns(&[at(0, "02:00:00:00:00:aa")]).unwrap();
        for i in 1..(MAX_MACS + 3) {
            store.record_dns(&[at(i, &format!("02:00:00:00:01:{i:02x}"))]).unwrap();
        }
        let macs = |store: &Store, id: &DeviceId| store.network_policies().unwrap().into_iter().find(|p| &p.device_id == id).unwrap().macs;
        assert_eq!(macs(&store, &id).len() as i64, MAX_MACS);
        // Using its real address again: held again, as the most recent.
        let recorded = store.record_dns(&[at(100, "02:00:00:00:00:aa")]).unwrap();
        assert!(recorded.new_mac && macs(&store, &id).contains(&"02:00:00:00:00:aa".to_owned()));
        assert_eq!(macs(&store, &id).len() as i64, MAX_MACS);
        // Another device showing the same address does not get it.
        let other = DeviceId::parse("d-00000000000b").unwrap();
        store.add_device(&other, "Other", &Actor::owner(), "test", 1).unwrap();
        let mut spoof = record(&other, 200, "a.test", QueryAction::Forward, DeviceState::Approved);
        spoof.mac = Some("02:00:00:00:00:aa".into());
        let recorded = store.record_dns(&[spoof]).unwrap();
        assert_eq!((recorded.macs_refused, recorded.new_mac), (1, false));
        assert!(macs(&store, &other).is_empty());
    }

    #[test]
    fn first_and_last_seen_follow_question_times_not_arrival() {
        let (mut store, id) = store_with_device();
        // An upstream question asked at 10 and answered after a cached one asked at 20.
        let late = record(&id, 10, "a.vendor.test", QueryAction::Forward, DeviceState::New);
        let mut cached = record(&id, 20, "a.vendor.test", QueryAction::Forward, DeviceState::New);
        cached.ttl = None;
        store.record_dns(&[cached, late]).unwrap();
        let d = &store.destinations(&id).unwrap()[0];
        assert_eq!((d.first_seen, d.last_seen, d.last_ttl), (10, 20, Some(60)));
    }
}

//! RFC 8520 MUD files (Manufacturer Usage Descriptions) read into destination rules, and written
//! from them. Pure: the caller fetches the file, checks its signature and stores what comes back.
//!
//! A MUD file is JSON. `ietf-mud:mud` describes the device and names, per direction
//! (`from-device-policy`, `to-device-policy`), the access lists that apply;
//! `ietf-access-control-list:acls` (RFC 8519) holds those lists. Each entry (ace) matches traffic
//! by DNS name (`ietf-acldns:dst-dnsname` / `src-dnsname`), address, protocol, port or MUD class,
//! and accepts or drops it.
//!
//! Hearth's rules are coarser: a domain allowed or denied for the whole device, decided when the
//! device asks Hearth's resolver for it. So an import keeps every name and lists, with its JSON
//! path, each part of the file Hearth cannot enforce (ports, protocols, networks, MUD classes), for
//! the person importing to read; nothing is dropped silently. One widening holds for every rule and
//! is not listed per entry: a MUD name is that exact host, a Hearth rule also covers names under it.

use super::domain::Domain;
use super::policy::{DestinationRule, RuleSource, RuleVerdict};
use crate::text::{LOGGED, STORED, clip};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// The largest file read. Real MUD files are a few kilobytes; a larger one is refused before
/// parsing, as hostile or broken. (serde_json also refuses nesting deeper than 128.)
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The most aces read, counting a list each time a policy names it: this bounds the work a small
/// file can cause (one list named 50 000 times) and what a person is asked to review.
pub const MAX_ACES: usize = 10_000;

const MUD: &str = "ietf-mud:mud";
const ACLS: &str = "ietf-access-control-list:acls";
/// The key the drafts before RFC 8519 used, still written by MUDgee and the research sets made with it.
const ACLS_DRAFT: &str = "ietf-access-control-list:access-lists";
const NOT_A_NAME: &str = "Hearth's rules are domain names";

/// What a MUD file says, as far as Hearth can hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MudImport {
    pub mud_url: Option<String>,
    pub systeminfo: Option<String>,
    pub mfg_name: Option<String>,
    pub model_name: Option<String>,
    /// One rule per name and verdict (source [`RuleSource::Mud`]), sorted by domain.
    pub rules: Vec<DestinationRule>,
    /// What the file asks for that Hearth cannot enforce, in the order the policies name it.
    pub unsupported: Vec<Unsupported>,
}

/// A part of the file Hearth does not enforce, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    /// Where: `$.ietf-access-control-list:acls.acl[0].aces.ace[2].matches.tcp.destination-port`.
    pub path: String,
    /// Plain words: "only TCP port 443: Hearth allows the whole name".
    pub what: String,
}

/// A file Hearth cannot read, with the JSON path of the first problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct MudError {
    pub path: String,
    pub message: String,
}

impl MudError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// A value in the file and its JSON path, so that every error and note says where it is.
struct At<'a> {
    v: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    fn get(&self, key: &str) -> Result<Option<At<'a>>, MudError> {
        let map = self.v.as_object().ok_or_else(|| self.wrong("an object"))?;
        Ok(map.get(key).map(|v| At { v, path: format!("{}.{key}", self.path) }))
    }

    fn field(&self, key: &str) -> Result<At<'a>, MudError> {
        self.get(key)?.ok_or_else(|| MudError::new(format!("{}.{key}", self.path), "is missing (RFC 8520 requires it)"))
    }

    fn entries(&self) -> Result<Vec<(&'a str, At<'a>)>, MudError> {
        let map = self.v.as_object().ok_or_else(|| self.wrong("an object"))?;
        Ok(map.iter().map(|(k, v)| (k.as_str(), At { v, path: format!("{}.{k}", self.path) })).collect())
    }

    fn items(&self) -> Result<Vec<At<'a>>, MudError> {
        let list = self.v.as_array().ok_or_else(|| self.wrong("a list"))?;
        Ok(list.iter().enumerate().map(|(i, v)| At { v, path: format!("{}[{i}]", self.path) }).collect())
    }

    fn text(&self) -> Result<&'a str, MudError> {
        self.v.as_str().ok_or_else(|| self.wrong("a string"))
    }

    fn number(&self) -> Result<u64, MudError> {
        self.v.as_u64().ok_or_else(|| self.wrong("a whole number"))
    }

    fn fail(&self, message: impl Into<String>) -> MudError {
        MudError::new(self.path.clone(), message)
    }

    fn wrong(&self, expected: &str) -> MudError {
        let found = match self.v {
            Value::Null => "null",
            Value::Bool(_) => "true or false",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        };
        self.fail(format!("expected {expected}, found {found}"))
    }

    fn note(&self, what: impl Into<String>) -> Unsupported {
        Unsupported { path: self.path.clone(), what: what.into() }
    }
}

/// One direction of a MUD policy and RFC 8519's names for its far end: where what the device
/// sends goes, or where what it receives comes from.
#[derive(Clone, Copy)]
struct Direction {
    policy: &'static str,
    far_name: &'static str,
    near_name: &'static str,
    far_port: &'static str,
}

const DST_NAME: &str = "ietf-acldns:dst-dnsname";
const SRC_NAME: &str = "ietf-acldns:src-dnsname";
const FROM_DEVICE: Direction =
    Direction { policy: "from-device-policy", far_name: DST_NAME, near_name: SRC_NAME, far_port: "destination-port" };
const TO_DEVICE: Direction = Direction { policy: "to-device-policy", far_name: SRC_NAME, near_name: DST_NAME, far_port: "source-port" };

/// Reads a MUD file. Errors name the JSON path of the first problem; what Hearth reads but cannot
/// enforce is listed in [`MudImport::unsupported`]. Unknown top-level keys are ignored.
pub fn import(json: &str) -> Result<MudImport, MudError> {
    if json.len() > MAX_FILE_BYTES {
        return Err(MudError::new("$", format!("the file is {} bytes; Hearth reads MUD files of at most 1 MiB", json.len())));
    }
    let root: Value = serde_json::from_str(json).map_err(|e| MudError::new("$", format!("this is not JSON ({e})")))?;
    let root = At { v: &root, path: "$".into() };
    let mud = root.get(MUD)?.ok_or_else(|| {
        MudError::new(format!("$.{MUD}"), "is missing: a MUD file (RFC 8520) describes its device there; is this the whole MUD file?")
    })?;
    let version = mud.field("mud-version")?;
    if version.number()? != 1 {
        return Err(version.fail(format!("is {}; Hearth reads MUD version 1 (RFC 8520)", version.v)));
    }
    let text = |key| -> Result<_, MudError> { mud.get(key)?.map(|at| at.text().map(|s| clip(s, STORED).into_owned())).transpose() };

    let acls = match root.get(ACLS)? {
        Some(acls) => Some(acls),
        None => root.get(ACLS_DRAFT)?,
    };
    let acls_path = acls.as_ref().map_or_else(|| format!("$.{ACLS}"), |a| a.path.clone());
    let list = match &acls {
        Some(acls) => acls.get("acl")?.map(|l| l.items()).transpose()?.unwrap_or_default(),
        None => Vec::new(),
    };
    // A map, so that a policy naming many lists costs one look-up each, not a pass over them all.
    let mut by_name = HashMap::new();
    for acl in list {
        by_name.entry(acl.field("name")?.text()?).or_insert(acl);
    }

    let mut found = Found::default();
    let mut read = 0;
    for direction in [FROM_DEVICE, TO_DEVICE] {
        let Some(policy) = mud.get(direction.policy)? else { continue };
        for entry in policy.field("access-lists")?.field("access-list")?.items()? {
            let name = entry.field("name")?;
            let acl = by_name.get(name.text()?).ok_or_else(|| {
                let shown = clip(name.v.as_str().unwrap_or_default(), LOGGED);
                name.fail(format!("names the access list `{shown}`, which is not in {acls_path}.acl; the file is incomplete"))
            })?;
            let Some(aces) = acl.get("aces")? else { continue };
            let Some(aces) = aces.get("ace")? else { continue };
            for ace in aces.items()? {
                read += 1;
                if read > MAX_ACES {
                    return Err(MudError::new(
                        acls_path,
                        format!("more than {MAX_ACES} entries (aces) to read; no device needs that many"),
                    ));
                }
                read_ace(&ace, direction, &mut found)?;
            }
        }
    }

    let verdict = |deny| if deny { RuleVerdict::Deny } else { RuleVerdict::Allow };
    Ok(MudImport {
        mud_url: text("mud-url")?,
        systeminfo: text("systeminfo")?,
        mfg_name: text("mfg-name")?,
        model_name: text("model-name")?,
        rules: (found.rules.into_iter())
            .map(|(domain, deny)| DestinationRule { domain, verdict: verdict(deny), source: RuleSource::Mud })
            .collect(),
        unsupported: found.unsupported,
    })
}

#[derive(Default)]
struct Found {
    /// (domain, is a deny): deduplicated and sorted, allow before deny.
    rules: BTreeSet<(Domain, bool)>,
    unsupported: Vec<Unsupported>,
}

fn read_ace(ace: &At<'_>, direction: Direction, found: &mut Found) -> Result<(), MudError> {
    let forwarding = ace.field("actions")?.field("forwarding")?;
    // JSON writes a YANG identity with or without its module's prefix.
    let verdict = match forwarding.text()?.trim_start_matches("ietf-access-control-list:") {
        "accept" => RuleVerdict::Allow,
        "drop" | "reject" => RuleVerdict::Deny,
        other => return Err(forwarding.fail(format!("`{}` is not accept, drop or reject", clip(other, LOGGED)))),
    };
    let whole = if verdict == RuleVerdict::Allow { "Hearth allows the whole name" } else { "Hearth denies the whole name" };
    // An ace without matches matches everything.
    let Some(matches) = ace.get("matches")? else {
        found.unsupported.push(ace.note(any_host(verdict, &[])));
        return Ok(());
    };

    let mut names = Vec::new();
    // Each note, and whether it only narrows a name rule: such a note means nothing, and is not
    // listed, when the ace names no domain.
    let mut notes: Vec<(Unsupported, bool)> = Vec::new();
    // The protocol the ace is limited to (said by `protocol` or by a tcp/udp match), its ports.
    let (mut protocol, mut limits) = (None, Vec::new());
    for (key, at) in matches.entries()? {
        match key {
            "ipv4" | "ipv6" => {
                let family = if key == "ipv4" { "IPv4" } else { "IPv6" };
                for (field, at) in at.entries()? {
                    if field == direction.far_name {
                        names.push(Domain::parse(at.text()?).map_err(|e| at.fail(e.to_string()))?);
                    } else if field == direction.near_name {
                        let what = format!("a name for the device itself ({field} in its {}): {NOT_A_NAME} it reaches", direction.policy);
                        notes.push((at.note(what), false));
                    } else if field == "protocol" {
                        protocol = Some((protocol_name(at.number()?), at.path.clone()));
                    } else if field.ends_with("-network") {
                        notes.push((at.note(format!("an {family} network ({}): {NOT_A_NAME}", clip(at.text()?, LOGGED))), false));
                    } else {
                        notes.push((at.note(format!("a match on the {family} field `{field}`: {whole}")), true));
                    }
                }
            }
            "tcp" | "udp" => {
                let transport = key.to_ascii_uppercase();
                protocol.get_or_insert_with(|| (transport.clone(), at.path.clone()));
                for (field, at) in at.entries()? {
                    match field {
                        "source-port" | "destination-port" => {
                            let whose = if field == direction.far_port { "" } else { "the device's own " };
                            let limit = format!("{whose}{transport} {}", ports(&at)?);
                            notes.push((at.note(format!("only {limit}: {whole}")), true));
                            limits.push(limit);
                        }
                        // The gate decides the lookups a device makes to start its own
                        // connections: "from-device" is exactly what it enforces.
                        "ietf-mud:direction-initiated" => match at.text()? {
                            "from-device" => {}
                            "to-device" => {
                                let what = "only connections the far end starts (to-device): Hearth decides the names the device looks up";
                                notes.push((at.note(what), true));
                            }
                            other => return Err(at.fail(format!("`{}` is not from-device or to-device", clip(other, LOGGED)))),
                        },
                        _ => notes.push((at.note(format!("a match on the {transport} field `{field}`: {whole}")), true)),
                    }
                }
            }
            "icmp" => notes.push((at.note(format!("only ICMP messages: {whole}")), true)),
            "eth" => {
                let ethertype = at.get("ethertype")?.and_then(|t| t.v.as_str().map(|t| format!(" (ethertype {})", clip(t, LOGGED))));
                notes.push((at.note(format!("an Ethernet match{}: {NOT_A_NAME}", ethertype.unwrap_or_default())), false));
            }
            "ietf-mud:mud" => {
                for (class, at) in at.entries()? {
                    notes.push((at.note(format!("{}: {NOT_A_NAME}", mud_class(class, at.v))), false));
                }
            }
            _ => notes.push((at.note(format!("a match Hearth does not know (`{}`): it is not enforced", clip(key, LOGGED))), false)),
        }
    }
    // A protocol without ports is a narrowing of its own.
    if let (Some((name, path)), true) = (protocol, limits.is_empty()) {
        notes.push((Unsupported { path, what: format!("only {name}: {whole}") }, true));
        limits.push(name);
    }

    if names.is_empty() {
        let reasons: Vec<_> = notes.into_iter().filter(|(_, narrowing)| !narrowing).map(|(note, _)| note).collect();
        if reasons.is_empty() {
            found.unsupported.push(matches.note(any_host(verdict, &limits)));
        }
        found.unsupported.extend(reasons);
    } else {
        found.rules.extend(names.into_iter().map(|d| (d, verdict == RuleVerdict::Deny)));
        found.unsupported.extend(notes.into_iter().map(|(note, _)| note));
    }
    Ok(())
}

/// An ace that names no host: it holds for every host (on its protocol and ports).
fn any_host(verdict: RuleVerdict, limits: &[String]) -> String {
    let scope = if limits.is_empty() { String::new() } else { format!(" (only {})", limits.join(", ")) };
    match verdict {
        RuleVerdict::Allow => format!("any host{scope}: Hearth's rules name a domain; the nearest is the internet level `unrestricted`"),
        RuleVerdict::Deny => {
            format!("refusing any host{scope}: at the internet level `allowed_list` Hearth refuses every name not allowed")
        }
    }
}

fn protocol_name(number: u64) -> String {
    match number {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "ICMPv6".into(),
        n => format!("IP protocol {n}"),
    }
}

/// An RFC 8519 port match in words: an operator and a port, or a range.
fn ports(at: &At<'_>) -> Result<String, MudError> {
    if let Some(lower) = at.get("lower-port")? {
        return Ok(format!("ports {}-{}", lower.number()?, at.field("upper-port")?.number()?));
    }
    let port = at.field("port")?.number()?;
    // `eq` is RFC 8519's default operator.
    Ok(match at.get("operator")?.map(|op| op.text()).transpose()?.unwrap_or("eq") {
        "eq" => format!("port {port}"),
        "neq" => format!("ports other than {port}"),
        "lte" => format!("ports up to {port}"),
        "gte" => format!("ports {port} and up"),
        other => return Err(at.fail(format!("`{}` is not a port operator (eq, neq, lte, gte)", clip(other, LOGGED)))),
    })
}

/// RFC 8520's classes of hosts (`ietf-mud:mud` matches) in words.
fn mud_class(class: &str, value: &Value) -> String {
    let named = clip(value.as_str().unwrap_or("?"), LOGGED);
    match class {
        "same-manufacturer" => "devices by the same manufacturer (same-manufacturer)".into(),
        "manufacturer" => format!("devices by the manufacturer {named} (manufacturer)"),
        "model" => format!("devices of the model {named} (model)"),
        "local-networks" => "hosts on the home's own networks (local-networks)".into(),
        "controller" => format!("controllers of the class {named} (controller)"),
        "my-controller" => "the controller the home sets for this device (my-controller)".into(),
        other => format!("the MUD class `{}`", clip(other, LOGGED)),
    }
}

// The exported file as structs, not a `Value`: a `Value` sorts its keys, and a person reading the
// file expects the RFC's order (the device first, then its lists; a list's name first).
#[derive(Serialize)]
struct MudFile<'a> {
    #[serde(rename = "ietf-mud:mud")]
    mud: Mud<'a>,
    #[serde(rename = "ietf-access-control-list:acls")]
    acls: Acls,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Mud<'a> {
    mud_version: u8,
    mud_url: &'a str,
    last_update: &'a str,
    cache_validity: u8,
    is_supported: bool,
    systeminfo: String,
    from_device_policy: Value,
    to_device_policy: Value,
}

#[derive(Serialize)]
struct Acls {
    acl: Vec<Acl>,
}

#[derive(Serialize)]
struct Acl {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    aces: Aces,
}

#[derive(Serialize)]
struct Aces {
    ace: Vec<Ace>,
}

#[derive(Serialize)]
struct Ace {
    name: String,
    matches: Value,
    actions: Value,
}

/// Writes a MUD file allowing the device the domains of its allow rules over IPv4 and IPv6, in
/// both directions: one access list per direction and family, one ace per domain.
///
/// Only allow rules are written: a MUD file is an allow list (what it does not accept is
/// dropped), so a deny has no meaning there. A Hearth rule covers the names under its domain, a
/// MUD name only that host; `direction-initiated` is left out, as RFC 8520 allows it only beside
/// a TCP match, which would shut out UDP. `mud_url` is written as given (RFC 8520 wants https);
/// `systeminfo` is cut to the 60 characters RFC 8520 allows. Pure: the caller supplies
/// `last_update` (RFC 3339), and signs the file if it wants to.
pub fn export(mud_url: &str, systeminfo: &str, rules: &[DestinationRule], last_update: &str) -> String {
    let allowed: BTreeSet<&Domain> = rules.iter().filter(|r| r.verdict == RuleVerdict::Allow).map(|r| &r.domain).collect();
    let slug = slug(systeminfo);
    let (mut acls, mut policies) = (Vec::new(), [Vec::new(), Vec::new()]);
    for ((direction, prefix), names) in [(FROM_DEVICE, "from"), (TO_DEVICE, "to")].into_iter().zip(&mut policies) {
        for family in ["ipv4", "ipv6"] {
            let name = format!("{prefix}-{family}-{slug}");
            let ace = (allowed.iter().enumerate())
                .map(|(i, domain)| Ace {
                    name: format!("{name}-{i}"),
                    matches: json!({ family: { direction.far_name: domain.as_str() } }),
                    actions: json!({ "forwarding": "accept" }),
                })
                .collect();
            names.push(json!({ "name": name }));
            acls.push(Acl { name, kind: format!("{family}-acl-type"), aces: Aces { ace } });
        }
    }
    let [from, to] = policies;
    let file = MudFile {
        mud: Mud {
            mud_version: 1,
            mud_url,
            last_update,
            // Hours before a MUD manager fetches the file again: RFC 8520's default.
            cache_validity: 48,
            is_supported: true,
            systeminfo: systeminfo.chars().take(60).collect(),
            from_device_policy: json!({ "access-lists": { "access-list": from } }),
            to_device_policy: json!({ "access-lists": { "access-list": to } }),
        },
        acls: Acls { acl: acls },
    };
    #[allow(clippy::expect_used)] // strings, numbers and JSON values with string keys always serialise
    serde_json::to_string_pretty(&file).expect("a MUD file serialises")
}

/// A list-name part made from `systeminfo`: lower-case letters, digits and `-`, at most 40
/// characters so that ace names stay within RFC 8519's 64.
fn slug(systeminfo: &str) -> String {
    let mut out = String::new();
    for c in systeminfo.chars() {
        if out.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "device".into() } else { out.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RuleVerdict::{Allow, Deny};

    const LIGHTBULB: &str = include_str!("mud_fixtures/lightbulb2000.json");
    const CAMERA: &str = include_str!("mud_fixtures/camera_c300.json");

    fn rules(found: &MudImport) -> Vec<(&str, RuleVerdict)> {
        assert!(found.rules.iter().all(|r| r.source == RuleSource::Mud));
        found.rules.iter().map(|r| (r.domain.as_str(), r.verdict)).collect()
    }

    fn notes(found: &MudImport) -> Vec<(String, &str)> {
        found.unsupported.iter().map(|u| (u.path.clone(), u.what.as_str())).collect()
    }

    /// A path under the file's access lists.
    fn acl(rest: &str) -> String {
        format!("$.ietf-access-control-list:acls.acl{rest}")
    }

    fn error(json: &str) -> (String, String) {
        let e = import(json).unwrap_err();
        (e.path, e.message)
    }

    /// The lightbulb with the value at `pointer` replaced, or removed (`None`).
    fn bulb_with(pointer: &str, value: Option<Value>) -> String {
        let mut file: Value = serde_json::from_str(LIGHTBULB).unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = file.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => parent.insert(key.into(), v),
            None => parent.remove(key),
        };
        file.to_string()
    }

    fn rule(domain: &str, verdict: RuleVerdict, source: RuleSource) -> DestinationRule {
        DestinationRule { domain: Domain::parse(domain).unwrap(), verdict, source }
    }

    #[test]
    fn the_rfc_lightbulb_allows_its_one_name_and_says_the_port_is_not_enforced() {
        let bulb = import(LIGHTBULB).unwrap();
        assert_eq!(bulb.mud_url.as_deref(), Some("https://lighting.example.com/lightbulb2000"));
        assert_eq!(bulb.systeminfo.as_deref(), Some("The BMS Example Light Bulb"));
        assert_eq!((bulb.mfg_name.as_deref(), bulb.model_name.as_deref()), (None, None));
        assert_eq!(rules(&bulb), [("test.example.com", Allow)]);
        // The from-device list is the second in the file; the policy order is kept.
        let port = "only TCP port 443: Hearth allows the whole name";
        assert_eq!(
            notes(&bulb),
            [(acl("[1].aces.ace[0].matches.tcp.destination-port"), port), (acl("[0].aces.ace[0].matches.tcp.source-port"), port)]
        );
        // Keys Hearth does not know at the top level (other YANG modules) are no reason to refuse.
        assert_eq!(import(&bulb_with("/ietf-mud-transparency:transparency", Some(json!({"sbom": 1})))).unwrap(), bulb);
    }

    #[test]
    fn a_camera_keeps_its_vendor_names_and_lists_every_narrowing_hearth_cannot_hold() {
        let camera = import(CAMERA).unwrap();
        assert_eq!((camera.mfg_name.as_deref(), camera.model_name.as_deref()), (Some("Acme Cameras"), Some("C300")));
        // Deduplicated (api is named four times), folded (`Media.AcmeCam.example.`), sorted; the
        // dropped telemetry name is a deny.
        let want = [
            ("api.acmecam.example", Allow),
            ("media.acmecam.example", Allow),
            ("pool.ntp.org", Allow),
            ("relay.acmecam.example", Allow),
            ("telemetry.acmecam.example", Deny),
        ];
        assert_eq!(rules(&camera), want);
        let want = [
            (acl("[0].aces.ace[0].matches.tcp.destination-port"), "only TCP port 443: Hearth allows the whole name"),
            (acl("[0].aces.ace[1].matches.tcp.destination-port"), "only TCP port 443: Hearth allows the whole name"),
            (acl("[0].aces.ace[2].matches.udp.destination-port"), "only UDP port 123: Hearth allows the whole name"),
            (acl("[0].aces.ace[3].matches.tcp.destination-port"), "only TCP ports 8883-8884: Hearth allows the whole name"),
            (
                acl("[0].aces.ace[4].matches.ietf-mud:mud.same-manufacturer"),
                "devices by the same manufacturer (same-manufacturer): Hearth's rules are domain names",
            ),
            (
                acl("[0].aces.ace[5].matches.ietf-mud:mud.local-networks"),
                "hosts on the home's own networks (local-networks): Hearth's rules are domain names",
            ),
            (acl("[0].aces.ace[6].matches.ipv4.destination-ipv4-network"), "an IPv4 network (10.0.0.0/8): Hearth's rules are domain names"),
            (acl("[2].aces.ace[0].matches.eth"), "an Ethernet match (ethertype 0x888e): Hearth's rules are domain names"),
            (acl("[1].aces.ace[0].matches.tcp.source-port"), "only TCP port 443: Hearth allows the whole name"),
            (acl("[1].aces.ace[1].matches.tcp.destination-port"), "only the device's own TCP port 554: Hearth allows the whole name"),
            (
                acl("[1].aces.ace[1].matches.tcp.ietf-mud:direction-initiated"),
                "only connections the far end starts (to-device): Hearth decides the names the device looks up",
            ),
            (
                acl("[1].aces.ace[2].matches.ietf-mud:mud.local-networks"),
                "hosts on the home's own networks (local-networks): Hearth's rules are domain names",
            ),
        ];
        assert_eq!(notes(&camera), want);
    }

    #[test]
    fn an_ipv6_thermostat_with_controllers_and_an_unknown_match() {
        let thermostat = import(include_str!("mud_fixtures/thermostat_v6.json")).unwrap();
        assert_eq!(rules(&thermostat), [("api.thermo.example", Allow), ("geo.thermo.example", Deny), ("time.thermo.example", Allow)]);
        let paths: Vec<_> = thermostat.unsupported.iter().map(|u| u.path.as_str()).collect();
        let ace = |i: usize, rest: &str| acl(&format!("[0].aces.ace[{i}]{rest}"));
        let want = [
            ace(0, ".matches.tcp.destination-port"),
            ace(1, ".matches.ipv6.protocol"),
            ace(2, ".matches.ipv6.ietf-acldns:src-dnsname"),
            // The network is why ace 3 is not a rule; its flow label narrows nothing, so it is not listed.
            ace(3, ".matches.ipv6.destination-ipv6-network"),
            ace(4, ".matches.ietf-mud:mud.controller"),
            ace(4, ".matches.ietf-mud:mud.manufacturer"),
            ace(4, ".matches.ietf-mud:mud.model"),
            ace(4, ".matches.ietf-mud:mud.my-controller"),
            ace(5, ".matches.thermo-ext:geofence"),
            ace(6, ""),
        ];
        assert_eq!(paths, want);
        let what = |i: usize| thermostat.unsupported[i].what.as_str();
        assert_eq!(what(0), "only TCP ports 8443 and up: Hearth allows the whole name");
        assert_eq!(what(1), "only UDP: Hearth allows the whole name");
        assert_eq!(what(8), "a match Hearth does not know (`thermo-ext:geofence`): it is not enforced");
        assert!(what(9).starts_with("refusing any host: "), "{}", what(9));
    }

    #[test]
    fn a_research_set_file_under_the_draft_key_is_read() {
        let plug = import(include_str!("mud_fixtures/research_plug.json")).unwrap();
        assert_eq!(rules(&plug), [("devs.plugcloud.example", Allow)]);
        let at = |rest: &str| format!("$.ietf-access-control-list:access-lists.acl{rest}");
        let want = [
            (at("[0].aces.ace[0].matches.tcp.destination-port"), "only TCP port 50443: Hearth allows the whole name"),
            (
                at("[0].aces.ace[1].matches.ipv4.destination-ipv4-network"),
                "an IPv4 network (192.168.1.1/32): Hearth's rules are domain names",
            ),
            (
                at("[0].aces.ace[2].matches"),
                "any host (only UDP port 67): Hearth's rules name a domain; the nearest is the internet level `unrestricted`",
            ),
            (at("[1].aces.ace[0].matches.tcp.source-port"), "only TCP port 50443: Hearth allows the whole name"),
        ];
        assert_eq!(notes(&plug), want);
    }

    #[test]
    fn malformed_files_are_refused_naming_the_exact_path() {
        let cases = [
            (include_str!("mud_fixtures/malformed_missing_mud.json"), "$.ietf-mud:mud", "is missing: a MUD file (RFC 8520)"),
            (
                include_str!("mud_fixtures/malformed_bad_domain.json"),
                &*acl("[0].aces.ace[1].matches.ipv4.ietf-acldns:dst-dnsname"),
                "`push..doorbell.example` is not a domain name",
            ),
            (
                include_str!("mud_fixtures/malformed_dangling_acl.json"),
                "$.ietf-mud:mud.from-device-policy.access-lists.access-list[1].name",
                "names the access list `from-ipv6-s2`, which is not in $.ietf-access-control-list:acls.acl",
            ),
            (include_str!("mud_fixtures/malformed_wrong_types.json"), &*acl("[0].aces.ace"), "expected a list, found an object"),
            ("{\"ietf-mud:mud\": ", "$", "this is not JSON (EOF while parsing"),
            ("[]", "$", "expected an object, found a list"),
        ];
        for (file, path, message) in cases {
            let (got_path, got) = error(file);
            assert_eq!(got_path, path, "{got}");
            assert!(got.starts_with(message), "{got}");
        }
    }

    #[test]
    fn small_mistakes_in_the_rfc_example_name_their_path() {
        let fr = "/ietf-access-control-list:acls/acl/1/aces/ace/0";
        let at = |rest: &str| acl(&format!("[1].aces.ace[0]{rest}"));
        let cases = [
            (
                "/ietf-mud:mud/mud-version".to_owned(),
                Some(json!(2)),
                "$.ietf-mud:mud.mud-version".to_owned(),
                "is 2; Hearth reads MUD version 1",
            ),
            (
                "/ietf-mud:mud/mud-version".into(),
                Some(json!("1")),
                "$.ietf-mud:mud.mud-version".into(),
                "expected a whole number, found a string",
            ),
            ("/ietf-mud:mud/mud-version".into(), None, "$.ietf-mud:mud.mud-version".into(), "is missing (RFC 8520 requires it)"),
            (
                "/ietf-mud:mud/systeminfo".into(),
                Some(json!(["bulb"])),
                "$.ietf-mud:mud.systeminfo".into(),
                "expected a string, found a list",
            ),
            (
                "/ietf-mud:mud/to-device-policy/access-lists".into(),
                Some(json!([])),
                "$.ietf-mud:mud.to-device-policy.access-lists".into(),
                "expected an object",
            ),
            (format!("{fr}/actions/forwarding"), Some(json!("allow")), at(".actions.forwarding"), "`allow` is not accept, drop or reject"),
            (format!("{fr}/actions/forwarding"), None, at(".actions.forwarding"), "is missing"),
            (
                format!("{fr}/matches/ipv6/ietf-acldns:dst-dnsname"),
                Some(json!(42)),
                at(".matches.ipv6.ietf-acldns:dst-dnsname"),
                "expected a string, found a number",
            ),
            (
                format!("{fr}/matches/tcp/destination-port/operator"),
                Some(json!("like")),
                at(".matches.tcp.destination-port"),
                "`like` is not a port operator",
            ),
            (
                format!("{fr}/matches/tcp/ietf-mud:direction-initiated"),
                Some(json!("both")),
                at(".matches.tcp.ietf-mud:direction-initiated"),
                "`both` is not",
            ),
            (
                "/ietf-access-control-list:acls".into(),
                None,
                "$.ietf-mud:mud.from-device-policy.access-lists.access-list[0].name".into(),
                "names the access list `mud-76100-v6fr`, which is not in $.ietf-access-control-list:acls.acl",
            ),
        ];
        for (pointer, value, path, message) in cases {
            let (got_path, got) = error(&bulb_with(&pointer, value));
            assert_eq!(got_path, path, "{pointer}: {got}");
            assert!(got.starts_with(message), "{pointer}: {got}");
        }
    }

    #[test]
    fn hostile_files_are_refused_before_the_work() {
        let huge = format!("{{{}}}", " ".repeat(MAX_FILE_BYTES));
        assert_eq!(
            error(&huge),
            ("$".to_owned(), format!("the file is {} bytes; Hearth reads MUD files of at most 1 MiB", MAX_FILE_BYTES + 2))
        );
        // One small list named over and over: a short file with many aces to read. The bound
        // counts every read, the to-device one included.
        let named = |times: usize| {
            bulb_with(
                "/ietf-mud:mud/from-device-policy/access-lists/access-list",
                Some(json!(vec![json!({"name": "mud-76100-v6fr"}); times])),
            )
        };
        assert_eq!(import(&named(MAX_ACES - 1)).unwrap().rules.len(), 1);
        let (path, message) = error(&named(MAX_ACES));
        assert_eq!(
            (path.as_str(), message.as_str()),
            ("$.ietf-access-control-list:acls", "more than 10000 entries (aces) to read; no device needs that many")
        );
    }

    #[test]
    fn an_exported_file_reads_back_as_the_same_allowed_names() {
        let mine = [
            rule("pool.ntp.org", Allow, RuleSource::Learned),
            rule("api.acmecam.example", Allow, RuleSource::Person),
            rule("api.acmecam.example", Allow, RuleSource::Mud),
            rule("telemetry.acmecam.example", Deny, RuleSource::Person),
        ];
        let file = export("https://hearth.home.arpa/mud/c300", "Acme C300", &mine, "2026-12-01T16:00:00Z");
        let back = import(&file).unwrap();
        assert_eq!(rules(&back), [("api.acmecam.example", Allow), ("pool.ntp.org", Allow)], "the deny has no MUD meaning");
        assert!(back.unsupported.is_empty(), "{:?}", back.unsupported);
        assert_eq!((back.mud_url.as_deref(), back.systeminfo.as_deref()), (Some("https://hearth.home.arpa/mud/c300"), Some("Acme C300")));
        // A maker's file through Hearth and out again keeps its allowed names.
        let camera = import(CAMERA).unwrap();
        let again = import(&export("https://hearth.home.arpa/mud/c300", "Acme C300", &camera.rules, "2026-12-01T16:00:00Z")).unwrap();
        assert_eq!(again.rules, camera.rules.into_iter().filter(|r| r.verdict == Allow).collect::<Vec<_>>());
    }

    #[test]
    fn an_exported_file_has_the_rfc_structure() {
        let file = export(
            "https://hearth.home.arpa/mud/bulb",
            "Light bulb",
            &[rule("test.example.com", Allow, RuleSource::Person)],
            "2026-12-01T16:00:00Z",
        );
        let v: Value = serde_json::from_str(&file).unwrap();
        let mud = &v["ietf-mud:mud"];
        assert_eq!((&mud["mud-version"], &mud["cache-validity"], &mud["is-supported"]), (&json!(1), &json!(48), &json!(true)));
        assert_eq!((&mud["mud-url"], &mud["last-update"]), (&json!("https://hearth.home.arpa/mud/bulb"), &json!("2026-12-01T16:00:00Z")));
        assert_eq!(
            mud["from-device-policy"],
            json!({"access-lists": {"access-list": [{"name": "from-ipv4-light-bulb"}, {"name": "from-ipv6-light-bulb"}]}})
        );
        assert_eq!(
            mud["to-device-policy"],
            json!({"access-lists": {"access-list": [{"name": "to-ipv4-light-bulb"}, {"name": "to-ipv6-light-bulb"}]}})
        );
        let acls = v["ietf-access-control-list:acls"]["acl"].as_array().unwrap();
        let kinds: Vec<_> = acls.iter().map(|a| (a["name"].as_str().unwrap(), a["type"].as_str().unwrap())).collect();
        assert_eq!(
            kinds,
            [
                ("from-ipv4-light-bulb", "ipv4-acl-type"),
                ("from-ipv6-light-bulb", "ipv6-acl-type"),
                ("to-ipv4-light-bulb", "ipv4-acl-type"),
                ("to-ipv6-light-bulb", "ipv6-acl-type")
            ]
        );
        let ace = |family: &str, key: &str, name: &str| json!({"name": name, "matches": {family: {key: "test.example.com"}}, "actions": {"forwarding": "accept"}});
        assert_eq!(acls[0]["aces"]["ace"], json!([ace("ipv4", "ietf-acldns:dst-dnsname", "from-ipv4-light-bulb-0")]));
        assert_eq!(acls[3]["aces"]["ace"], json!([ace("ipv6", "ietf-acldns:src-dnsname", "to-ipv6-light-bulb-0")]));
        // In the RFC's order for a person reading it: the device first, a list's name first.
        assert!(file.find("\"ietf-mud:mud\"") < file.find("\"ietf-access-control-list:acls\""));
        assert!(file.find("\"name\": \"from-ipv4-light-bulb\"") < file.find("\"type\": \"ipv4-acl-type\""));
        // Within RFC 8520's and 8519's lengths however long the description.
        let long = import(&export("https://x.example/m", &"Über-long name ".repeat(9), &[], "2026-12-01T16:00:00Z")).unwrap();
        assert_eq!(long.systeminfo.map(|s| s.chars().count()), Some(60));
        assert_eq!(slug(&"Über-long name ".repeat(9)), "ber-long-name-ber-long-name-ber-long-nam");
        assert_eq!(slug("  ***  "), "device");
    }
}

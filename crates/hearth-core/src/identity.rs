//! Which physical device a sighting belongs to.
//!
//! How identity is chosen, and why: a device is known by a set of *identity keys*, and two
//! sightings that share any key are the same device. Keys are chosen from what stays stable on
//! a device across reboots and address changes, in the order a device usually reveals them:
//! - `mac:` a MAC address, from TXT keys (`mac`, `macaddress`, AirPlay `deviceid`) or embedded in
//!   instance names by firmware conventions (Shelly `model-<mac>`, RAOP `<MAC>@Name`,
//!   Sonos `Sonos-<MAC>@Room`, avahi `host [mac]`);
//! - a vendor's stable device id (`hap:` HomeKit `id`, `cast:` Cast `id`, `hue:` bridge id,
//!   `ha:` Home Assistant `uuid`, `matter:` operational instance name);
//! - `host:` the mDNS host name, which every service of one responder shares.
//!
//! Keys are not equally strong. A MAC or a vendor id names one device; a host name or a bare
//! service instance is only what the firmware defaults to, and cheap devices of one model often
//! share it (`esp32.local.`). So a *weak* match (host, instance) is refused when the matched
//! device holds a strong key of the same kind as one the sighting carries but with another value
//! (same host name, different MAC: two devices, see [`contradicts`]).
//!
//! IP addresses are deliberately *not* keys: DHCP moves devices between addresses and gives an
//! old address to a new device, so an address match would merge two devices or split one.
//!
//! Announcements are unauthenticated: anyone on the network can send one naming any key. So no
//! announcement may change what a device is allowed to do ([`resolve`]):
//! - one sighting that links records of which at most one holds a person's decision (approved or
//!   blocked, a credential, topic rules, privacy choices, an anonymous pin) folds the others into
//!   that one (or into the oldest): they were one device seen through different services, and
//!   the decisions stay as they were;
//! - one that links two records that both hold decisions is a question for a person, never a
//!   merge: the store files the sighting under one of them and proposes the merge; so is one
//!   that would fold into a decided record a record with an id of its own (a waiting device's
//!   MAC must not become an approved record's);
//! - one that names two different ids of one kind ([`self_contradiction`]) is no device's, and is
//!   recorded and shown, not filed.

use crate::sighting::Sighting;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One stable key, e.g. `mac:c4dd57877294` or `host:shellyplus1-c4dd57877294`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityKey(String);

impl IdentityKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Rebuilds a key read back from the store.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    fn new(kind: &str, value: &str) -> Self {
        Self(format!("{kind}:{}", value.to_lowercase()))
    }
    /// `mac`, `hap`, `host`...: the part before the first colon.
    pub fn kind(&self) -> &str {
        self.0.split_once(':').map_or(self.0.as_str(), |(kind, _)| kind)
    }
    /// A key that names one device (a MAC, a vendor's device id), as opposed to a name that
    /// firmware defaults to and several devices may share.
    pub fn is_strong(&self) -> bool {
        !matches!(self.kind(), "host" | "instance")
    }
}

/// True when `device_keys` (the keys of a device already on record) contradict the sighting's
/// `sighting_keys`: for some kind of strong key both have, they have no value in common. A weak
/// match with such a device is two devices that happen to share a default host name.
pub fn contradicts(sighting_keys: &[IdentityKey], device_keys: &[IdentityKey]) -> bool {
    sighting_keys.iter().filter(|k| k.is_strong()).any(|mine| {
        let same_kind: Vec<_> = device_keys.iter().filter(|theirs| theirs.kind() == mine.kind()).collect();
        !same_kind.is_empty() && !sighting_keys.iter().any(|k| same_kind.contains(&k))
    })
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every identity key this sighting carries, sorted and without duplicates.
pub fn identity_keys(s: &Sighting) -> Vec<IdentityKey> {
    let mut keys = Vec::new();
    for k in ["mac", "macaddress", "deviceid"] {
        if let Some(mac) = s.txt(k).and_then(normalize_mac) {
            keys.push(IdentityKey::new("mac", &mac));
        }
    }
    if let Some(mac) = mac_in_instance(&s.instance) {
        keys.push(IdentityKey::new("mac", &mac));
    }
    let vendor_ids: &[(&str, &str, &str)] = &[
        ("_hap._tcp", "id", "hap"),
        ("_hap._udp", "id", "hap"),
        ("_googlecast._tcp", "id", "cast"),
        ("_hue._tcp", "bridgeid", "hue"),
        ("_home-assistant._tcp", "uuid", "ha"),
        ("_elg._tcp", "id", "elg"),
        ("_nanoleafapi._tcp", "id", "nanoleaf"),
        ("_ewelink._tcp", "id", "ewelink"),
    ];
    for (ty, txt_key, kind) in vendor_ids {
        if s.service_type == *ty
            && let Some(v) = s.txt(txt_key).filter(|v| !v.trim().is_empty())
        {
            keys.push(IdentityKey::new(kind, v.trim()));
        }
    }
    if s.service_type == "_matter._tcp" && !s.instance.is_empty() {
        keys.push(IdentityKey::new("matter", &s.instance));
    }
    if !s.host.is_empty() {
        keys.push(IdentityKey::new("host", &s.host));
    }
    if keys.is_empty() {
        // A responder with neither host nor ids: its service instance is all we have.
        keys.push(IdentityKey::new("instance", &format!("{}.{}", s.instance, s.service_type)));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// `aa:bb:cc:dd:ee:ff`, `AA-BB-...` or `aabbccddeeff` → `aabbccddeeff`; anything else → None.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    let ok = hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) && hex != "000000000000";
    ok.then(|| hex.to_lowercase())
}

/// MACs that firmware writes into instance names (see reference/devices.md).
fn mac_in_instance(instance: &str) -> Option<String> {
    // RAOP `C92A14084F64@Hello`, Sonos `Sonos-7828CA831A30@Bedroom`, `RINCON_7828CA831A3001400`.
    if let Some((head, _)) = instance.split_once('@') {
        let tail = head.rsplit(['-', '_']).next().unwrap_or(head);
        if let Some(mac) = normalize_mac(tail) {
            return Some(mac);
        }
    }
    // avahi `_workstation`: `pi-foo-01 [b8:27:eb:3a:e2:c8]`.
    if let (Some(open), true) = (instance.rfind('['), instance.ends_with(']'))
        && let Some(mac) = normalize_mac(&instance[open + 1..instance.len() - 1])
    {
        return Some(mac);
    }
    // Shelly `shellyplus1-c4dd57877294`, WLED-style `name-<12 hex>`.
    let tail = instance.rsplit('-').next()?;
    if tail.len() == 12 && instance.len() > 13 { normalize_mac(tail) } else { None }
}

/// A record a sighting's keys point to, as the planner needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<Id> {
    pub id: Id,
    /// Only a person may join it to another record: it holds a person's decision (approved or
    /// blocked, a credential, topic rules, privacy choices, an anonymous pin), or an id of its own
    /// (a MAC, a vendor id) that the decided record it would be folded into does not have (so
    /// that an announcement cannot hand a waiting device's MAC, and what is keyed on it, to an
    /// approved record).
    pub protected: bool,
}

/// What to do with a sighting given the devices that already hold any of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<Id> {
    /// No device holds any key: a new device.
    New,
    /// Exactly one device holds them.
    Existing(Id),
    /// Several records are one device and at most one holds a person's decision: fold the rest
    /// into `keep` (that one, else the oldest). What any device may do stays as it was.
    Merge { keep: Id, absorb: Vec<Id> },
    /// Several records only a person may join (see [`Matched::protected`]): an announcement
    /// (anyone can send one) must not. File the sighting under `file_under` (the oldest of them),
    /// move no key of the others, and ask a person whether `others` are the same device.
    Propose { file_under: Id, others: Vec<Id> },
}

/// Decides from the records matched, ordered oldest first and without duplicates.
pub fn resolve<Id: Clone + PartialEq>(matched_oldest_first: &[Matched<Id>]) -> Resolution<Id> {
    let decided: Vec<&Matched<Id>> = matched_oldest_first.iter().filter(|m| m.protected).collect();
    match (matched_oldest_first, decided.as_slice()) {
        ([], _) => Resolution::New,
        ([one], _) => Resolution::Existing(one.id.clone()),
        (_, [first, rest @ ..]) if !rest.is_empty() => {
            Resolution::Propose { file_under: first.id.clone(), others: rest.iter().map(|m| m.id.clone()).collect() }
        }
        (all, _) => {
            let keep = decided.first().map_or_else(|| all[0].id.clone(), |m| m.id.clone());
            Resolution::Merge { keep: keep.clone(), absorb: all.iter().map(|m| m.id.clone()).filter(|id| *id != keep).collect() }
        }
    }
}

/// The keys of one kind of strong key that a sighting names with more than one value (two MACs,
/// two HomeKit ids), if any: no announcement of one real device names two, a forged one that
/// tries to join two devices' records does. Such a sighting is recorded and shown, never filed.
pub fn self_contradiction(keys: &[IdentityKey]) -> Option<Vec<IdentityKey>> {
    let strong: Vec<&IdentityKey> = keys.iter().filter(|k| k.is_strong()).collect();
    strong.iter().find_map(|first| {
        let same_kind: Vec<IdentityKey> = strong.iter().filter(|k| k.kind() == first.kind()).map(|k| (*k).clone()).collect();
        (same_kind.len() > 1).then_some(same_kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(ty: &str, instance: &str, host: &str, txt: &[(&str, &str)]) -> Sighting {
        Sighting::new(ty, instance, host, vec![], 80, txt.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())))
    }

    fn keys(s: &Sighting) -> Vec<String> {
        identity_keys(s).into_iter().map(|k| k.0).collect()
    }

    #[test]
    fn keys_from_real_announcements() {
        let cases: &[(Sighting, &[&str])] = &[
            (
                sighting("_shelly._tcp", "shellyplus1-c4dd57877294", "ShellyPlus1-C4DD57877294.local.", &[("gen", "2")]),
                &["host:shellyplus1-c4dd57877294", "mac:c4dd57877294"],
            ),
            (
                sighting("_raop._tcp", "C92A14084F64@Living Room", "Living-Room.local.", &[("am", "AppleTV3,1")]),
                &["host:living-room", "mac:c92a14084f64"],
            ),
            (
                sighting(
                    "_airplay._tcp",
                    "Living Room",
                    "Living-Room.local.",
                    &[("deviceid", "C9:2A:14:08:4F:64"), ("model", "AppleTV3,1")],
                ),
                &["host:living-room", "mac:c92a14084f64"],
            ),
            (
                sighting("_sonos._tcp", "Sonos-7828CA831A30@Bedroom Speaker", "Sonos-7828CA831A30.local.", &[]),
                &["host:sonos-7828ca831a30", "mac:7828ca831a30"],
            ),
            (
                sighting("_workstation._tcp", "pi-foo-01 [b8:27:eb:3a:e2:c8]", "pi-foo-01.local.", &[]),
                &["host:pi-foo-01", "mac:b827eb3ae2c8"],
            ),
            (
                sighting(
                    "_hap._tcp",
                    "Eve Energy 5A3C",
                    "Eve-Energy-5A3C.local.",
                    &[("id", "3C:4F:1A:22:9B:01"), ("ci", "7"), ("md", "Eve Energy")],
                ),
                &["hap:3c:4f:1a:22:9b:01", "host:eve-energy-5a3c"],
            ),
            (
                sighting("_esphomelib._tcp", "kitchen-sensor", "kitchen-sensor.local.", &[("mac", "246f28aabbcc")]),
                &["host:kitchen-sensor", "mac:246f28aabbcc"],
            ),
            // A name that merely ends in twelve characters that are not hex is not a MAC.
            (sighting("_http._tcp", "my-printer-xyzxyzxyzxyz", "", &[]), &["instance:my-printer-xyzxyzxyzxyz._http._tcp"]),
        ];
        for (s, want) in cases {
            assert_eq!(keys(s), *want, "{s:?}");
        }
    }

    #[test]
    fn airplay_and_raop_of_one_apple_tv_share_a_key() {
        let a = identity_keys(&sighting("_airplay._tcp", "Den", "den-tv.local.", &[("deviceid", "C9:2A:14:08:4F:64")]));
        let b = identity_keys(&sighting("_raop._tcp", "C92A14084F64@Den", "other.local.", &[]));
        assert!(a.iter().any(|k| b.contains(k)));
    }

    #[test]
    fn macs_normalise() {
        assert_eq!(normalize_mac("AA-BB-CC-DD-EE-FF").as_deref(), Some("aabbccddeeff"));
        assert_eq!(normalize_mac("00:00:00:00:00:00"), None);
        assert_eq!(normalize_mac("not a mac"), None);
    }

    #[test]
    fn a_shared_default_host_name_does_not_join_devices_with_different_macs() {
        let a = identity_keys(&sighting("_esphomelib._tcp", "esp32", "esp32.local.", &[("mac", "246f28aabbcc")]));
        let b = identity_keys(&sighting("_esphomelib._tcp", "esp32", "esp32.local.", &[("mac", "246f28ddeeff")]));
        let no_mac = identity_keys(&sighting("_http._tcp", "esp32", "esp32.local.", &[]));
        assert!(contradicts(&b, &a));
        assert!(!contradicts(&a, &a));
        // Without a MAC, the host name is all there is: no contradiction either way.
        assert!(!contradicts(&no_mac, &a));
        assert!(!contradicts(&a, &no_mac));
        // A device with two MACs (Wi-Fi and Ethernet) is not contradicted by one of them.
        let both: Vec<_> = a.iter().chain(&b).cloned().collect();
        assert!(!contradicts(&a, &both));
        assert!(identity_keys(&sighting("_hap._tcp", "x", "x.local.", &[("id", "AA:BB:CC:DD:EE:FF")]))[0].is_strong());
        assert!(!no_mac[0].is_strong());
    }

    fn matched(ids: &[(u8, bool)]) -> Vec<Matched<u8>> {
        ids.iter().map(|&(id, protected)| Matched { id, protected }).collect()
    }

    #[test]
    fn resolution() {
        assert_eq!(resolve::<u8>(&[]), Resolution::New);
        assert_eq!(resolve(&matched(&[(3, true)])), Resolution::Existing(3));
        // Nobody decided anything yet: one device seen through several services, fold into the oldest.
        assert_eq!(resolve(&matched(&[(1, false), (4, false), (9, false)])), Resolution::Merge { keep: 1, absorb: vec![4, 9] });
        // One record holds a person's decision: it is the one kept, whatever its age, so that
        // nothing it may do changes (a younger approved record never becomes `new`).
        assert_eq!(resolve(&matched(&[(1, false), (4, true), (9, false)])), Resolution::Merge { keep: 4, absorb: vec![1, 9] });
        // Two records hold decisions: an announcement cannot join them; a person is asked.
        assert_eq!(resolve(&matched(&[(1, false), (4, true), (9, true)])), Resolution::Propose { file_under: 4, others: vec![9] });
    }

    /// The forged announcement of the attacker's review: one `_http._tcp` record whose TXT names
    /// the plug's MAC and the lock's.
    #[test]
    fn an_announcement_naming_two_macs_contradicts_itself() {
        let forged = identity_keys(&sighting(
            "_http._tcp",
            "innocent",
            "attacker.local.",
            &[("mac", "aa:aa:aa:00:00:01"), ("macaddress", "bb:bb:bb:00:00:02")],
        ));
        let found = self_contradiction(&forged).expect("two MACs in one announcement");
        assert_eq!(found.iter().map(IdentityKey::as_str).collect::<Vec<_>>(), ["mac:aaaaaa000001", "mac:bbbbbb000002"]);
        // The same MAC twice (AirPlay's deviceid and its RAOP-style name) is no contradiction, nor
        // are keys of different kinds, nor a MAC and a host name.
        let one = identity_keys(&sighting("_airplay._tcp", "C92A14084F64@Den", "den.local.", &[("deviceid", "C9:2A:14:08:4F:64")]));
        assert_eq!(self_contradiction(&one), None);
        let kinds = identity_keys(&sighting("_hap._tcp", "Lock", "lock.local.", &[("id", "AA:BB:CC:00:11:22"), ("mac", "aabbcc001122")]));
        assert_eq!(self_contradiction(&kinds), None);
    }
}

//! The checks of the fuzz targets (`fuzz/` at the repository root), one function per target,
//! here so that the fuzzer and a plain `cargo test` (`tests/fuzz_seeds.rs`, which replays every
//! committed seed and every crash found) run the same code: a crash once found stays a test.
//!
//! Each check takes the fuzzer's raw bytes, splits them into the inputs of the parsers it
//! drives (the layout of each is in its doc comment, and in `fuzz/README.md`), and panics when
//! an invariant does not hold. The layouts are text where they can be, so that seeds copied from
//! `shared/reference/devices.md` stay readable and libFuzzer's mutations of them stay meaningful.
//!
//! Not part of Hearth's API: hidden from its docs, and nothing outside the fuzzing uses it.

use crate::classify::{Category, Classifier, EXAMPLE_CHARS, MAX_FIELDS};
use crate::device::DeviceId;
use crate::discovery::{self, DiscoveryError, MAX_ENTITIES};
use crate::fingerprint::Fingerprints;
use crate::identity;
use crate::manifest::{Direction, Manifest, RuleStatus, TopicRule, Verdict};
// Without redact's own re-read, which would turn a rewrite that fails `reread` into Unreadable.
use crate::redact::{Redacted, redact_unchecked as redact_payload};
use crate::sighting::{MAX_NAME_LEN, MAX_TXT_ENTRIES, MAX_TXT_VALUE_LEN, Sighting};
use crate::suggest::{self, HeldRule, SHARED_ROOTS};
use crate::topic;
use std::net::IpAddr;
use std::sync::OnceLock;

/// One target's check: it panics when an invariant does not hold.
pub type Check = fn(&[u8]);

/// The seed directories and the check each one's files go through, for the replaying test.
pub const TARGETS: &[(&str, Check)] =
    &[("sighting", sighting), ("discovery", discovery), ("redact", redact), ("classify", classify), ("topic", topic), ("suggest", suggest)];

/// Splits off the first line (without its `\n`); the rest is everything after it.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A manifest rule written `<direction><status><pattern>`: `p`/`s`, then `a`/`d`/`l`.
fn rule_line(bytes: &[u8]) -> Option<TopicRule> {
    let (&d, rest) = bytes.split_first()?;
    let (&s, pattern) = rest.split_first()?;
    let direction = if d == b's' { Direction::Subscribe } else { Direction::Publish };
    let status = match s {
        b'd' => RuleStatus::Denied,
        b'l' => RuleStatus::Learned,
        _ => RuleStatus::Allowed,
    };
    Some(TopicRule { direction, pattern: text(pattern), status })
}

/// Rules, one a line, until an empty line or the end; returns them and the rest.
fn rules(mut data: &[u8]) -> (Vec<TopicRule>, &[u8]) {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (l, rest) = line(data);
        data = rest;
        if l.is_empty() {
            break;
        }
        out.extend(rule_line(l));
    }
    (out, data)
}

/// DNS-SD TXT data as it comes in a TXT record (RFC 6763 §6): strings of one length byte and up
/// to 255 bytes, each `key=value` (or a bare `key`, a boolean attribute). Cut short data ends
/// the record, as a lenient reader would.
pub fn txt_record(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        let (entry, rest) = rest.split_at(len);
        data = rest;
        if entry.is_empty() {
            continue;
        }
        match entry.iter().position(|b| *b == b'=') {
            Some(eq) => out.push((text(&entry[..eq]), entry[eq + 1..].to_vec())),
            None => out.push((text(entry), Vec::new())),
        }
    }
    out
}

/// `sighting`: lines `service type`, `instance`, `host`, `addresses` (comma-separated, those
/// that parse), `port`, then the raw TXT record ([`txt_record`]) to the end.
///
/// Drives `Sighting::new`, `identity::identity_keys`, `identity::self_contradiction`,
/// `Fingerprints::recognise` and `suggest::from_services`. Invariants: every name and TXT entry
/// within its bound and free of control characters, at most `MAX_TXT_ENTRIES` entries, no
/// empty key; addresses sorted without duplicates; identity keys sorted, without duplicates,
/// each `kind:value`; a self-contradiction is two or more strong keys of one kind, all among the
/// keys; what `from_services` proposes is well formed (see [`check_suggestions`]).
pub fn sighting(data: &[u8]) {
    let (service_type, data) = line(data);
    let (instance, data) = line(data);
    let (host, data) = line(data);
    let (addresses, data) = line(data);
    let (port, txt) = line(data);
    let addresses: Vec<IpAddr> = text(addresses).split(',').filter_map(|a| a.trim().parse().ok()).collect();
    let port = text(port).trim().parse::<u16>().unwrap_or(0);
    let raw_txt = txt_record(txt);
    let s = Sighting::new(&text(service_type), &text(instance), &text(host), addresses.clone(), port, raw_txt.clone());

    for name in [&s.service_type, &s.instance, &s.host] {
        assert!(name.len() <= MAX_NAME_LEN, "a name of {} bytes", name.len());
        assert!(!name.chars().any(char::is_control), "a control character in {name:?}");
    }
    assert!(s.txt.len() <= MAX_TXT_ENTRIES, "{} TXT entries", s.txt.len());
    assert_eq!(s.txt.len(), raw_txt.iter().filter(|(k, _)| !k.is_empty()).count().min(MAX_TXT_ENTRIES));
    for e in &s.txt {
        assert!(!e.key.is_empty(), "an empty TXT key");
        assert!(e.key.len() <= MAX_TXT_VALUE_LEN && e.value.len() <= MAX_TXT_VALUE_LEN, "a TXT entry over its bound");
        assert!(!e.key.chars().chain(e.value.chars()).any(char::is_control), "a control character in {e:?}");
        assert!(s.txt(&e.key).is_some(), "TXT key {:?} is there but not found", e.key);
    }
    assert!(s.addresses.windows(2).all(|w| w[0] < w[1]), "addresses not sorted and unique: {:?}", s.addresses);
    assert!(addresses.iter().all(|a| s.addresses.contains(a)), "an address was lost");

    let keys = identity::identity_keys(&s);
    assert!(!keys.is_empty(), "a sighting with no identity key");
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not sorted and unique: {keys:?}");
    for k in &keys {
        assert!(k.as_str().starts_with(&format!("{}:", k.kind())), "key {k} has no kind");
    }
    if let Some(found) = identity::self_contradiction(&keys) {
        assert!(found.len() > 1, "one key is no contradiction");
        assert!(found.iter().all(|k| k.is_strong() && k.kind() == found[0].kind() && keys.contains(k)), "{found:?} of {keys:?}");
    }
    assert!(!identity::contradicts(&keys, &keys), "a sighting contradicts itself as a device: {keys:?}");

    let recognition = fingerprints().recognise([&s]);
    assert!(!recognition.rule.is_empty());

    let mut known = Vec::new();
    suggest::from_services(&[(s.service_type.as_str(), s.instance.as_str())], &[], &[], &mut known);
    check_suggestions(&known, &[], &[]);
}

fn fingerprints() -> &'static Fingerprints {
    static TABLE: OnceLock<Fingerprints> = OnceLock::new();
    TABLE.get_or_init(Fingerprints::builtin)
}

/// Topic roots of the discovery conventions, picked by the first byte of a `discovery` input so
/// that the fuzzer reaches each parser without guessing its prefix.
const DISCOVERY_ROOTS: &[&str] = &["homeassistant/", "tasmota/discovery/", "zigbee2mqtt/", ""];

/// `discovery`: a line `<root selector><rest of the topic>` (the selector byte picks one of
/// `homeassistant/`, `tasmota/discovery/`, `zigbee2mqtt/` or nothing), manifest rules one a line
/// (`<p|s><a|d|l><pattern>`) up to an empty line, then the payload.
///
/// Drives `discovery::parse` and `discovery::foreign_topic`. Invariants: a message is parsed
/// exactly when its topic is a discovery topic; what is parsed has that source and scope, at most
/// `MAX_ENTITIES` entities, only valid topic names, sorted without duplicates; `foreign_topic`
/// names one of its topics that the manifest does not allow, and only then.
pub fn discovery(data: &[u8]) {
    let (first, data) = line(data);
    let (manifest_rules, payload) = rules(data);
    let topic = match first.split_first() {
        Some((&selector, rest)) => format!("{}{}", DISCOVERY_ROOTS[usize::from(selector) % DISCOVERY_ROOTS.len()], text(rest)),
        None => String::new(),
    };
    let manifest = Manifest { rules: manifest_rules };
    let parsed = discovery::parse(&topic, payload);
    let source = discovery::source_of(&topic);
    let d = match parsed {
        Ok(None) => {
            assert_eq!(source, None, "a discovery topic {topic:?} was not parsed");
            return;
        }
        Ok(Some(d)) => d,
        Err(DiscoveryError::BadTopic(t)) => {
            assert!(!topic::is_valid_name(&t), "refused {t:?}, a valid topic name");
            return;
        }
        Err(DiscoveryError::Malformed(_)) => {
            assert!(source.is_some(), "{topic:?} is no discovery topic, yet its message was refused");
            return;
        }
    };
    assert_eq!(d.source, source);
    assert_eq!(d.scope, topic);
    assert!(d.entities.len() <= MAX_ENTITIES);
    for list in [&d.publishes, &d.commands] {
        assert!(list.iter().all(|t| topic::is_valid_name(t)), "an invalid topic name in {list:?}");
        assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted and unique: {list:?}");
    }
    for e in &d.entities {
        for t in e.state_topic.iter() {
            assert!(d.publishes.contains(t), "state topic {t:?} of {} is not among the topics it publishes", e.key);
        }
        for t in e.command_topic.iter() {
            assert!(d.commands.contains(t), "command topic {t:?} of {} is not among its commands", e.key);
        }
    }
    let unique_ids: Vec<&str> = d.unique_ids().collect();
    assert!(unique_ids.len() <= d.entities.len());
    match discovery::foreign_topic(&d, &manifest) {
        Some(t) => {
            let stated = d.publishes.iter().any(|p| p == t && manifest.publish(p) != Verdict::Allowed);
            let commanded = d.commands.iter().any(|c| c == t && manifest.receive(c) != Verdict::Allowed);
            assert!(stated || commanded, "{t:?} was called foreign, but the manifest allows it");
        }
        None => {
            assert!(d.publishes.iter().all(|t| manifest.publish(t) == Verdict::Allowed), "a foreign state topic was missed");
            assert!(d.commands.iter().all(|t| manifest.receive(t) == Verdict::Allowed), "a foreign command topic was missed");
        }
    }
}

/// Redaction's read of compressed payloads inflates to at most this much (its own limit, 4 MiB,
/// read from its tests), so a rewrite through compression is bounded by it, not by the input.
const MAX_INFLATED: usize = 4 << 20;

/// `redact`: a line of paths separated by `|` (`Wifi.SSId|lat`), then the payload.
///
/// Drives `privacy::redact`. Invariants:
/// - the paths removed are some of the paths, in their order, at least one;
/// - a rewrite read back with the same paths holds none of them: redaction leaves it as it is
///   (see [`reread`] for what that means through compression and text encodings);
/// - JSON (as `serde_json` reads it) stays JSON, and then none of the paths is in it, nor in
///   JSON left untouched (an independent reading: [`json_holds`]);
/// - a rewrite is at most three times as long as its payload (a form value's JSON written back
///   percent-encoded), plus a little; through compression, bounded by the inflate limit instead.
pub fn redact(data: &[u8]) {
    let (paths, payload) = line(data);
    let paths: Vec<String> = text(paths).split('|').map(str::to_owned).collect();
    let outcome = redact_payload(payload, &paths);
    let json: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    match &outcome {
        Redacted::Untouched => {
            if let Some(value) = &json {
                for path in &paths {
                    assert!(!json_holds(value, path), "JSON holding {path:?} was left untouched");
                }
            }
        }
        Redacted::Unreadable => {}
        Redacted::Rewritten(out, removed) => {
            assert!(!removed.is_empty(), "a rewrite that removed nothing");
            let mut rest = paths.iter();
            for r in removed {
                assert!(rest.any(|p| p == r), "removed {r:?}, which is not one of {paths:?} (or out of order)");
            }
            let compressed = payload.starts_with(b"\x1F\x8B") || looks_like_zlib(payload);
            let bound = if compressed { 3 * MAX_INFLATED + 4096 } else { 3 * payload.len() + 64 };
            assert!(out.len() <= bound, "{} bytes out of {} in", out.len(), payload.len());
            if json.is_some() {
                let value: serde_json::Value = match serde_json::from_slice(out) {
                    Ok(v) => v,
                    Err(e) => panic!("JSON in, not JSON out ({e}): {:?}", String::from_utf8_lossy(out)),
                };
                for path in &paths {
                    assert!(!json_holds(&value, path), "{path:?} is still in the rewrite {:?}", String::from_utf8_lossy(out));
                }
            }
            reread(out, &paths);
        }
    }
}

/// A rewrite, read back by redaction with the same paths, is left untouched: it holds no
/// redacted field, and nothing in it is refused as unreadable.
///
/// Exactly so, through every layer: a rewrite is put back into the same layers (the same
/// compression, freshly written, so no gzip header text; the same text encoding and byte-order
/// mark), and what comes out of them is JSON or a form without the fields.
fn reread(out: &[u8], paths: &[String]) {
    let again = redact_payload(out, paths);
    assert_eq!(again, Redacted::Untouched, "the rewrite {:?} read back", String::from_utf8_lossy(out));
}

fn looks_like_zlib(bytes: &[u8]) -> bool {
    matches!(bytes, [cmf, flg, ..] if cmf & 0x0F == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Whether a JSON value holds a member at `path`, read as redaction's rule says: names in any
/// ASCII case, levels split at dots but a key may hold a dot (`PMS5003.PM2.5`), and every element
/// of the arrays on the way.
pub fn json_holds(value: &serde_json::Value, path: &str) -> bool {
    match value {
        serde_json::Value::Array(items) => items.iter().any(|v| json_holds(v, path)),
        serde_json::Value::Object(map) => map.iter().any(|(key, v)| {
            let (p, k) = (path.as_bytes(), key.as_bytes());
            if p.eq_ignore_ascii_case(k) {
                true
            } else if p.len() > k.len() && p[k.len()] == b'.' && p[..k.len()].eq_ignore_ascii_case(k) {
                json_holds(v, &path[k.len() + 1..])
            } else {
                false
            }
        }),
        _ => false,
    }
}

/// `classify`: a line with the topic, then the payload.
///
/// Drives `Classifier::classify`, `classify_prefix` and `field_category`. Invariants: at most
/// `MAX_FIELDS` fields, examples of at most `EXAMPLE_CHARS` characters; the categories are every
/// category of the topic and of the fields, each once, most sensitive first, `other` only alone;
/// the mask holds exactly them; the content type is one Hearth knows; a payload known only by its
/// first bytes gets at least its topic's categories.
pub fn classify(data: &[u8]) {
    let (topic_name, payload) = line(data);
    let topic_name = text(topic_name);
    let classifier = Classifier::builtin();
    let c = classifier.classify(&topic_name, payload);
    assert!(c.fields.len() <= MAX_FIELDS, "{} fields", c.fields.len());
    for f in &c.fields {
        assert!(f.example.chars().count() <= EXAMPLE_CHARS, "an example of {} characters", f.example.chars().count());
    }
    check_categories(&c.categories);
    let topic_categories = classifier.topic_categories(&topic_name);
    for category in topic_categories.iter().chain(c.fields.iter().map(|f| &f.category)) {
        assert!(c.categories.contains(category) || *category == Category::Other, "{category:?} is missing from {:?}", c.categories);
    }
    assert_eq!(Category::from_mask(c.mask()).len(), c.categories.len());
    assert!(["application/json", "text/plain", "image/jpeg", "image/png", "application/octet-stream"].contains(&c.content_type));

    let cut = payload.len() / 2;
    let prefix = classifier.classify_prefix(&topic_name, &payload[..cut], payload.len() as u64);
    check_categories(&prefix.categories);
    for category in &topic_categories {
        assert!(prefix.categories.contains(category) || *category == Category::Other);
    }
}

fn check_categories(categories: &[Category]) {
    assert!(!categories.is_empty(), "no category");
    for (i, c) in categories.iter().enumerate() {
        assert!(!categories[i + 1..].contains(c), "{c:?} twice in {categories:?}");
    }
    assert!(categories.windows(2).all(|w| w[0].sensitivity() >= w[1].sensitivity()), "not most sensitive first: {categories:?}");
    assert!(categories.len() == 1 || !categories.contains(&Category::Other), "`other` beside others: {categories:?}");
}

/// `topic`: three lines (`a`, `b`, `c`: topics or filters), then manifest rules one a line.
///
/// Drives `topic::{is_valid_name, is_valid_filter, matches, covers, intersects}` and the
/// manifest's verdicts. Invariants: see the asserts; each is a consequence of MQTT's definition
/// (a filter is the set of names it matches) that the functions compute without that set.
pub fn topic(data: &[u8]) {
    let (a, data) = line(data);
    let (b, data) = line(data);
    let (c, data) = line(data);
    let (manifest_rules, _) = rules(data);
    let (a, b, c) = (text(a), text(b), text(c));
    let manifest = Manifest { rules: manifest_rules };

    for x in [&a, &b, &c] {
        if topic::is_valid_name(x) {
            assert!(topic::is_valid_filter(x), "{x:?} is a valid name but not a valid filter");
        }
    }
    for (f, n) in [(&a, &b), (&b, &a), (&a, &c), (&b, &c)] {
        if !topic::is_valid_name(n) {
            assert!(!topic::matches(f, n), "{f:?} matches {n:?}, which is not a topic name");
        }
        if !topic::is_valid_filter(f) || !topic::is_valid_name(n) {
            continue;
        }
        // A name is a filter that matches itself alone.
        assert_eq!(topic::covers(f, n), topic::matches(f, n), "covers and matches disagree on {f:?} and name {n:?}");
        assert_eq!(topic::intersects(f, n), topic::matches(f, n), "intersects and matches disagree on {f:?} and name {n:?}");
        assert!(topic::matches(n, n), "{n:?} does not match itself");
    }
    let filters: Vec<&String> = [&a, &b, &c].into_iter().filter(|f| topic::is_valid_filter(f)).collect();
    for &f in &filters {
        assert!(topic::covers(f, f), "{f:?} does not cover itself");
        assert!(topic::intersects(f, f), "{f:?} does not intersect itself");
        for &g in &filters {
            assert_eq!(topic::intersects(f, g), topic::intersects(g, f), "intersects is not symmetric on {f:?}, {g:?}");
            if topic::covers(f, g) {
                assert!(topic::intersects(f, g), "{f:?} covers {g:?} without intersecting it");
            }
            if topic::intersects(f, g) {
                let w = witness(f, g);
                assert!(topic::matches(f, &w) && topic::matches(g, &w), "{f:?} and {g:?} intersect, but not in {w:?}");
            }
            for &h in &filters {
                if topic::covers(f, g) && topic::covers(g, h) {
                    assert!(topic::covers(f, h), "{f:?} ⊇ {g:?} ⊇ {h:?}, but not {f:?} ⊇ {h:?}");
                }
                if topic::covers(f, g) && topic::is_valid_name(h) && topic::matches(g, h) {
                    assert!(topic::matches(f, h), "{f:?} covers {g:?}, which matches {h:?}, but {f:?} does not");
                }
            }
        }
    }

    // The manifest: a verdict is the rules' (denied over allowed), and a subscription it allows
    // receives only what it allows.
    for x in [&a, &b, &c] {
        if topic::is_valid_name(x) {
            let receive = manifest.receive(x);
            assert_eq!(manifest.subscribe(x), receive, "subscribing to the name {x:?} and receiving it differ");
            let denied = manifest
                .rules
                .iter()
                .any(|r| r.status == RuleStatus::Denied && r.direction == Direction::Publish && topic::matches(&r.pattern, x));
            let allowed = manifest
                .rules
                .iter()
                .any(|r| r.status == RuleStatus::Allowed && r.direction == Direction::Publish && topic::matches(&r.pattern, x));
            let want = if denied {
                Verdict::Denied
            } else if allowed {
                Verdict::Allowed
            } else {
                Verdict::Unlisted
            };
            assert_eq!(manifest.publish(x), want, "publishing {x:?}");
        }
        // A subscription it allows receives nothing unlisted (denied topics under it are held
        // back at delivery); one it denies could receive nothing.
        let verdict = if topic::is_valid_filter(x) { Some(manifest.subscribe(x)) } else { None };
        for n in [&a, &b, &c] {
            if !(topic::is_valid_name(n) && topic::is_valid_filter(x) && topic::matches(x, n)) {
                continue;
            }
            match verdict {
                Some(Verdict::Allowed) => assert_ne!(manifest.receive(n), Verdict::Unlisted, "subscribed to {x:?}, and {n:?} is unlisted"),
                Some(Verdict::Denied) => assert_eq!(manifest.receive(n), Verdict::Denied, "refused {x:?}, yet {n:?} could be received"),
                _ => {}
            }
        }
    }
}

/// A topic name that both filters match, for two that intersect: each level the more specific
/// of the two, `x` where both are `+`, and the other's levels once one is `#`.
fn witness(f: &str, g: &str) -> String {
    let (f, g): (Vec<&str>, Vec<&str>) = (f.split('/').collect(), g.split('/').collect());
    let mut out: Vec<&str> = Vec::new();
    // The rest of one filter's levels; where it ends in `#` too, one more level, so that the
    // name is never empty (`/#` and `/#` meet in `/x`).
    fn tail<'a>(levels: &[&'a str], out: &mut Vec<&'a str>) {
        for l in levels {
            match *l {
                "#" => {
                    out.push("x");
                    break;
                }
                "+" => out.push("x"),
                other => out.push(other),
            }
        }
    }
    for i in 0.. {
        match (f.get(i).copied(), g.get(i).copied()) {
            (Some("#"), Some(_)) => {
                tail(&g[i..], &mut out);
                break;
            }
            (Some(_), Some("#")) => {
                tail(&f[i..], &mut out);
                break;
            }
            (Some("+"), Some("+")) => out.push("x"),
            (Some("+"), Some(l)) | (Some(l), Some(_)) => out.push(l),
            _ => break,
        }
    }
    out.join("/")
}

/// `suggest`: rules one a line, `<owner><direction><status><pattern>`: owner `t` a topic the
/// device tried, `e` one of its own existing rules, any other byte another device (by its value).
///
/// Drives `suggest::suggest` and `suggest::held_by`. Invariants: [`check_suggestions`]; and
/// `held_by` names only a decided rule of another device that is no wide grant and overlaps the
/// topic tried (or, for a firmware's topic, what would be proposed for its prefix).
pub fn suggest(data: &[u8]) {
    let (mut tried, mut existing, mut others) = (Vec::new(), Vec::new(), Vec::new());
    let mut data = data;
    while !data.is_empty() {
        let (l, rest) = line(data);
        data = rest;
        let Some((&owner, rule)) = l.split_first() else { continue };
        let Some(rule) = rule_line(rule) else { continue };
        match owner {
            b't' => tried.push(TopicRule { status: RuleStatus::Learned, ..rule }),
            b'e' => existing.push(rule),
            n => others.push(HeldRule { device: DeviceId::from_random(u64::from(n)), rule }),
        }
    }
    let proposals = suggest::suggest(&tried, &existing, &others);
    check_suggestions(&proposals, &existing, &others);
    for t in &tried {
        if let Some(held) = suggest::held_by(t, &others) {
            assert!(others.contains(held));
            assert_ne!(held.rule.status, RuleStatus::Learned, "a learned rule is no one's: {held:?}");
            assert!(!wide_grant(&held.rule.pattern), "a wide grant names no one: {held:?}");
            assert!(
                topic::intersects(&held.rule.pattern, &t.pattern) || t.direction == Direction::Publish,
                "{held:?} does not overlap {t:?}"
            );
        }
    }
}

/// What a proposal may be (the rules in `suggest`'s module documentation, restated here apart
/// from its code): no two for one firmware and prefix; each adds allowed rules not already in
/// `existing`, valid filters, none a wide grant over many devices' topics; and no rule of it
/// overlaps another device's decided rule of the same direction, but for the exceptions the
/// documentation names (a broadcast topic, another's wide grant, another's command published
/// into one of the proposal's own command subscriptions).
pub fn check_suggestions(proposals: &[suggest::Suggestion], existing: &[TopicRule], others: &[HeldRule]) {
    for (i, s) in proposals.iter().enumerate() {
        assert!(!proposals[..i].iter().any(|o| o.firmware == s.firmware && o.prefix == s.prefix), "proposed twice: {s:?}");
        assert!(!s.rules.is_empty(), "an empty proposal");
        // The whole proposal, as far as it can be told: what it adds and what the device has.
        let whole: Vec<&TopicRule> = s.rules.iter().chain(existing).collect();
        for r in &s.rules {
            assert_eq!(r.status, RuleStatus::Allowed);
            assert!(topic::is_valid_filter(&r.pattern), "proposed {:?}, not a valid filter", r.pattern);
            assert!(!r.pattern.starts_with('$'), "proposed a `$` topic: {r:?}");
            assert!(!wide_grant(&r.pattern), "proposed a wide grant: {r:?}");
            assert!(!existing.iter().any(|e| e.direction == r.direction && e.pattern == r.pattern), "proposed {r:?}, which it has");
            if suggest::BROADCASTS.contains(&r.pattern.as_str()) {
                continue;
            }
            for held in others {
                let counts = held.rule.status != RuleStatus::Learned
                    && held.rule.direction == r.direction
                    && !wide_grant(&held.rule.pattern)
                    && topic::intersects(&held.rule.pattern, &r.pattern);
                let commands_this_prefix = held.rule.direction == Direction::Publish
                    && whole.iter().any(|own| own.direction == Direction::Subscribe && topic::covers(&own.pattern, &held.rule.pattern));
                assert!(!counts || commands_this_prefix, "proposed {r:?} for {}, but it is {held:?}'s", s.prefix);
            }
        }
    }
}

/// A pattern whose every level is a wildcard or a root shared by many devices (`#`, `tele/#`,
/// `cmnd/+/+`), not one service's own base (`zigbee2mqtt`, `frigate`).
fn wide_grant(pattern: &str) -> bool {
    pattern.split('/').all(|level| {
        matches!(level, "+" | "#")
            || (SHARED_ROOTS.iter().any(|root| root.eq_ignore_ascii_case(level))
                && !["zigbee2mqtt", "frigate"].iter().any(|base| base.eq_ignore_ascii_case(level)))
    })
}

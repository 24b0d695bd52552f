//! The decision about one DNS query of one device: forward it, refuse it (answered `0.0.0.0`,
//! `::` or no data, so the device does not try a second resolver), or say the name does not
//! exist (canary names only). Pure: the DNS gate supplies the device's state, level, rules and
//! whether it is still learning, and applies and records the answer.

use super::domain::Domain;
use crate::device::DeviceState;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// How far a device may reach beyond the home (HomeKit's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum InternetLevel {
    /// Only the home: names of the home, and the time servers every device may reach.
    HomeOnly,
    /// The names allowed for it (by a person, its maker's MUD file, or learned and approved).
    AllowedList,
    /// Anything but what a person denied.
    Unrestricted,
}

impl InternetLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HomeOnly => "home_only",
            Self::AllowedList => "allowed_list",
            Self::Unrestricted => "unrestricted",
        }
    }
}

impl fmt::Display for InternetLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an internet level (expected home_only, allowed_list or unrestricted)")]
pub struct InvalidLevel(pub String);

impl FromStr for InternetLevel {
    type Err = InvalidLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "home_only" => Ok(Self::HomeOnly),
            "allowed_list" => Ok(Self::AllowedList),
            "unrestricted" => Ok(Self::Unrestricted),
            other => Err(InvalidLevel(crate::text::clip(other, crate::text::LOGGED).into_owned())),
        }
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RuleVerdict {
    Allow,
    Deny,
}

/// Where a destination rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RuleSource {
    /// A person typed or clicked it.
    Person,
    /// The device's MUD file (RFC 8520), imported by a person.
    Mud,
    /// A name the device asked for while it was learning, approved by a person.
    Learned,
    /// Hearth's defaults (`defaults.toml`).
    Default,
}

impl RuleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Mud => "mud",
            Self::Learned => "learned",
            Self::Default => "default",
        }
    }
}

impl FromStr for RuleSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "person" => Ok(Self::Person),
            "mud" => Ok(Self::Mud),
            "learned" => Ok(Self::Learned),
            "default" => Ok(Self::Default),
            other => Err(format!("`{other}` is not a rule source")),
        }
    }
}

impl FromStr for RuleVerdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            other => Err(format!("`{other}` is not allow or deny")),
        }
    }
}

impl RuleVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// A domain (and the names under it) allowed or denied for one device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DestinationRule {
    pub domain: Domain,
    pub verdict: RuleVerdict,
    pub source: RuleSource,
}

/// What the gate knows of the device that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNetwork {
    pub state: DeviceState,
    pub level: InternetLevel,
    /// Still learning what it needs: new (quarantined), or approved before Hearth's resolver
    /// first heard from it and within the learning window. Its names are forwarded and proposed.
    pub learning: bool,
    pub rules: Vec<DestinationRule>,
}

/// Hearth's default names (`defaults.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultNames {
    pub always_allowed: Vec<Domain>,
    pub home_names: Vec<Domain>,
    pub canaries: Vec<Domain>,
}

#[derive(Deserialize)]
struct DefaultsFile {
    always_allowed: Vec<Domain>,
    home_names: Vec<Domain>,
    canaries: Vec<Domain>,
}

impl DefaultNames {
    /// The built-in list.
    pub fn builtin() -> Self {
        #[allow(clippy::expect_used)] // a test reads the same file: a bad edit fails the build's tests
        Self::parse(include_str!("defaults.toml")).expect("network/defaults.toml is valid")
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: DefaultsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Self { always_allowed: file.always_allowed, home_names: file.home_names, canaries: file.canaries })
    }

    pub fn is_home_name(&self, name: &Domain) -> bool {
        self.home_names.iter().any(|d| d.covers(name))
    }

    pub fn is_canary(&self, name: &Domain) -> bool {
        self.canaries.iter().any(|d| d == name)
    }

    fn always_allowed(&self, name: &Domain) -> Option<&Domain> {
        self.always_allowed.iter().find(|d| d.covers(name))
    }
}

/// What to do with the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum QueryAction {
    /// Ask the upstream and pass its answer on.
    Forward,
    /// Answer `0.0.0.0` / `::` (A, AAAA) or no data (other types), with a short TTL.
    Refuse,
    /// Answer "no such name": canary names only, which a device reads as "stay here".
    NoSuchName,
}

impl QueryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Refuse => "refuse",
            Self::NoSuchName => "no_such_name",
        }
    }
}

/// Why: the rule or the level that decided, as the ledger records it and the UI says it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[ts(export)]
pub enum Because {
    /// The device is blocked: it gets nothing.
    Blocked,
    /// A canary name, answered so that a restricted device stays on Hearth's resolver.
    Canary,
    /// One of the home's own names.
    HomeName,
    /// A destination rule of this device.
    Rule { domain: Domain, verdict: RuleVerdict, source: RuleSource },
    /// On Hearth's default list (time servers).
    Default { domain: Domain },
    /// The device is still learning: forwarded, and proposed to a person.
    Learning,
    /// Its level is `unrestricted`.
    Unrestricted,
    /// Its level is `allowed_list` and no rule allows this name.
    NotOnList,
    /// Its level is `home_only`.
    HomeOnly,
}

impl Because {
    /// A short code for the ledger and the CLI: `rule:person:allow:vendor.test`, `not_on_list`.
    pub fn code(&self) -> String {
        match self {
            Self::Blocked => "blocked".into(),
            Self::Canary => "canary".into(),
            Self::HomeName => "home_name".into(),
            Self::Rule { domain, verdict, source } => format!("rule:{}:{}:{domain}", source.as_str(), verdict.as_str()),
            Self::Default { domain } => format!("default:{domain}"),
            Self::Learning => "learning".into(),
            Self::Unrestricted => "unrestricted".into(),
            Self::NotOnList => "not_on_list".into(),
            Self::HomeOnly => "home_only".into(),
        }
    }
}

/// The decision about one query, and whether its name is a proposal for a person (asked for
/// while learning, or refused only because nobody listed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDecision {
    pub action: QueryAction,
    pub because: Because,
    pub propose: bool,
}

impl QueryDecision {
    fn new(action: QueryAction, because: Because) -> Self {
        Self { action, because, propose: false }
    }
}

/// The most specific of the device's rules covering `name`; at equal specificity a deny wins.
fn matching_rule<'a>(rules: &'a [DestinationRule], name: &Domain) -> Option<&'a DestinationRule> {
    rules.iter().filter(|r| r.domain.covers(name)).max_by_key(|r| (r.domain.labels(), r.verdict == RuleVerdict::Deny))
}

/// Decides one query of `device` for `name`. In order: a blocked device gets nothing; canary
/// names say "no such name" to every device that is not free to go anywhere; the home's own
/// names are forwarded; then the device's most specific rule (a person's deny holds at every
/// level); then the default list; then learning; then the level.
pub fn decide(device: &DeviceNetwork, defaults: &DefaultNames, name: &Domain) -> QueryDecision {
    use QueryAction::{Forward, NoSuchName, Refuse};
    if device.state == DeviceState::Blocked {
        return QueryDecision::new(Refuse, Because::Blocked);
    }
    let free = device.state == DeviceState::Approved && device.level == InternetLevel::Unrestricted;
    if defaults.is_canary(name) && !free {
        return QueryDecision::new(NoSuchName, Because::Canary);
    }
    if defaults.is_home_name(name) {
        return QueryDecision::new(Forward, Because::HomeName);
    }
    if let Some(rule) = matching_rule(&device.rules, name) {
        let because = Because::Rule { domain: rule.domain.clone(), verdict: rule.verdict, source: rule.source };
        return match (rule.verdict, device.level) {
            (RuleVerdict::Deny, _) => QueryDecision::new(Refuse, because),
            // Home only means no internet: an allow rule waits for another level.
            (RuleVerdict::Allow, InternetLevel::HomeOnly) if !device.learning => QueryDecision::new(Refuse, Because::HomeOnly),
            (RuleVerdict::Allow, _) => QueryDecision::new(Forward, because),
        };
    }
    if let Some(domain) = defaults.always_allowed(name) {
        return QueryDecision::new(Forward, Because::Default { domain: domain.clone() });
    }
    if device.learning {
        return QueryDecision { action: Forward, because: Because::Learning, propose: true };
    }
    match device.level {
        InternetLevel::Unrestricted => QueryDecision::new(Forward, Because::Unrestricted),
        InternetLevel::AllowedList => QueryDecision { action: Refuse, because: Because::NotOnList, propose: true },
        InternetLevel::HomeOnly => QueryDecision::new(Refuse, Because::HomeOnly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceState::{Approved, Blocked, New};
    use InternetLevel::{AllowedList, HomeOnly, Unrestricted};
    use QueryAction::{Forward, NoSuchName, Refuse};

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    fn rule(domain: &str, verdict: RuleVerdict, source: RuleSource) -> DestinationRule {
        DestinationRule { domain: d(domain), verdict, source }
    }

    fn device(state: DeviceState, level: InternetLevel, learning: bool) -> DeviceNetwork {
        DeviceNetwork {
            state,
            level,
            learning,
            rules: vec![
                rule("vendor.test", RuleVerdict::Allow, RuleSource::Mud),
                rule("tracker.vendor.test", RuleVerdict::Deny, RuleSource::Person),
                rule("ads.test", RuleVerdict::Deny, RuleSource::Person),
                rule("pool.ntp.org", RuleVerdict::Deny, RuleSource::Person),
            ],
        }
    }

    fn action(dev: &DeviceNetwork, name: &str) -> (QueryAction, String) {
        let decision = decide(dev, &DefaultNames::builtin(), &d(name));
        (decision.action, decision.because.code())
    }

    #[test]
    fn the_builtin_defaults_parse() {
        let defaults = DefaultNames::builtin();
        assert!(defaults.always_allowed.contains(&d("pool.ntp.org")));
        assert!(defaults.is_home_name(&d("printer.local")));
        assert!(defaults.is_home_name(&d("2.0.168.192.in-addr.arpa")));
        assert!(!defaults.is_home_name(&d("8.8.8.8.in-addr.arpa")));
        assert!(defaults.is_canary(&d("use-application-dns.net")));
    }

    /// Every level, state and kind of name, with the rule that decides.
    #[test]
    fn decision_table() {
        let table: &[(DeviceState, InternetLevel, bool, &str, QueryAction, &str)] = &[
            // A blocked device gets nothing, not even time or home names.
            (Blocked, Unrestricted, false, "eu.vendor.test", Refuse, "blocked"),
            (Blocked, Unrestricted, false, "0.pool.ntp.org", Refuse, "blocked"),
            (Blocked, Unrestricted, false, "printer.local", Refuse, "blocked"),
            // Canary names: "no such name" unless the device may go anywhere.
            (Approved, AllowedList, false, "use-application-dns.net", NoSuchName, "canary"),
            (Approved, HomeOnly, false, "mask.icloud.com", NoSuchName, "canary"),
            (New, Unrestricted, true, "mask-h2.icloud.com", NoSuchName, "canary"),
            (Approved, Unrestricted, false, "use-application-dns.net", Forward, "unrestricted"),
            // The home's own names at every level.
            (Approved, HomeOnly, false, "printer.local", Forward, "home_name"),
            (Approved, AllowedList, false, "nas.home.arpa", Forward, "home_name"),
            // The most specific rule; a person's deny holds at every level.
            (Approved, AllowedList, false, "eu.api.vendor.test", Forward, "rule:mud:allow:vendor.test"),
            (Approved, AllowedList, false, "x.tracker.vendor.test", Refuse, "rule:person:deny:tracker.vendor.test"),
            (Approved, Unrestricted, false, "ads.test", Refuse, "rule:person:deny:ads.test"),
            (New, AllowedList, true, "ads.test", Refuse, "rule:person:deny:ads.test"),
            (Approved, HomeOnly, false, "eu.vendor.test", Refuse, "home_only"),
            // A deny beats the default list for this device.
            (Approved, AllowedList, false, "0.pool.ntp.org", Refuse, "rule:person:deny:pool.ntp.org"),
            // The default list, at every level.
            (Approved, HomeOnly, false, "time.cloudflare.com", Forward, "default:time.cloudflare.com"),
            (Approved, AllowedList, false, "time.apple.com", Forward, "default:time.apple.com"),
            // Learning: forwarded (and proposed).
            (New, HomeOnly, true, "cloud.other.test", Forward, "learning"),
            (Approved, AllowedList, true, "cloud.other.test", Forward, "learning"),
            (New, HomeOnly, true, "eu.vendor.test", Forward, "rule:mud:allow:vendor.test"),
            // Then the level.
            (Approved, Unrestricted, false, "cloud.other.test", Forward, "unrestricted"),
            (Approved, AllowedList, false, "cloud.other.test", Refuse, "not_on_list"),
            (Approved, HomeOnly, false, "cloud.other.test", Refuse, "home_only"),
            // A new device that is no longer learning (the setting says so) is not unrestricted.
            (New, Unrestricted, false, "use-application-dns.net", NoSuchName, "canary"),
        ];
        for (state, level, learning, name, want, because) in table {
            let got = action(&device(*state, *level, *learning), name);
            assert_eq!(got, (*want, (*because).to_owned()), "{state:?} {level:?} learning={learning} {name}");
        }
    }

    #[test]
    fn only_unlisted_names_are_proposed() {
        let defaults = DefaultNames::builtin();
        let learning = device(New, AllowedList, true);
        assert!(decide(&learning, &defaults, &d("cloud.other.test")).propose);
        assert!(!decide(&learning, &defaults, &d("eu.vendor.test")).propose, "already allowed");
        assert!(!decide(&learning, &defaults, &d("printer.local")).propose);
        let listed = device(Approved, AllowedList, false);
        assert!(decide(&listed, &defaults, &d("cloud.other.test")).propose);
        assert!(!decide(&listed, &defaults, &d("ads.test")).propose, "a person already said no");
        assert!(!decide(&device(Approved, HomeOnly, false), &defaults, &d("cloud.other.test")).propose);
    }

    #[test]
    fn at_equal_specificity_a_deny_wins() {
        let mut dev = device(Approved, Unrestricted, false);
        dev.rules = vec![rule("x.test", RuleVerdict::Allow, RuleSource::Mud), rule("x.test", RuleVerdict::Deny, RuleSource::Learned)];
        assert_eq!(decide(&dev, &DefaultNames::builtin(), &d("a.x.test")).action, Refuse);
        dev.rules.reverse();
        assert_eq!(decide(&dev, &DefaultNames::builtin(), &d("a.x.test")).action, Refuse);
    }
}

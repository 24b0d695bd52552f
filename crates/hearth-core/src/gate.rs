//! The gate: what Hearth decides about every connect, subscribe and publish (DESIGN.md,
//! "Decision"). Pure functions of the device's state and manifest; the broker applies the
//! decision and the hub records it.

use crate::device::DeviceState;
use crate::manifest::{Manifest, Verdict};
use crate::topic;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the gate returns for one packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "decision", content = "detail")]
#[ts(export)]
pub enum Decision {
    Allow,
    /// Deliver without these JSON fields (the ledger's privacy controls; not produced yet).
    Redact(Vec<String>),
    Drop(DropReason),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Why something was refused, as recorded and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DropReason {
    /// The device is new: what it sends is recorded, not delivered, until a person approves it.
    Quarantined,
    Blocked,
    /// No rule of the manifest allows it (the topic is kept as learned, for a person to allow).
    NotInManifest,
    /// A rule of the manifest denies it.
    DeniedByManifest,
    /// `$SYS/...` and other `$` topics are the broker's own.
    SystemTopic,
    InvalidTopic,
    /// A CONNECT with an unknown username or a wrong secret.
    BadCredentials,
    /// A CONNECT with a client id bound to another device's credential.
    ClientIdTaken,
    /// A discovery message naming a topic the device may not publish (a state) or subscribe to
    /// (a command): an entity that would speak for another device.
    ForeignTopic,
    /// A discovery message for an entity (its discovery topic or `unique_id`) another device
    /// already describes.
    EntityTaken,
    /// A discovery message Hearth cannot read, so cannot check.
    MalformedDiscovery,
    /// A Last Will on a discovery topic: it would be published after the device is gone, when
    /// what it describes can no longer be checked against the device's rights.
    DiscoveryWill,
    /// A message of a device with redacted fields that Hearth cannot read: it may hold a
    /// redacted field, so it does not go out.
    Unredactable,
    /// A CONNECT from an address refused too often this minute: refused without a look.
    TooManyAttempts,
    /// A CONNECT of a credential that already holds many offline sessions under other client ids.
    TooManySessions,
    /// A CONNECT of a credential that already holds as many live connections as one may (`[broker]
    /// connections_per_device`) under other client ids.
    TooManyConnections,
}

impl DropReason {
    pub const ALL: [Self; 16] = [
        Self::Quarantined,
        Self::Blocked,
        Self::NotInManifest,
        Self::DeniedByManifest,
        Self::SystemTopic,
        Self::InvalidTopic,
        Self::BadCredentials,
        Self::ClientIdTaken,
        Self::ForeignTopic,
        Self::EntityTaken,
        Self::MalformedDiscovery,
        Self::DiscoveryWill,
        Self::Unredactable,
        Self::TooManyAttempts,
        Self::TooManySessions,
        Self::TooManyConnections,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quarantined => "quarantined",
            Self::Blocked => "blocked",
            Self::NotInManifest => "not_in_manifest",
            Self::DeniedByManifest => "denied_by_manifest",
            Self::SystemTopic => "system_topic",
            Self::InvalidTopic => "invalid_topic",
            Self::BadCredentials => "bad_credentials",
            Self::ClientIdTaken => "client_id_taken",
            Self::ForeignTopic => "foreign_topic",
            Self::EntityTaken => "entity_taken",
            Self::MalformedDiscovery => "malformed_discovery",
            Self::DiscoveryWill => "discovery_will",
            Self::Unredactable => "unredactable",
            Self::TooManyAttempts => "too_many_attempts",
            Self::TooManySessions => "too_many_sessions",
            Self::TooManyConnections => "too_many_connections",
        }
    }
}

/// CONNECT attempts of one kind, counted rather than kept one by one (anyone on the network can
/// send them as fast as they like): per device (none when the attempt named no device), source
/// address and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConnectCount {
    pub device_id: Option<crate::device::DeviceId>,
    /// Where the attempts came from, if known: the host's address for accepted ones; for
    /// refused ones, what the host controls of it (an IPv4 address, or an IPv6 network such as
    /// `fd77::/64`, since an IPv6 host can take any address of its network).
    pub address: Option<String>,
    /// Why they were refused; `None`: accepted.
    pub refused: Option<DropReason>,
    #[ts(type = "number")]
    pub count: u64,
    #[ts(type = "number")]
    pub first_at: i64,
    #[ts(type = "number")]
    pub last_at: i64,
    /// The latest attempt's client id, and its username when it named no device (cut short).
    pub client_id: String,
    pub username: Option<String>,
}

/// What a device tried, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Action {
    Connect,
    Publish,
    Subscribe,
    /// A message on its way to a subscriber (only refusals are recorded).
    Deliver,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
            Self::Deliver => "deliver",
        }
    }
}

/// A publish (or a Last Will, checked at connect) by a device in `state`.
pub fn publish(state: DeviceState, manifest: &Manifest, topic_name: &str) -> Decision {
    if !topic::is_valid_name(topic_name) {
        return Decision::Drop(DropReason::InvalidTopic);
    }
    if topic_name.starts_with('$') {
        return Decision::Drop(DropReason::SystemTopic);
    }
    from_state(state).unwrap_or_else(|| from_verdict(manifest.publish(topic_name)))
}

/// A subscription by a device in `state`.
pub fn subscribe(state: DeviceState, manifest: &Manifest, filter: &str) -> Decision {
    if !topic::is_valid_filter(filter) {
        return Decision::Drop(DropReason::InvalidTopic);
    }
    if filter.starts_with('$') {
        return Decision::Drop(DropReason::SystemTopic);
    }
    from_state(state).unwrap_or_else(|| from_verdict(manifest.subscribe(filter)))
}

/// A delivery of a message on `topic_name` to a device in `state`, checked again at each
/// delivery: what it subscribed to before a rule changed, or before it was blocked, must not
/// keep flowing.
pub fn receive(state: DeviceState, manifest: &Manifest, topic_name: &str) -> Decision {
    from_state(state).unwrap_or_else(|| from_verdict(manifest.receive(topic_name)))
}

fn from_state(state: DeviceState) -> Option<Decision> {
    match state {
        DeviceState::Approved => None,
        DeviceState::New => Some(Decision::Drop(DropReason::Quarantined)),
        DeviceState::Blocked => Some(Decision::Drop(DropReason::Blocked)),
    }
}

fn from_verdict(verdict: Verdict) -> Decision {
    match verdict {
        Verdict::Allowed => Decision::Allow,
        Verdict::Denied => Decision::Drop(DropReason::DeniedByManifest),
        Verdict::Unlisted => Decision::Drop(DropReason::NotInManifest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Direction, RuleStatus, TopicRule};

    fn manifest() -> Manifest {
        Manifest {
            rules: vec![
                TopicRule { direction: Direction::Publish, pattern: "tele/plug1/#".into(), status: RuleStatus::Allowed },
                TopicRule { direction: Direction::Subscribe, pattern: "cmnd/plug1/#".into(), status: RuleStatus::Allowed },
            ],
        }
    }

    #[test]
    fn state_comes_before_the_manifest() {
        let m = manifest();
        assert_eq!(publish(DeviceState::Approved, &m, "tele/plug1/SENSOR"), Decision::Allow);
        assert_eq!(publish(DeviceState::New, &m, "tele/plug1/SENSOR"), Decision::Drop(DropReason::Quarantined));
        assert_eq!(publish(DeviceState::Blocked, &m, "tele/plug1/SENSOR"), Decision::Drop(DropReason::Blocked));
        assert_eq!(publish(DeviceState::Approved, &m, "tele/plug2/SENSOR"), Decision::Drop(DropReason::NotInManifest));
        assert_eq!(subscribe(DeviceState::Approved, &m, "cmnd/plug1/POWER"), Decision::Allow);
        assert_eq!(subscribe(DeviceState::Approved, &m, "#"), Decision::Drop(DropReason::NotInManifest));
    }

    #[test]
    fn system_and_malformed_topics_are_refused_whatever_the_manifest() {
        let mut m = manifest();
        m.rules.push(TopicRule { direction: Direction::Subscribe, pattern: "#".into(), status: RuleStatus::Allowed });
        assert_eq!(subscribe(DeviceState::Approved, &m, "$SYS/#"), Decision::Drop(DropReason::SystemTopic));
        assert_eq!(publish(DeviceState::Approved, &m, "$SYS/broker/uptime"), Decision::Drop(DropReason::SystemTopic));
        assert_eq!(publish(DeviceState::Approved, &m, "tele/+/x"), Decision::Drop(DropReason::InvalidTopic));
        assert_eq!(subscribe(DeviceState::Approved, &m, "a/#/b"), Decision::Drop(DropReason::InvalidTopic));
    }
}

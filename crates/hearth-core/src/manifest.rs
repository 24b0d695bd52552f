//! A device's manifest: the topics it may publish and subscribe to (DESIGN.md, "Manifest").
//!
//! Each rule is a topic filter with a status. `allowed` and `denied` are a person's decisions;
//! `learned` is what the gate saw the device try and refused, kept so a person can allow it in
//! one step ("this plug wants to publish to tele/plug1/SENSOR"). A denial wins over an
//! allowance, so a person can carve an exception out of a broad pattern.

use crate::topic;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Direction {
    Publish,
    Subscribe,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "publish" => Some(Self::Publish),
            "subscribe" => Some(Self::Subscribe),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RuleStatus {
    Allowed,
    Denied,
    /// Tried by the device and refused; waiting for a person.
    Learned,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Learned => "learned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "denied" => Some(Self::Denied),
            "learned" => Some(Self::Learned),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TopicRule {
    pub direction: Direction,
    /// A topic filter (`tele/plug1/#`); a learned rule is the exact topic or filter tried.
    pub pattern: String,
    pub status: RuleStatus,
}

/// What the manifest says about one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// No rule allows or denies it.
    Unlisted,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub rules: Vec<TopicRule>,
}

impl Manifest {
    /// May the device publish to `topic_name`?
    pub fn publish(&self, topic_name: &str) -> Verdict {
        self.verdict(Direction::Publish, |pattern| topic::matches(pattern, topic_name))
    }

    /// May the device subscribe to `filter`? Allowed when an allowed pattern covers all of it;
    /// denied when a denied pattern covers all of it (it could receive nothing). A subscription
    /// that only overlaps a denial is allowed, and the denied topics are held back at each
    /// delivery ([`Manifest::receive`]), as Mosquitto's ACLs do: refusing it would cost Home
    /// Assistant its whole `homeassistant/#` for one entity a person denied it.
    pub fn subscribe(&self, filter: &str) -> Verdict {
        let denied = self.rules_with(Direction::Subscribe, RuleStatus::Denied).any(|p| topic::covers(p, filter));
        if denied {
            return Verdict::Denied;
        }
        if self.rules_with(Direction::Subscribe, RuleStatus::Allowed).any(|p| topic::covers(p, filter)) {
            Verdict::Allowed
        } else {
            Verdict::Unlisted
        }
    }

    /// May the device receive a message published to `topic_name` (checked at each delivery, so
    /// that a subscription made before a rule changed cannot outlive it)?
    pub fn receive(&self, topic_name: &str) -> Verdict {
        self.verdict(Direction::Subscribe, |pattern| topic::matches(pattern, topic_name))
    }

    fn verdict(&self, direction: Direction, applies: impl Fn(&str) -> bool) -> Verdict {
        if self.rules_with(direction, RuleStatus::Denied).any(&applies) {
            Verdict::Denied
        } else if self.rules_with(direction, RuleStatus::Allowed).any(&applies) {
            Verdict::Allowed
        } else {
            Verdict::Unlisted
        }
    }

    fn rules_with(&self, direction: Direction, status: RuleStatus) -> impl Iterator<Item = &str> {
        self.rules.iter().filter(move |r| r.direction == direction && r.status == status).map(|r| r.pattern.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: Direction, pattern: &str, status: RuleStatus) -> TopicRule {
        TopicRule { direction, pattern: pattern.into(), status }
    }

    fn tasmota_plug() -> Manifest {
        use Direction::*;
        use RuleStatus::*;
        Manifest {
            rules: vec![
                rule(Publish, "tele/plug1/#", Allowed),
                rule(Publish, "stat/plug1/#", Allowed),
                rule(Publish, "tele/plug1/WIFI", Denied),
                rule(Subscribe, "cmnd/plug1/#", Allowed),
                rule(Publish, "homeassistant/switch/plug1/config", Learned),
            ],
        }
    }

    #[test]
    fn publish_rules() {
        let m = tasmota_plug();
        assert_eq!(m.publish("tele/plug1/SENSOR"), Verdict::Allowed);
        assert_eq!(m.publish("tele/plug1/WIFI"), Verdict::Denied);
        assert_eq!(m.publish("tele/plug2/SENSOR"), Verdict::Unlisted);
        // Learned is not allowed: a person has not decided yet.
        assert_eq!(m.publish("homeassistant/switch/plug1/config"), Verdict::Unlisted);
    }

    #[test]
    fn subscriptions_must_stay_within_an_allowed_pattern() {
        let mut m = tasmota_plug();
        assert_eq!(m.subscribe("cmnd/plug1/POWER"), Verdict::Allowed);
        assert_eq!(m.subscribe("cmnd/plug1/#"), Verdict::Allowed);
        assert_eq!(m.subscribe("cmnd/#"), Verdict::Unlisted, "wider than the manifest");
        assert_eq!(m.subscribe("#"), Verdict::Unlisted);
        m.rules.push(rule(Direction::Subscribe, "cmnd/plug1/Restart", RuleStatus::Denied));
        assert_eq!(m.subscribe("cmnd/plug1/#"), Verdict::Allowed, "granted; the denied topic is held back at delivery");
        assert_eq!(m.subscribe("cmnd/plug1/Restart"), Verdict::Denied, "receives nothing but the denied topic");
        assert_eq!(m.subscribe("cmnd/plug1/POWER"), Verdict::Allowed);
        // A denial that only overlaps the subscription leaves it, and holds its topics back.
        m.rules.push(rule(Direction::Subscribe, "cmnd/+/Upgrade", RuleStatus::Denied));
        assert_eq!(m.subscribe("cmnd/plug1/+"), Verdict::Allowed);
        assert_eq!(m.subscribe("cmnd/+/Upgrade"), Verdict::Denied);
        assert_eq!(m.receive("cmnd/plug1/POWER"), Verdict::Allowed);
        assert_eq!(m.receive("cmnd/plug1/Upgrade"), Verdict::Denied);
        assert_eq!(m.receive("stat/plug1/POWER"), Verdict::Unlisted);
        m.rules.push(rule(Direction::Subscribe, "cmnd/#", RuleStatus::Denied));
        assert_eq!(m.subscribe("cmnd/plug1/+"), Verdict::Denied, "a denial covering it");
    }
}

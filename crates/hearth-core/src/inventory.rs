//! The device inventory as the store returns it and the API shows it.
//!
//! These records cross the API boundary unchanged (hearth::api re-exports them), so each one
//! derives `TS` and its TypeScript twin is generated into the UI.

use crate::device::{Actor, DeviceId, DeviceState};
use crate::fingerprint::Kind;
use crate::sighting::TxtEntry;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// One service a device offers, from its latest sighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Service {
    #[serde(rename = "type")]
    pub service_type: String,
    pub instance: String,
    pub host: String,
    pub port: u16,
    pub addresses: Vec<String>,
    pub txt: Vec<TxtEntry>,
    #[ts(type = "number")]
    pub first_seen: Millis,
    #[ts(type = "number")]
    pub last_seen: Millis,
    /// False once the service said goodbye or its records expired.
    pub present: bool,
}

/// A device with what the list needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Device {
    pub id: DeviceId,
    pub name: String,
    pub state: DeviceState,
    pub kind: Kind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// Every address any present service announced.
    pub addresses: Vec<String>,
    pub services: Vec<Service>,
    #[ts(type = "number")]
    pub first_seen: Millis,
    #[ts(type = "number")]
    pub last_seen: Millis,
    pub online: bool,
    /// The fingerprint rule that recognised it, and why.
    pub rule: String,
    pub reason: String,
    /// The room a person put it in.
    #[ts(type = "number | null")]
    pub room: Option<i64>,
    /// The member whose personal device it is (their phone, watch, tracker); none: the
    /// household's.
    pub member: Option<String>,
    /// A person named it (discovery keeps that name).
    pub named_by_person: bool,
    /// It has a credential for Hearth's broker (or an anonymous client pinned to it): approve
    /// and block decide its broker traffic.
    pub uses_broker: bool,
    /// Topic rules that let it send or receive something.
    pub allowed_topics: u32,
    /// Topics it tried that wait for a person (learned rules).
    pub proposals: u32,
    /// Connected to Hearth's broker now (so online even when it announces nothing).
    pub connected: bool,
    /// The devices it speaks for (a bridge's Zigbee devices), from its discovery messages.
    pub children: Vec<crate::self_described::ChildDevice>,
}

/// One entry of a device's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StateChange {
    pub from: Option<DeviceState>,
    pub to: DeviceState,
    pub actor: Actor,
    /// Where the change came from: `discovery`, `cli`, `web`, `desktop`.
    pub origin: String,
    #[ts(type = "number")]
    pub at: Millis,
}

/// A device page: the device, its identity keys and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceDetail {
    pub device: Device,
    /// The stable keys that tie its services together (see `identity`).
    pub identity_keys: Vec<String>,
    pub history: Vec<StateChange>,
    /// Other records an announcement said are this device, waiting for a person (see
    /// [`MergeProposal`]).
    pub merge_proposals: Vec<MergeProposal>,
}

/// What an announcement said, as kept for a person to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Announcement {
    #[serde(rename = "type")]
    pub service_type: String,
    pub instance: String,
    pub host: String,
    /// The addresses it came with (where the announcer says it is, not proof of who sent it).
    pub addresses: Vec<String>,
}

/// Two records that an announcement says are one device, each holding a person's decision
/// (approved or blocked, a credential, topic rules, privacy choices, an anonymous pin). Anyone on
/// the network can announce anything, so Hearth does not join them: a person merges them or
/// keeps them apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MergeProposal {
    pub device_a: DeviceId,
    pub name_a: String,
    pub device_b: DeviceId,
    pub name_b: String,
    /// The latest announcement that linked them.
    pub announcement: Announcement,
    #[ts(type = "number")]
    pub first_at: Millis,
    #[ts(type = "number")]
    pub last_at: Millis,
    /// How many announcements linked them.
    #[ts(type = "number")]
    pub seen: u64,
}

/// An announcement that names two different ids of one kind (two MACs, two HomeKit ids): no
/// real device's announcement does, a forged one that tries to join two records does. Hearth
/// files nothing from it and keeps this record of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IdentityConflict {
    pub announcement: Announcement,
    /// The ids it named together.
    pub keys: Vec<String>,
    #[ts(type = "number")]
    pub first_at: Millis,
    #[ts(type = "number")]
    pub last_at: Millis,
    #[ts(type = "number")]
    pub seen: u64,
}

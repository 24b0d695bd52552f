//! Hearth's domain, pure and free of I/O, so every rule here is tested with plain tables.
//!
//! Map:
//! - [`device`]: [`DeviceId`](device::DeviceId), the [`DeviceState`](device::DeviceState)
//!   lifecycle (`new` → `approved` → `blocked`) and the [`Actor`](device::Actor) of a change.
//! - [`sighting`]: one mDNS observation as discovery reports it, already parsed into typed values.
//! - [`identity`]: which stable keys (MAC, HomeKit id, host name...) a sighting carries; two
//!   sightings sharing a key are one physical device.
//! - [`fingerprint`]: the rule table (`fingerprints.toml`) that turns sightings into kind,
//!   vendor and model, and names the rule that matched.
//! - [`inventory`]: the device records the store returns and the API shows.
//! - [`topic`]: MQTT topic names and filters: validity, matching, one filter within another.
//! - [`manifest`]: what topics a device may publish and subscribe to.
//! - [`mqtt_state`]: the broker's persistent sessions and retained messages as rows kept across
//!   a restart.
//! - [`network`]: internet levels and destination rules, decided per DNS query; MUD files.
//! - [`gate`]: the [`Decision`](gate::Decision) about every publish and subscribe.
//! - [`credential`]: a device's MQTT secret and its hash.
//! - [`discovery`]: Home Assistant, Tasmota and Zigbee2MQTT discovery messages: the entities
//!   and devices they describe, and the topics they name (no device may describe another's).
//! - [`classify`]: the categories of data in a message (per JSON field and per topic, from
//!   `categories.toml`) and its shape (field paths, types, examples).
//! - [`privacy`]: retention per category of data and fields to redact, with protective defaults.
//! - [`redact`]: removes the redacted fields from a payload, through compression and text encodings,
//!   byte for byte otherwise; refuses what may hold one and cannot be read.
//! - [`review`]: what the ledger answers about a device and about the home.
//! - [`readings`]: what a device says it measures (power, temperature), and how the latest value
//!   of each is read from its messages, strictly and bounded; hidden where a field is redacted.
//! - [`text`]: outside strings cut and cleaned before they are stored or logged.
//! - [`family`]: household members, their roles and grants; [`authorize`](family::authorize()) decides each request and says why.
//! - [`suggest`]: a firmware's usual topics, proposed when a device's topics follow it, for its
//!   own prefix only (never a shared root, never another device's).
//!
//! Data flows sighting → identity keys (which device?) → fingerprint (what is it?) → the store;
//! and MQTT packet → gate (device state + manifest) → decision → broker and record.

pub mod classify;
pub mod credential;
pub mod device;
pub mod discovery;
pub mod family;
pub mod fingerprint;
/// The fuzz targets' checks (`fuzz/`), shared with the test that replays their seeds.
#[doc(hidden)]
pub mod fuzz_checks;
pub mod gate;
pub mod identity;
pub mod inventory;
pub mod manifest;
pub mod mqtt_state;
pub mod network;
pub mod privacy;
pub mod readings;
pub mod redact;
pub mod review;
pub mod self_described;
pub mod sighting;
pub mod suggest;
pub mod text;
pub mod topic;

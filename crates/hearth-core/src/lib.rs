//! Hearth's domain, pure and free of I/O, so every rule here is tested with plain tables.
//!
//! Map:
//! - [`device`]: a [`Device`](device::Device) record, its [`DeviceId`](device::DeviceId) and
//!   [`DeviceState`](device::DeviceState) lifecycle (`new` → `approved` → `blocked`).
//! - [`sighting`]: one mDNS observation as discovery reports it, already parsed into typed values.
//! - [`identity`]: which stable keys (MAC, HomeKit id, host name...) a sighting carries; two
//!   sightings sharing a key are one physical device.
//! - [`fingerprint`]: the rule table (`fingerprints.toml`) that turns sightings into kind,
//!   vendor and model, and names the rule that matched.
//!
//! Data flows sighting → identity keys (which device?) → fingerprint (what is it?) → the store.

pub mod device;
pub mod fingerprint;
pub mod identity;
pub mod sighting;

//! What unit tests across the crate share: a hub on an in-memory database.

use crate::api::types::SecretStorage;
use crate::hub::Hub;

/// A hub with an empty in-memory store, no broker and no discovery, and its data directory.
pub(crate) fn hub() -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = hearth_store::Store::open_in_memory().expect("an in-memory store");
    let (hub, _records) = Hub::new(store, dir.path(), SecretStorage::Keyring).expect("a hub");
    (hub, dir)
}

/// Waits (up to five seconds) until `check` holds, for tests of background tasks.
pub(crate) async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Files `discovery` (topic, payload) as what device `id` describes, watches the readings it
/// describes as the recorder does, and notes `sent` (topic, payload) as its accepted messages.
pub(crate) fn describe_and_send(hub: &Hub, id: &str, discovery: &[(&str, &str)], sent: &[(&str, &str)]) {
    let id = hearth_core::device::DeviceId::parse(id).expect("a device id");
    for (topic, payload) in discovery {
        let d = hearth_core::discovery::parse(topic, payload.as_bytes()).expect("a discovery message").expect("discovery");
        hub.store().file_discovery(&id, &d, crate::api::now()).expect("filed");
    }
    let filed = hub.store().described(&id).expect("what it describes");
    hub.live_readings().watch(&id, crate::readings::described(&filed));
    hub.live_readings().note(sent.iter().map(|(topic, payload)| (&id, *topic, payload.as_bytes(), crate::api::now())));
}

//! Who asked, and what an address claimed by two devices gets.

use super::*;
use hearth_core::device::Actor;
use hearth_core::network::{Because, DestinationRule, RuleSource, RuleVerdict};
use hearth_store::AnonymousPin;

fn d(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

/// A store with two approved devices announcing themselves at `.11` and `.12`; the camera is
/// home only, the speaker unrestricted.
fn home() -> (Store, DeviceId, DeviceId) {
    let mut store = Store::open_in_memory().unwrap();
    let camera = DeviceId::parse("d-00000000000c").unwrap();
    let speaker = DeviceId::parse("d-00000000000d").unwrap();
    store.add_device(&camera, "Camera", &Actor::owner(), "test", 1).unwrap();
    store.add_device(&speaker, "Speaker", &Actor::owner(), "test", 1).unwrap();
    store.set_internet_level(&camera, InternetLevel::HomeOnly, &Actor::owner(), "test", 1).unwrap();
    store.set_internet_level(&speaker, InternetLevel::Unrestricted, &Actor::owner(), "test", 1).unwrap();
    store.set_anonymous(&camera, Some(&pin("cam", "10.77.0.11")), &Actor::owner(), "test", 1).unwrap();
    store.set_anonymous(&speaker, Some(&pin("spk", "10.77.0.12")), &Actor::owner(), "test", 1).unwrap();
    (store, camera, speaker)
}

fn pin(client_id: &str, address: &str) -> AnonymousPin {
    AnonymousPin { client_id: client_id.into(), address: Some(address.into()) }
}

fn network(store: &Store) -> Network {
    let network = Network::new(NetworkConfig::default());
    network.reload(store).unwrap();
    network
}

#[test]
fn an_address_is_its_device_and_an_unknown_one_is_a_person() {
    let (store, camera, _) = home();
    let network = network(&store);
    assert_eq!(network.client("10.77.0.11".parse().unwrap(), None), Client::Device(camera.clone()));
    assert_eq!(network.client("::ffff:10.77.0.11".parse::<IpAddr>().map(canonical).unwrap(), None), Client::Device(camera.clone()));
    let unknown = network.client("10.77.0.99".parse().unwrap(), None);
    assert_eq!(unknown, Client::Unknown);
    let answer = network.answer(&unknown, &d("tracker.test"), 10);
    assert_eq!((answer.decision.action, answer.device), (QueryAction::Forward, None), "a person's phone: forwarded, not recorded");
    let camera_asks = network.answer(&Client::Device(camera.clone()), &d("tracker.test"), 10);
    assert_eq!(camera_asks.decision.action, QueryAction::Refuse);
    assert_eq!(camera_asks.device.map(|(id, _)| id), Some(camera));
}

#[test]
fn claiming_another_devices_address_gains_nothing() {
    let (mut store, camera, speaker) = home();
    // The camera (home only) announces the speaker's address too, hoping for its freedom.
    store.set_anonymous(&camera, Some(&pin("cam", "10.77.0.12")), &Actor::owner(), "test", 2).unwrap();
    let network = network(&store);
    let client = network.client("10.77.0.12".parse().unwrap(), None);
    assert!(matches!(&client, Client::Ambiguous(ids) if ids.contains(&camera) && ids.contains(&speaker)), "{client:?}");
    // A MAC the speaker's queries came from before settles it: the claim takes nothing away.
    store.record_dns(&[query_from(&speaker, "02:00:00:00:00:0d")]).unwrap();
    let network_known = super::tests::network(&store);
    assert_eq!(network_known.client("10.77.0.12".parse().unwrap(), Some("02:00:00:00:00:0d")), Client::Device(speaker.clone()));
    let answer = network.answer(&client, &d("tracker.test"), 10);
    assert_eq!(answer.decision.action, QueryAction::Refuse, "the strictest of the two");
    assert!(answer.device.is_none(), "recorded under neither");
}

fn query_from(device: &DeviceId, mac: &str) -> hearth_store::network::DnsRecord {
    hearth_store::network::DnsRecord {
        at: 5,
        device_id: device.clone(),
        state: DeviceState::Approved,
        name: d("time.apple.com"),
        registrable: "apple.com".into(),
        qtype: "A".into(),
        action: QueryAction::Forward,
        because: "default".into(),
        propose: false,
        answers: vec![],
        ttl: None,
        address: "10.77.0.11".into(),
        mac: Some(mac.into()),
    }
}

#[test]
fn a_device_that_moved_is_known_by_its_mac() {
    let (mut store, camera, _) = home();
    store.record_dns(&[query_from(&camera, "02:00:00:00:00:0c")]).unwrap();
    let network = network(&store);
    assert_eq!(network.client("10.77.0.50".parse().unwrap(), Some("02:00:00:00:00:0c")), Client::Device(camera));
    assert_eq!(network.client("10.77.0.50".parse().unwrap(), Some("02:00:00:00:00:99")), Client::Unknown);
}

#[test]
fn an_approved_device_learns_for_its_first_hours_only() {
    let mut store = Store::open_in_memory().unwrap();
    let plug = DeviceId::parse("d-0000000000a1").unwrap();
    store.add_device(&plug, "Plug", &Actor::owner(), "test", 1).unwrap();
    let network = network(&store);
    let client = Client::Device(plug.clone());
    let first = network.answer(&client, &d("cloud.vendor.test"), 1_000);
    assert_eq!(
        (first.decision.action, first.decision.because.clone(), first.decision.propose),
        (QueryAction::Forward, Because::Learning, true)
    );
    let hours = i64::from(NetworkConfig::default().learn_hours) * 3_600_000;
    let later = network.answer(&client, &d("cloud.vendor.test"), 1_000 + hours);
    assert_eq!(later.decision.because, Because::NotOnList, "the window ends");
    store
        .set_destination_rule(
            &plug,
            &DestinationRule { domain: d("vendor.test"), verdict: RuleVerdict::Allow, source: RuleSource::Learned },
            &Actor::owner(),
            "test",
            2,
        )
        .unwrap();
    network.reload(&store).unwrap();
    assert_eq!(network.answer(&client, &d("cloud.vendor.test"), 1_000 + hours).decision.action, QueryAction::Forward);
}

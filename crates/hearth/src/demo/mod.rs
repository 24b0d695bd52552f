//! `hearth demo`: a simulated home that announces itself over mDNS like real devices do
//! (service types, instance names and TXT records per the device reference), for trying Hearth
//! without devices and for the tests.
//!
//! Announcing made-up devices on a real network would confuse other hubs there, so it runs
//! only inside a private network namespace (`in-netns`) unless a person passes
//! `--real-network`.
//!
//! Most simulated devices answer through mdns-sd, which handles the DNS-SD meta-query
//! correctly; [`quirky`] adds the ones that get it wrong, as real firmware does.

mod mqtt;
mod quirky;

use anyhow::{Context, Result, bail};
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Also announce this many generated ESPHome sensor nodes (for load tests).
    #[arg(long, default_value_t = 0)]
    pub extra_devices: u32,
    /// Announce on the real network, not only inside a test namespace.
    #[arg(long)]
    pub real_network: bool,
    /// Announce only on this interface (repeatable).
    #[arg(long = "interface", value_name = "NAME")]
    pub interfaces: Vec<String>,
    /// Announce, then exit after this many seconds (saying goodbye); default: until Ctrl+C.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Also run five MQTT devices (Tasmota, Shelly, Zigbee2MQTT, ESPHome, a camera) against the
    /// running hub's broker: they are added with their own credentials and manifests.
    #[arg(long)]
    pub mqtt: bool,
}

/// One service of a simulated device.
struct Svc {
    ty: &'static str,
    instance: String,
    port: u16,
    txt: Vec<(&'static str, String)>,
}

struct SimDevice {
    host: String,
    services: Vec<Svc>,
}

fn svc(ty: &'static str, instance: &str, port: u16, txt: &[(&'static str, &str)]) -> Svc {
    Svc { ty, instance: instance.to_owned(), port, txt: txt.iter().map(|(k, v)| (*k, (*v).to_owned())).collect() }
}

/// The simulated home: 16 devices of 14 kinds, as they announce themselves.
fn home() -> Vec<SimDevice> {
    let d = |host: &str, services: Vec<Svc>| SimDevice { host: host.to_owned(), services };
    vec![
        d(
            "shellyplus1-c4dd57877294",
            vec![
                svc("_shelly._tcp", "shellyplus1-c4dd57877294", 80, &[("gen", "2"), ("app", "Plus1"), ("ver", "1.4.4")]),
                svc("_http._tcp", "shellyplus1-c4dd57877294", 80, &[("gen", "2")]),
            ],
        ),
        d(
            "eve-energy-5a3c",
            vec![svc(
                "_hap._tcp",
                "Eve Energy 5A3C",
                51826,
                &[
                    ("c#", "3"),
                    ("ff", "2"),
                    ("id", "3C:4F:1A:22:9B:01"),
                    ("md", "Eve Energy 20EBO8301"),
                    ("pv", "1.1"),
                    ("s#", "1"),
                    ("sf", "0"),
                    ("ci", "7"),
                    ("sh", "XzYkbw=="),
                ],
            )],
        ),
        d(
            "001788fffe3a5f12",
            vec![
                svc("_hue._tcp", "Philips Hue - 3A5F12", 443, &[("bridgeid", "001788fffe3a5f12"), ("modelid", "BSB002")]),
                svc(
                    "_hap._tcp",
                    "Hue Bridge 3A5F",
                    8080,
                    &[
                        ("c#", "12"),
                        ("ff", "0"),
                        ("id", "00:17:88:3A:5F:12"),
                        ("md", "BSB002"),
                        ("pv", "1.1"),
                        ("s#", "1"),
                        ("sf", "0"),
                        ("ci", "2"),
                    ],
                ),
            ],
        ),
        d(
            "chromecast-4f3c9d2e",
            vec![svc(
                "_googlecast._tcp",
                "Chromecast-4f3c9d2e8a1b4c7d9e0f1a2b3c4d5e6f",
                8009,
                &[
                    ("id", "4f3c9d2e8a1b4c7d9e0f1a2b3c4d5e6f"),
                    ("md", "Chromecast"),
                    ("fn", "Living Room TV"),
                    ("ve", "05"),
                    ("ic", "/setup/icon.png"),
                    ("ca", "201221"),
                    ("st", "0"),
                    ("rs", ""),
                ],
            )],
        ),
        d(
            "den-apple-tv",
            vec![
                svc(
                    "_airplay._tcp",
                    "Den",
                    7000,
                    &[
                        ("deviceid", "C9:2A:14:08:4F:64"),
                        ("model", "AppleTV6,2"),
                        ("srcvers", "620.8.2"),
                        ("features", "0x4A7FDFD5,0xBC157FDE"),
                    ],
                ),
                svc(
                    "_raop._tcp",
                    "C92A14084F64@Den",
                    7000,
                    &[("am", "AppleTV6,2"), ("cn", "0,1,2,3"), ("et", "0,3,5"), ("tp", "UDP"), ("vs", "620.8.2")],
                ),
                svc("_companion-link._tcp", "Den", 49152, &[("rpMd", "AppleTV6,2"), ("rpVr", "620.8.2"), ("rpFl", "0x36782")]),
            ],
        ),
        d(
            "sonos-7828ca831a30",
            vec![svc(
                "_sonos._tcp",
                "Sonos-7828CA831A30@Bedroom Speaker",
                1443,
                &[
                    ("info", "/api/v1/players/RINCON_7828CA831A3001400/info"),
                    ("vers", "3"),
                    ("protovers", "1.41.0"),
                    ("bootseq", "12"),
                    ("hhid", "Sonos_Xm9QhUNHmFZJ3ytGK0WzBqPxMT"),
                    ("mhhid", "Sonos_Xm9QhUNHmFZJ3ytGK0WzBqPxMT.1"),
                    ("variant", "2"),
                    ("sslport", "1443"),
                    ("location", "http://10.77.0.106:1400/xml/device_description.xml"),
                ],
            )],
        ),
        d(
            "kitchen-climate",
            vec![svc(
                "_esphomelib._tcp",
                "kitchen-climate",
                6053,
                &[
                    ("version", "2024.6.1"),
                    ("mac", "246f28aabbcc"),
                    ("platform", "ESP32"),
                    ("board", "esp32dev"),
                    ("network", "wifi"),
                    ("friendly_name", "Kitchen Climate"),
                    ("config_hash", "a1b2c3d4"),
                ],
            )],
        ),
        d("wled-desk", vec![svc("_wled._tcp", "wled-desk", 80, &[("mac", "a4cf12d0e1f2")]), svc("_http._tcp", "wled-desk", 80, &[])]),
        d(
            "brother-hl-l2350dw",
            vec![
                svc(
                    "_ipp._tcp",
                    "Brother HL-L2350DW series",
                    631,
                    &[
                        ("ty", "Brother HL-L2350DW series"),
                        ("rp", "ipp/print"),
                        ("UUID", "e3248000-80ce-11db-8000-30055c773bcf"),
                        ("pdl", "application/octet-stream,image/urf,image/pwg-raster"),
                        ("usb_MFG", "Brother"),
                    ],
                ),
                svc("_printer._tcp", "Brother HL-L2350DW series", 515, &[("ty", "Brother HL-L2350DW series"), ("rp", "duerqxesz5090")]),
            ],
        ),
        d(
            "front-door-lock",
            vec![svc(
                "_hap._tcp",
                "Front Door Lock",
                51827,
                &[
                    ("c#", "2"),
                    ("ff", "1"),
                    ("id", "AA:6C:01:5E:92:10"),
                    ("md", "SmartLock Pro"),
                    ("pv", "1.1"),
                    ("s#", "1"),
                    ("sf", "1"),
                    ("ci", "6"),
                ],
            )],
        ),
        d("roborock-vacuum-s5", vec![svc("_miio._udp", "roborock-vacuum-s5_miio260426251", 54321, &[])]),
        d("doorbird-1ccae3001122", vec![svc("_axis-video._tcp", "DoorBird D101", 80, &[("macaddress", "1CCAE3001122")])]),
        d(
            "homeassistant",
            vec![svc(
                "_home-assistant._tcp",
                "Home",
                8123,
                &[
                    ("location_name", "Home"),
                    ("uuid", "0123456789abcdef0123456789abcdef"),
                    ("version", "2026.11.1"),
                    ("internal_url", "http://10.77.0.113:8123"),
                    ("base_url", "http://10.77.0.113:8123"),
                    ("requires_api_password", "True"),
                ],
            )],
        ),
        d("pi-foo-01", vec![svc("_workstation._tcp", "pi-foo-01 [b8:27:eb:3a:e2:c8]", 9, &[])]),
        d(
            "a4cf12aabb01",
            vec![svc(
                "_matterc._udp",
                "DD3A1B2C3D4E5F60",
                5540,
                &[
                    ("D", "3840"),
                    ("VP", "65521+32769"),
                    ("CM", "1"),
                    ("DT", "266"),
                    ("DN", "Matter Smart Plug"),
                    ("SII", "5000"),
                    ("SAI", "300"),
                ],
            )],
        ),
        d(
            "elgato-key-light-1a2b",
            vec![svc(
                "_elg._tcp",
                "Elgato Key Light 1A2B",
                9123,
                &[("id", "3C:6A:9D:14:1A:2B"), ("md", "Elgato Key Light 20GAK9901"), ("pv", "1.0"), ("dt", "53")],
            )],
        ),
    ]
}

/// Generated ESPHome nodes for load tests: each its own host, MAC and friendly name.
fn generated(n: u32) -> Vec<SimDevice> {
    (0..n)
        .map(|i| {
            let mac = format!("02a0b0{:06x}", i);
            let name = format!("sensor-node-{i:03}");
            SimDevice {
                host: name.clone(),
                services: vec![Svc {
                    ty: "_esphomelib._tcp",
                    instance: name.clone(),
                    port: 6053,
                    txt: vec![
                        ("version", "2024.6.1".into()),
                        ("mac", mac),
                        ("platform", "ESP8266".into()),
                        ("board", "d1_mini".into()),
                        ("friendly_name", format!("Sensor node {i}")),
                    ],
                }],
            }
        })
        .collect()
}

pub async fn run(args: DemoArgs, data_dir: &std::path::Path) -> Result<()> {
    let in_namespace = std::env::var("HEARTH_IN_NETNS").is_ok_and(|v| v == "1");
    if !in_namespace && !args.real_network {
        bail!(
            "the simulated home announces made-up devices; run it inside a private network namespace (`shared/tools/in-netns hearth demo`), \
             or pass --real-network to announce them on this network on purpose"
        );
    }
    let daemon = ServiceDaemon::new().context("cannot start mDNS for the simulated home")?;
    if !args.interfaces.is_empty() {
        daemon.disable_interface(IfKind::All)?;
        for name in &args.interfaces {
            daemon.enable_interface(IfKind::Name(name.clone()))?;
        }
    }
    let mut devices = home();
    devices.extend(generated(args.extra_devices));
    let mut registered = Vec::new();
    for (index, device) in devices.iter().enumerate() {
        // Inside the namespace each simulated device gets its own address on the test subnet,
        // so the hub sees distinct hosts as on a real LAN.
        let address: Option<IpAddr> = (in_namespace && index < 150).then(|| IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100 + index as u8)));
        for s in &device.services {
            let props: Vec<(&str, &str)> = s.txt.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let host = format!("{}.local.", device.host);
            let ty = format!("{}.local.", s.ty);
            let info = match address {
                Some(ip) => ServiceInfo::new(&ty, &s.instance, &host, ip, s.port, &props[..])?,
                _ => ServiceInfo::new(&ty, &s.instance, &host, "", s.port, &props[..])?.enable_addr_auto(),
            };
            registered.push(info.get_fullname().to_owned());
            daemon.register(info).with_context(|| format!("cannot announce {}", s.instance))?;
        }
    }
    // The quirky responders need to know the interface to answer on; inside the namespace it
    // is the device side of the veth pair. On a real network they are left out.
    let cancel = tokio_util::sync::CancellationToken::new();
    let quirky = in_namespace.then(|| {
        let nodes = quirky::nodes(Ipv4Addr::new(10, 77, 0, 99));
        tokio::spawn(quirky::run(nodes, Ipv4Addr::new(10, 77, 0, 2), cancel.clone()))
    });
    let mqtt_home = if args.mqtt {
        let (dir, cancel) = (data_dir.to_path_buf(), cancel.clone());
        Some(tokio::spawn(async move { mqtt::run(&dir, cancel).await }))
    } else {
        None
    };
    let quirky_count = if quirky.is_some() { quirky::nodes(Ipv4Addr::UNSPECIFIED).len() } else { 0 };
    println!(
        "Announcing {} simulated devices ({} services, {quirky_count} of them with a wrong or missing meta-query answer). Stop with Ctrl+C.",
        devices.len() + quirky_count,
        registered.len() + quirky_count
    );
    // Ctrl+C and SIGTERM both end the demo with goodbyes, so the hub sees every device leave.
    match args.duration {
        Some(secs) => {
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(secs)) => {}
                () = crate::cli::shutdown_signal() => {}
            }
        }
        None => crate::cli::shutdown_signal().await,
    }
    cancel.cancel();
    if let Some(task) = mqtt_home {
        match task.await {
            Ok(Err(e)) => eprintln!("the MQTT devices failed: {e:#}"),
            Err(e) => eprintln!("the MQTT devices stopped: {e}"),
            Ok(Ok(())) => {}
        }
    }
    if let Some(task) = quirky {
        match task.await {
            Ok(Err(e)) => eprintln!("the quirky responders failed: {e:#}"),
            Err(e) => eprintln!("the quirky responders stopped: {e}"),
            Ok(Ok(())) => {}
        }
    }
    for name in &registered {
        if let Ok(rx) = daemon.unregister(name) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv_async()).await;
        }
    }
    if let Ok(rx) = daemon.shutdown() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv_async()).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::fingerprint::Fingerprints;
    use hearth_core::sighting::Sighting;
    use std::collections::BTreeSet;

    /// The simulated home is realistic enough to be worth testing against: at least 12
    /// devices of at least 8 kinds, each recognised by a rule.
    #[test]
    fn the_simulated_home_is_varied_and_recognised() {
        let fp = Fingerprints::builtin();
        let home = home();
        assert!(home.len() >= 12);
        let kinds: BTreeSet<_> = home
            .iter()
            .map(|d| {
                let sightings: Vec<Sighting> = d
                    .services
                    .iter()
                    .map(|s| {
                        Sighting::new(
                            s.ty,
                            &s.instance,
                            &d.host,
                            vec![],
                            s.port,
                            s.txt.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
                        )
                    })
                    .collect();
                let r = fp.recognise(sightings.iter());
                assert_ne!(r.rule, "none", "{} is not recognised", d.host);
                r.kind
            })
            .collect();
        assert!(kinds.len() >= 8, "{kinds:?}");
    }
}

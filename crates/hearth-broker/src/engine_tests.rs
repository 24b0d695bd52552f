//! What a live session keeps of its CONNECT (rmqtt change 21, `vendor/PATCHES.md`): the broker
//! checks the password once, and the session, which keeps the CONNECT for its whole life, keeps
//! it without the password.

use super::{Broker, BrokerConfig};
use crate::{Admission, Client, ConnectAttempt, Gate, Kept, Refusal, Sender, SessionInfo, WillVerdict};
use hearth_core::gate::Decision;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &[u8] = b"correct horse battery staple";

/// Admits the one password, up to `connections_per_user` connections of a username if set, and
/// allows everything else; remembers the passwords it was shown.
#[derive(Default)]
struct OnePassword {
    shown: Mutex<Vec<Vec<u8>>>,
    connections_per_user: Option<usize>,
}

impl Gate for OnePassword {
    fn connect(&self, attempt: &ConnectAttempt<'_>) -> Result<Admission, Refusal> {
        self.shown.lock().unwrap().push(attempt.password.unwrap_or_default().to_vec());
        if attempt.password != Some(PASSWORD) {
            Err(Refusal::BadCredentials)
        } else if self.connections_per_user.is_some_and(|most| attempt.live_connections >= most) {
            Err(Refusal::NotAuthorized)
        } else {
            Ok(Admission { fingerprint: 1, evict_holder: false })
        }
    }
    fn fingerprint(&self, _: Client<'_>) -> Option<u64> {
        Some(1)
    }
    fn deliver(&self, _: Client<'_>, _: Sender<'_>, _: &str) -> bool {
        true
    }
    fn may_receive(&self, _: Client<'_>, _: &str) -> bool {
        true
    }
    fn may_subscribe(&self, _: Client<'_>, _: &str) -> bool {
        true
    }
    fn may_resume(&self, _: Client<'_>) -> bool {
        true
    }
    fn redact_kept(&self, _: Client<'_>, _: &[u8]) -> Kept {
        Kept::AsItIs
    }
    fn will(&self, _: Client<'_>, _: &str, _: &[u8]) -> WillVerdict {
        WillVerdict::Publish(None)
    }
    fn rewrite(&self, _: Client<'_>, _: &str, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn publish(&self, _: Client<'_>, _: &str, _: &[u8], _: u8, _: bool) -> Decision {
        Decision::Allow
    }
    fn subscribe(&self, _: Client<'_>, _: &str, _: u8) -> Decision {
        Decision::Allow
    }
    fn connected(&self, _: &SessionInfo) {}
    fn disconnected(&self, _: Client<'_>) {}
}

/// A CONNECT with a username and a password: MQTT 3.1.1 (`protocol` 4) or 5, clean, keep alive
/// 30 s.
fn connect_packet(protocol: u8, client_id: &str, username: &str, password: &[u8]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
        out.extend_from_slice(s);
    }
    let mut body = Vec::new();
    string(&mut body, b"MQTT");
    body.extend_from_slice(&[protocol, 0b1100_0010, 0, 30]);
    if protocol == 5 {
        body.push(0); // no properties
    }
    string(&mut body, client_id.as_bytes());
    string(&mut body, username.as_bytes());
    string(&mut body, password);
    let mut packet = vec![0x10, u8::try_from(body.len()).unwrap()];
    packet.extend_from_slice(&body);
    packet
}

/// The username and password the live session of `client_id` keeps in its CONNECT.
fn kept_credentials(broker: &Broker, client_id: &str) -> (Option<String>, Option<Vec<u8>>) {
    use rmqtt::types::{ClientId, Id};
    let (scx, client_id) = (broker.scx.clone(), client_id.to_owned());
    broker.runtime.block_on(async move {
        let entry = scx.extends.shared().await.entry(Id::from(scx.node.id(), ClientId::from(client_id)));
        let connect = entry.session().expect("the session is live").connect_info().await.expect("its CONNECT");
        (connect.username().map(ToString::to_string), connect.password().map(|p| p.to_vec()))
    })
}

#[test]
fn a_live_session_keeps_its_connect_without_the_password_the_gate_was_shown() {
    let gate = Arc::new(OnePassword::default());
    let broker = Broker::start(BrokerConfig::new("127.0.0.1:0".parse().unwrap()), gate.clone()).expect("the broker starts");
    let mut connections = Vec::new();
    for (protocol, version, client_id) in [(4u8, "3.1.1", "kept-v311"), (5, "5", "kept-v5")] {
        let mut socket = TcpStream::connect(broker.local_addr()).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(&connect_packet(protocol, client_id, "kept-user", PASSWORD)).unwrap();
        // The CONNACK: its type, its length (under 128 here: one byte), then session present
        // and the return (reason) code, then MQTT 5's properties.
        let mut header = [0u8; 2];
        socket.read_exact(&mut header).unwrap();
        let mut connack = vec![0u8; usize::from(header[1])];
        socket.read_exact(&mut connack).unwrap();
        assert_eq!((header[0], connack[1]), (0x20, 0), "MQTT {version}: the CONNECT is accepted");
        let (username, password) = kept_credentials(&broker, client_id);
        assert_eq!(username.as_deref(), Some("kept-user"), "MQTT {version}: the session keeps the rest of its CONNECT");
        assert_eq!(password, None, "MQTT {version}: the session keeps no password");
        connections.push(socket); // connected until the end: the session stays live
    }
    assert_eq!(*gate.shown.lock().unwrap(), vec![PASSWORD.to_vec(), PASSWORD.to_vec()], "the gate checked each password");
}

/// The return code of the CONNACK that answers `packet` on a new connection, which stays open.
fn connack_code(broker: &Broker, packet: &[u8]) -> (TcpStream, u8) {
    let mut socket = TcpStream::connect(broker.local_addr()).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(packet).unwrap();
    let mut connack = [0u8; 4];
    socket.read_exact(&mut connack).unwrap();
    assert_eq!(connack[0], 0x20, "a CONNACK");
    (socket, connack[3])
}

/// Eight CONNECTs of one username sent together, to a gate that lets in four connections of a
/// username: the count the gate is given is what the wire shows. (rmqtt runs a listener's
/// handshakes in one task, so these are decided one after the other; a CONNECT decided while
/// another waits between its authentication and its connection, such as a takeover's wait for
/// the old connection, is counted by `admissions`, whose own tests show it.)
#[test]
fn a_usernames_connections_are_counted_for_the_gate_and_one_leaving_makes_room() {
    let gate = Arc::new(OnePassword { connections_per_user: Some(4), ..OnePassword::default() });
    let broker = Arc::new(Broker::start(BrokerConfig::new("127.0.0.1:0".parse().unwrap()), gate.clone()).expect("the broker starts"));
    let start = Arc::new(std::sync::Barrier::new(8));
    let burst: Vec<_> = (0..8)
        .map(|n| {
            let (broker, start) = (broker.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                connack_code(&broker, &connect_packet(4, &format!("burst-{n}"), "burst-user", PASSWORD))
            })
        })
        .collect();
    let mut answers: Vec<(TcpStream, u8)> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    let codes: Vec<u8> = answers.iter().map(|(_, code)| *code).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 4, "four let in: {codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 5).count(), 4, "four not authorized: {codes:?}");
    // Another username is not touched, and one of the four leaving makes room.
    assert_eq!(connack_code(&broker, &connect_packet(4, "other", "other-user", PASSWORD)).1, 0);
    assert_eq!(connack_code(&broker, &connect_packet(4, "burst-late", "burst-user", PASSWORD)).1, 5, "still four");
    let (mut leaving, _) = answers.swap_remove(answers.iter().position(|(_, code)| *code == 0).expect("one let in"));
    leaving.write_all(&[0xe0, 0]).unwrap(); // DISCONNECT
    drop(leaving);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_kept, code) = connack_code(&broker, &connect_packet(4, "burst-late", "burst-user", PASSWORD));
        if code == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the place of the one that left is given back");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(answers); // the other three stayed connected until here
}

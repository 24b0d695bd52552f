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

/// Admits the one password and allows everything else; remembers the passwords it was shown.
#[derive(Default)]
struct OnePassword {
    shown: Mutex<Vec<Vec<u8>>>,
}

impl Gate for OnePassword {
    fn connect(&self, attempt: &ConnectAttempt<'_>) -> Result<Admission, Refusal> {
        self.shown.lock().unwrap().push(attempt.password.unwrap_or_default().to_vec());
        if attempt.password == Some(PASSWORD) {
            Ok(Admission { fingerprint: 1, evict_holder: false })
        } else {
            Err(Refusal::BadCredentials)
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

//! Each packet decoded from bytes of its own (vendor/PATCHES.md, rmqtt-net's eleventh change),
//! and what a waiting message is counted for (rmqtt change 22): a message that waits must hold
//! what its queue counts, no more.

use rmqtt::codec::error::DecodeError;
use rmqtt::codec::{MqttCodec, MqttPacket, v3, v5};
use rmqtt::net::PacketCodec;
use rmqtt::types::{Publish, message_bytes};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

fn varint(mut n: usize, into: &mut Vec<u8>) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        into.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return;
        }
    }
}

fn string(s: &str, into: &mut Vec<u8>) {
    into.extend_from_slice(&(s.len() as u16).to_be_bytes());
    into.extend_from_slice(s.as_bytes());
}

/// A QoS 0 PUBLISH; MQTT 5 when `user` is given (its user properties).
fn packet(topic: &str, payload: &[u8], user: Option<&[(&str, &str)]>) -> Vec<u8> {
    let mut body = Vec::new();
    string(topic, &mut body);
    if let Some(user) = user {
        let mut properties = Vec::new();
        for (k, v) in user {
            properties.push(0x26);
            string(k, &mut properties);
            string(v, &mut properties);
        }
        varint(properties.len(), &mut body);
        body.extend_from_slice(&properties);
    }
    body.extend_from_slice(payload);
    let mut p = vec![0x30];
    varint(body.len(), &mut p);
    p.extend_from_slice(&body);
    p
}

fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    packet(topic, payload, None)
}

fn payload(decoded: Option<(MqttPacket, u32)>) -> rmqtt::codec::types::Publish {
    match decoded {
        Some((MqttPacket::V3(v3::Packet::Publish(p)), _)) => *p,
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

#[test]
fn a_small_packet_read_with_a_large_one_keeps_its_own_bytes() {
    let mut codec = PacketCodec::new(MqttCodec::V3(v3::Codec::new(1024 * 1024)));
    let mut src = BytesMut::new();
    src.extend_from_slice(&publish("nobody/listens", &[b'x'; 100_000]));
    src.extend_from_slice(&publish("sensor/reading", b"1"));
    let read_buffer = src.as_ptr() as usize..src.as_ptr() as usize + src.len();
    let large = payload(codec.decode(&mut src).unwrap());
    let small = payload(codec.decode(&mut src).unwrap());
    assert!(src.is_empty());
    assert_eq!((&small.topic[..], &small.payload[..]), ("sensor/reading", &b"1"[..]));
    assert_eq!(large.payload.len(), 100_000);
    // Neither points into the read buffer that held both.
    for at in [small.payload.as_ptr(), small.topic.as_bytes().as_ptr(), large.payload.as_ptr()] {
        assert!(!read_buffer.contains(&(at as usize)), "a packet's bytes are still the read buffer's");
    }
    drop(large);
    assert_eq!(&small.payload[..], b"1");
}

#[test]
fn a_packet_in_pieces_and_a_bodyless_one_are_decoded_whole() {
    let mut codec = PacketCodec::new(MqttCodec::V3(v3::Codec::new(1024 * 1024)));
    let whole = publish("sensor/reading", &[7u8; 300]);
    let mut src = BytesMut::new();
    // A byte of header, then the rest of the header and part of the body, then the rest.
    for piece in [&whole[..1], &whole[1..40], &whole[40..]] {
        let had = codec.decode(&mut src).unwrap();
        assert!(had.is_none());
        src.extend_from_slice(piece);
    }
    let got = payload(codec.decode(&mut src).unwrap());
    assert_eq!((&got.topic[..], got.payload.len()), ("sensor/reading", 300));
    // A PINGREQ, which has no body, right after.
    src.extend_from_slice(&[0xc0, 0x00]);
    assert!(matches!(codec.decode(&mut src).unwrap(), Some((MqttPacket::V3(v3::Packet::PingRequest), 0))));
    assert!(src.is_empty());
}

#[test]
fn a_packet_over_the_maximum_is_refused_by_its_header() {
    let mut codec = PacketCodec::new(MqttCodec::V3(v3::Codec::new(1024)));
    let mut src = BytesMut::from(&publish("big", &[0u8; 2000])[..10]);
    assert!(matches!(codec.decode(&mut src), Err(DecodeError::MaxSizeExceeded { .. })));
}

#[test]
fn a_message_is_counted_for_its_properties_as_well_as_its_payload() {
    let note = "x".repeat(60_000);
    let user = [("note", note.as_str()), ("unit", "C")];
    let mut codec = PacketCodec::new(MqttCodec::V5(v5::Codec::new(1024 * 1024, 1024 * 1024)));
    let mut src = BytesMut::from(&packet("sensor/reading", b"1", Some(&user))[..]);
    let decoded = match codec.decode(&mut src).unwrap() {
        Some((MqttPacket::V5(v5::Packet::Publish(p)), _)) => *p,
        other => panic!("not a PUBLISH: {other:?}"),
    };
    let with_properties = Publish::from(decoded);
    let text = "sensor/reading".len() + 1 + "note".len() + 60_000 + "unit".len() + 1;
    // Each user property is two strings (64 bytes) before its text.
    assert_eq!(message_bytes(&with_properties), text + 2 * 64);
    // Without properties, a message is its topic and payload (the count of messages bounds the
    // rest: README, "Known gaps").
    let mut src = BytesMut::from(&publish("s", b"1")[..]);
    let mut codec = PacketCodec::new(MqttCodec::V3(v3::Codec::new(1024)));
    let small = Publish::from(payload(codec.decode(&mut src).unwrap()));
    assert_eq!(message_bytes(&small), 2);
}

//! Each packet decoded from bytes of its own (vendor/PATCHES.md, rmqtt-net's eleventh change), a
//! CONNECT kept without its packet (the twelfth), and what a waiting message is counted for
//! (rmqtt change 22): what the broker keeps must hold what it is counted for, no more.

use rmqtt::codec::error::DecodeError;
use rmqtt::codec::version::{ProtocolVersion, VersionCodec};
use rmqtt::codec::{MqttCodec, MqttPacket, v3, v5};
use rmqtt::net::{PacketCodec, own_publish_properties, own_v5_connect};
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

/// MQTT 5 properties, each its identifier and its strings (or binary data, written the same
/// way), behind their length.
fn properties(list: &[(u8, Vec<&str>)], into: &mut Vec<u8>) {
    let mut written = Vec::new();
    for (id, values) in list {
        written.push(*id);
        for value in values {
            string(value, &mut written);
        }
    }
    varint(written.len(), into);
    into.extend_from_slice(&written);
}

/// A packet: its first byte, the length of its body, its body.
fn framed(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    varint(body.len(), &mut p);
    p.extend_from_slice(body);
    p
}

/// A QoS 0 PUBLISH; MQTT 5 when `user` is given (its user properties).
fn packet(topic: &str, payload: &[u8], user: Option<&[(&str, &str)]>) -> Vec<u8> {
    let mut body = Vec::new();
    string(topic, &mut body);
    if let Some(user) = user {
        let list: Vec<_> = user.iter().map(|(k, v)| (0x26, vec![*k, *v])).collect();
        properties(&list, &mut body);
    }
    body.extend_from_slice(payload);
    framed(0x30, &body)
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

/// What `codec` decodes from `stream` handed to it in `pieces` (the lengths of the reads, the
/// last repeated), decoding after each read until it has nothing whole; each packet as its debug
/// text, which shows every field.
fn decode_in_pieces(mut codec: PacketCodec, stream: &[u8], pieces: &[usize]) -> Vec<String> {
    let (mut src, mut got, mut at) = (BytesMut::new(), Vec::new(), 0);
    for i in 0.. {
        if at == stream.len() {
            break;
        }
        let n = pieces[i.min(pieces.len() - 1)].min(stream.len() - at);
        src.extend_from_slice(&stream[at..at + n]);
        at += n;
        while let Some((packet, _)) = codec.decode(&mut src).expect("a well-formed stream") {
            got.push(format!("{packet:?}"));
        }
    }
    assert!(src.is_empty(), "{} bytes left undecoded", src.len());
    got
}

#[test]
fn packets_read_in_any_pieces_are_decoded_once_each_in_order() {
    // A header whose length takes two bytes, a bodyless packet, then a small packet: so that
    // pieces cut the length bytes, and bring the rest of one body with the next packet.
    let mut v3_stream = publish("sensor/reading", &[7u8; 300]);
    v3_stream.extend_from_slice(&[0xc0, 0x00]);
    v3_stream.extend_from_slice(&publish("s", b"1"));
    let mut v5_stream = packet("sensor/reading", &[7u8; 300], Some(&[("unit", "C")]));
    v5_stream.extend_from_slice(&[0xc0, 0x00]);
    v5_stream.extend_from_slice(&packet("s", b"1", Some(&[])));
    let v3 = || PacketCodec::new(MqttCodec::V3(v3::Codec::new(1024)));
    let v5 = || PacketCodec::new(MqttCodec::V5(v5::Codec::new(1024, 1024)));
    let whole = (decode_in_pieces(v3(), &v3_stream, &[usize::MAX]), decode_in_pieces(v5(), &v5_stream, &[usize::MAX]));
    assert_eq!(whole.0.len(), 3);
    assert_eq!(whole.1.len(), 3);
    for size in 1..=40 {
        assert_eq!(decode_in_pieces(v3(), &v3_stream, &[size]), whole.0, "MQTT 3.1.1, reads of {size} bytes");
        assert_eq!(decode_in_pieces(v5(), &v5_stream, &[size]), whole.1, "MQTT 5, reads of {size} bytes");
    }
    for cut in 1..v3_stream.len() {
        assert_eq!(decode_in_pieces(v3(), &v3_stream, &[cut, usize::MAX]), whole.0, "MQTT 3.1.1, cut at {cut}");
    }
    for cut in 1..v5_stream.len() {
        assert_eq!(decode_in_pieces(v5(), &v5_stream, &[cut, usize::MAX]), whole.1, "MQTT 5, cut at {cut}");
    }
}

/// An MQTT 5 CONNECT with every field that holds bytes: user properties and authentication in
/// its properties, a Will with properties of its own, a username and a password.
fn connect_v5() -> Vec<u8> {
    let mut body = Vec::new();
    string("MQTT", &mut body);
    body.push(5);
    body.push(0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02); // username, password, Will retained at QoS 1, clean
    body.extend_from_slice(&30u16.to_be_bytes());
    // A user property, an authentication method and its data.
    properties(&[(0x26, vec!["site", "kitchen"]), (0x15, vec!["SCRAM"]), (0x16, vec!["first-step"])], &mut body);
    string("plug-1", &mut body);
    // The Will's: a user property, content type, response topic, correlation data.
    let will = [(0x26, vec!["why", "lost"]), (0x03, vec!["text/plain"]), (0x08, vec!["plug-1/replies"]), (0x09, vec!["correlation"])];
    properties(&will, &mut body);
    for field in ["plug-1/status", "offline", "plug-1", "the-password"] {
        string(field, &mut body);
    }
    framed(0x10, &body)
}

#[test]
fn a_connect_keeps_nothing_of_its_packet_once_its_fields_are_copied() {
    let mut src = BytesMut::from(&connect_v5()[..]);
    let packet = src.as_ptr() as usize..src.as_ptr() as usize + src.capacity();
    let mut codec = v5::Codec::new(1024, 1024);
    let mut connect = match codec.decode(&mut src).unwrap() {
        Some((v5::Packet::Connect(c), _)) => *c,
        other => panic!("not a CONNECT: {other:?}"),
    };
    own_v5_connect(&mut connect);
    let will = connect.last_will.as_ref().expect("a Will");
    assert_eq!((&will.topic[..], &will.message[..]), ("plug-1/status", &b"offline"[..]));
    assert_eq!(connect.password.as_deref().unwrap(), b"the-password");
    let texts = [&connect.client_id, connect.username.as_ref().unwrap(), connect.auth_method.as_ref().unwrap(), &will.topic]
        .into_iter()
        .chain(connect.user_properties.iter().flat_map(|(k, v)| [k, v]))
        .chain(will.user_properties.iter().flat_map(|(k, v)| [k, v]))
        .chain([will.content_type.as_ref().unwrap(), will.response_topic.as_ref().unwrap()]);
    let mut kept: Vec<usize> = texts.map(|t| t.as_bytes().as_ptr() as usize).collect();
    for b in [connect.password.as_ref(), connect.auth_data.as_ref(), Some(&will.message), will.correlation_data.as_ref()] {
        kept.push(b.expect("set in the packet").as_ptr() as usize);
    }
    assert_eq!(kept.len(), 14, "every field that holds bytes");
    assert!(kept.iter().all(|at| !packet.contains(at)), "a field still shares the CONNECT's packet");
}

#[test]
fn the_version_probe_takes_nothing_and_the_connect_is_decoded_after_it() {
    let mut src = BytesMut::from(&connect_v5()[..]);
    let mut probe = PacketCodec::new(MqttCodec::Version(VersionCodec));
    assert!(matches!(probe.decode(&mut src).unwrap(), Some((MqttPacket::Version(ProtocolVersion::MQTT5), _))));
    assert_eq!(src.len(), connect_v5().len(), "the probe only looks");
    let mut codec = PacketCodec::new(MqttCodec::V5(v5::Codec::new(1024, 1024)));
    assert!(matches!(codec.decode(&mut src).unwrap(), Some((MqttPacket::V5(v5::Packet::Connect(_)), _))));
    assert!(src.is_empty());
}

#[test]
fn a_publishs_properties_keep_nothing_of_its_packet_once_copied() {
    // What Hearth's redaction hook keeps with a new payload: every property that holds bytes.
    let mut body = Vec::new();
    string("phone/location", &mut body);
    let list = [(0x26, vec!["unit", "deg"]), (0x03, vec!["application/json"]), (0x08, vec!["phone/replies"]), (0x09, vec!["request-7"])];
    properties(&list, &mut body);
    body.extend_from_slice(br#"{"lat":52.1,"t":1}"#);
    let mut src = BytesMut::from(&framed(0x30, &body)[..]);
    let packet = src.as_ptr() as usize..src.as_ptr() as usize + src.capacity();
    let mut p = match v5::Codec::new(1024, 1024).decode(&mut src).unwrap() {
        Some((v5::Packet::Publish(p), _)) => *p,
        other => panic!("not a PUBLISH: {other:?}"),
    };
    let properties = p.properties.as_mut().expect("MQTT 5 properties");
    own_publish_properties(properties);
    let (user, correlation) = (&properties.user_properties[0], properties.correlation_data.as_ref().unwrap());
    assert_eq!((&user.0[..], &user.1[..], &correlation[..]), ("unit", "deg", &b"request-7"[..]));
    let kept = [
        user.0.as_bytes(),
        user.1.as_bytes(),
        properties.content_type.as_ref().unwrap().as_bytes(),
        properties.response_topic.as_ref().unwrap().as_bytes(),
        &correlation[..],
    ];
    assert!(kept.iter().all(|b| !packet.contains(&(b.as_ptr() as usize))), "a property still shares the PUBLISH's packet");
}

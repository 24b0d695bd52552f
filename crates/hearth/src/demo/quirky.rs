//! Simulated devices whose mDNS is wrong the way real firmware is wrong (see the device
//! reference, §2): one answers the DNS-SD meta-query with an *instance* PTR instead of a type
//! PTR (ESP8266mDNS before esp8266/Arduino#3145), one ignores the meta-query altogether (Zephyr,
//! old Homebridge). mdns-sd answers correctly, so these speak raw DNS (hickory-proto) on their
//! own socket beside it.

use anyhow::{Context, Result};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::{A, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use tokio_util::sync::CancellationToken;

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const PORT: u16 = 5353;
const META: &str = "_services._dns-sd._udp.local.";
/// RFC 6762 §10: 120 s for records naming a host, 75 min for the rest.
const HOST_TTL: u32 = 120;
const OTHER_TTL: u32 = 4500;

/// How a node treats the meta-query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaQuirk {
    /// Answers with its instance name instead of its service type.
    AnswersWithInstance,
    /// Never answers it.
    Ignores,
}

#[derive(Debug, Clone)]
pub struct QuirkyNode {
    pub instance: &'static str,
    pub service_type: &'static str,
    pub host: &'static str,
    pub address: Ipv4Addr,
    pub port: u16,
    pub txt: &'static [&'static str],
    pub quirk: MetaQuirk,
}

/// The quirky part of the simulated home.
pub fn nodes(address: Ipv4Addr) -> Vec<QuirkyNode> {
    vec![
        QuirkyNode {
            instance: "Garage Door Opener",
            service_type: "_arduino._tcp",
            host: "esp-garage-5ccf7f001122",
            address,
            port: 8266,
            txt: &["board=ESP8266_WEMOS_D1MINI", "tcp_check=no", "ssh_upload=no", "auth_upload=yes", "mac=5ccf7f001122"],
            quirk: MetaQuirk::AnswersWithInstance,
        },
        QuirkyNode {
            instance: "awair-elem-1a2b3c",
            service_type: "_http._tcp",
            host: "awair-elem-1a2b3c",
            address,
            port: 80,
            txt: &["vendor=awair", "model=Awair Element"],
            quirk: MetaQuirk::Ignores,
        },
    ]
}

struct Node {
    spec: QuirkyNode,
    ty: Name,
    full: Name,
    host: Name,
}

impl Node {
    fn new(spec: QuirkyNode) -> Result<Self> {
        let ty = Name::from_utf8(format!("{}.local.", spec.service_type))?;
        // Instance names are free text (spaces included), so build the name from raw labels.
        let (service, proto) = spec.service_type.split_once('.').context("a service type is `_name._proto`")?;
        let labels: [&[u8]; 4] = [spec.instance.as_bytes(), service.as_bytes(), proto.as_bytes(), b"local"];
        let full = Name::from_labels(labels)?;
        let host = Name::from_utf8(format!("{}.local.", spec.host))?;
        Ok(Self { spec, ty, full, host })
    }

    fn ptr(&self, ttl: u32) -> Record {
        Record::from_rdata(self.ty.clone(), ttl, RData::PTR(PTR(self.full.clone())))
    }

    fn srv_txt_a(&self, ttl: u32) -> [Record; 3] {
        let txt = TXT::new(self.spec.txt.iter().map(|s| (*s).to_owned()).collect());
        [
            Record::from_rdata(self.full.clone(), ttl.min(HOST_TTL), RData::SRV(SRV::new(0, 0, self.spec.port, self.host.clone()))),
            Record::from_rdata(self.full.clone(), ttl, RData::TXT(txt)),
            Record::from_rdata(self.host.clone(), ttl.min(HOST_TTL), RData::A(A(self.spec.address))),
        ]
    }

    /// The answer to one question, if this node has one.
    fn answer(&self, question: &Name, meta: &Name, response: &mut Message) -> bool {
        if question == meta {
            if self.spec.quirk != MetaQuirk::AnswersWithInstance {
                return false;
            }
            // The bug being simulated: the PTR names the instance, not the service type.
            response.add_answer(Record::from_rdata(meta.clone(), OTHER_TTL, RData::PTR(PTR(self.full.clone()))));
        } else if *question == self.ty {
            response.add_answer(self.ptr(OTHER_TTL));
            response.add_additionals(self.srv_txt_a(OTHER_TTL));
        } else if *question == self.full || *question == self.host {
            response.add_answers(self.srv_txt_a(OTHER_TTL));
        } else {
            return false;
        }
        true
    }
}

/// Answers queries for the quirky nodes until cancelled, then says goodbye (TTL 0).
/// `interface` is the address of the interface to use (inside the test namespace, 10.77.0.2).
pub async fn run(specs: Vec<QuirkyNode>, interface: Ipv4Addr, cancel: CancellationToken) -> Result<()> {
    let nodes = specs.into_iter().map(Node::new).collect::<Result<Vec<_>>>()?;
    let socket = open(interface).context("cannot open the quirky responders' mDNS socket")?;
    let meta = Name::from_utf8(META)?;
    let group = SocketAddr::V4(SocketAddrV4::new(GROUP, PORT));
    // Real devices announce themselves once they are up, whatever the meta-query does.
    for node in &nodes {
        send(&socket, group, node.ptr(OTHER_TTL), node.srv_txt_a(OTHER_TTL)).await;
    }
    let mut buf = vec![0u8; 9000];
    loop {
        let received = tokio::select! {
            () = cancel.cancelled() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let Ok((len, _)) = received else { continue };
        let Ok(query) = Message::from_vec(&buf[..len]) else { continue };
        if query.metadata.message_type != MessageType::Query {
            continue;
        }
        let mut response = Message::response(0, OpCode::Query);
        response.metadata.authoritative = true;
        let mut any = false;
        for q in &query.queries {
            let name = q.name().to_lowercase();
            for node in &nodes {
                any |= node.answer(&name, &meta, &mut response);
            }
        }
        if any && let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, group).await;
        }
    }
    for node in &nodes {
        send(&socket, group, node.ptr(0), node.srv_txt_a(0)).await;
    }
    Ok(())
}

async fn send(socket: &tokio::net::UdpSocket, to: SocketAddr, ptr: Record, rest: [Record; 3]) {
    let mut message = Message::response(0, OpCode::Query);
    message.metadata.authoritative = true;
    message.add_answer(ptr);
    message.add_answers(rest);
    if let Ok(bytes) = message.to_vec() {
        let _ = socket.send_to(&bytes, to).await;
    }
}

/// Port 5353 shared with mdns-sd (SO_REUSEPORT), in the mDNS group on one interface.
fn open(interface: Ipv4Addr) -> Result<tokio::net::UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)).into())?;
    socket.join_multicast_v4(&GROUP, &interface)?;
    socket.set_multicast_if_v4(&interface)?;
    socket.set_nonblocking(true)?;
    Ok(tokio::net::UdpSocket::from_std(socket.into())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_esp8266_node_answers_the_meta_query_with_its_instance() {
        let node = Node::new(nodes(Ipv4Addr::new(10, 77, 0, 2)).remove(0)).unwrap();
        let meta = Name::from_utf8(META).unwrap();
        let mut response = Message::response(0, OpCode::Query);
        assert!(node.answer(&meta, &meta, &mut response));
        let bytes = response.to_vec().unwrap();
        let parsed = Message::from_vec(&bytes).unwrap();
        let RData::PTR(PTR(target)) = &parsed.answers[0].data else { panic!("not a PTR") };
        let labels: Vec<&[u8]> = target.iter().collect();
        assert_eq!(labels, [b"Garage Door Opener".as_ref(), b"_arduino", b"_tcp", b"local"]);
        assert_eq!(hearth_discovery::service_types::type_from_meta_answer(&target.to_utf8()).as_deref(), Some("_arduino._tcp"));
    }

    #[test]
    fn the_zephyr_like_node_ignores_it_but_answers_its_type() {
        let node = Node::new(nodes(Ipv4Addr::new(10, 77, 0, 2)).remove(1)).unwrap();
        let meta = Name::from_utf8(META).unwrap();
        assert!(!node.answer(&meta, &meta, &mut Message::response(0, OpCode::Query)));
        let mut response = Message::response(0, OpCode::Query);
        assert!(node.answer(&Name::from_utf8("_http._tcp.local.").unwrap(), &meta, &mut response));
        assert_eq!(response.answers.len(), 1);
        assert_eq!(response.additionals.len(), 3);
    }
}

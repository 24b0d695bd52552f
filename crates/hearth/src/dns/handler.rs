//! One DNS query: who asked (the client's address, and the neighbour table's MAC for it), what
//! its device may reach ([`crate::network`]), the answer (forwarded, or refused as `0.0.0.0`,
//! `::` or no data with a short TTL, or "no such name" for canary names), the firewall filled
//! before the answer leaves, and a record for the ledger.

use super::limits::ClientLimits;
use super::record::Recorder;
use crate::network::{Client, Network, neighbours::Neighbours};
use hearth_core::network::{Domain, QueryAction};
use hearth_store::network::DnsRecord;
use hickory_resolver::TokioResolver;
use hickory_resolver::net::{DnsError, NetError};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The TTL of a refused answer: short, so that allowing a name takes effect within seconds on
/// the device too, not only in Hearth.
pub const REFUSED_TTL: u32 = 30;
/// Most questions waiting on the upstream at once. Past this a query is answered SERVFAIL at
/// once: a dead upstream must not pile up waiting queries (each holds memory and a socket).
pub const MAX_WAITING: usize = 512;
/// The largest UDP answer Hearth sends (the DNS flag day's 1232), whatever a client offers.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Fills the firewall's set for a device before its answer is sent.
#[async_trait::async_trait]
pub trait AnswerHook: Send + Sync + std::fmt::Debug {
    async fn allow(&self, device: &hearth_core::device::DeviceId, addresses: &[IpAddr], ttl: u32);
}

#[derive(Debug)]
pub struct Handler {
    pub network: Arc<Network>,
    pub resolver: TokioResolver,
    pub limits: Arc<ClientLimits>,
    pub neighbours: Neighbours,
    pub recorder: Recorder,
    pub firewall: Option<Arc<dyn AnswerHook>>,
    pub waiting: Semaphore,
}

impl Handler {
    pub fn new(network: Arc<Network>, resolver: TokioResolver, recorder: Recorder, firewall: Option<Arc<dyn AnswerHook>>) -> Self {
        let limits = Arc::new(ClientLimits::new(network.config.queries_per_second));
        Self { network, resolver, limits, neighbours: Neighbours::default(), recorder, firewall, waiting: Semaphore::new(MAX_WAITING) }
    }
}

/// What was answered, for the record.
struct Sent {
    answers: Vec<String>,
    ttl: Option<u32>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let source = request.src();
        // UDP is limited in `udp::serve`, before parsing; TCP here.
        if request.protocol() != Protocol::Udp && !self.limits.allow(source.ip(), std::time::Instant::now()) {
            // No answer at all: answering a flood (perhaps from a forged source) would make
            // Hearth the flood's amplifier.
            return info(&request.metadata, ResponseCode::Refused);
        }
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.recursion_available = true;
        let edns = response_edns(request);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let refuse_with = |code| {
            let mut meta = meta;
            meta.response_code = code;
            meta
        };
        if request.metadata.op_code != OpCode::Query {
            return send(&mut response, builder.build_no_records(refuse_with(ResponseCode::NotImp)), request).await;
        }
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return send(&mut response, builder.build_no_records(refuse_with(ResponseCode::BADVERS)), request).await;
        }
        let Ok(query) = request.request_info().map(|i| i.query.clone()) else {
            return send(&mut response, builder.build_no_records(refuse_with(ResponseCode::FormErr)), request).await;
        };
        if query.query_class() != DNSClass::IN {
            return send(&mut response, builder.build_no_records(refuse_with(ResponseCode::NotImp)), request).await;
        }
        let qname: Name = query.original().name().clone();
        let qtype = query.query_type();
        let client_ip = crate::network::canonical(source.ip());
        let mac = self.neighbours.mac(client_ip);
        let client = self.network.client(client_ip, mac.as_deref());
        let now = crate::api::now();
        let shown = qname.to_string();
        let domain = Domain::parse(&shown);
        let answer = match &domain {
            Ok(domain) => self.network.answer(&client, domain, now),
            // The root, or bytes no name has: a device gets no data, a person's laptop is forwarded.
            Err(_) if matches!(client, Client::Unknown) => self.network.answer(&client, &root(), now),
            Err(_) => return send(&mut response, builder.build_no_records(meta), request).await,
        };
        let (info, sent) = match answer.decision.action {
            QueryAction::Forward => {
                let device = answer.device.as_ref().map(|(id, _)| id);
                self.forward(&mut response, builder, meta, edns.as_ref(), request, qname, qtype, device).await
            }
            QueryAction::Refuse => {
                let rdata = match qtype {
                    RecordType::A => Some(RData::A(A(Ipv4Addr::UNSPECIFIED))),
                    RecordType::AAAA => Some(RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED))),
                    _ => None,
                };
                let records: Vec<Record> = rdata.into_iter().map(|r| Record::from_rdata(qname.clone(), REFUSED_TTL, r)).collect();
                let info = send_records(&mut response, request, meta, edns.as_ref(), &records, &[]).await;
                (info, Sent { answers: vec![], ttl: Some(REFUSED_TTL) })
            }
            QueryAction::NoSuchName => {
                let info = send(&mut response, builder.build_no_records(refuse_with(ResponseCode::NXDomain)), request).await;
                (info, Sent { answers: vec![], ttl: None })
            }
        };
        if let (Some((device_id, state)), Ok(name)) = (answer.device, domain) {
            self.recorder.record(DnsRecord {
                at: now,
                device_id,
                state,
                registrable: registrable(&name),
                name,
                qtype: qtype.to_string(),
                action: answer.decision.action,
                because: answer.decision.because.code(),
                propose: answer.decision.propose,
                answers: sent.answers,
                ttl: sent.ttl,
                address: client_ip.to_string(),
                mac,
            });
        }
        info
    }
}

impl Handler {
    #[allow(clippy::too_many_arguments)]
    async fn forward<R: ResponseHandler>(
        &self,
        response: &mut R,
        builder: MessageResponseBuilder<'_>,
        mut meta: Metadata,
        edns: Option<&Edns>,
        request: &Request,
        qname: Name,
        qtype: RecordType,
        device: Option<&hearth_core::device::DeviceId>,
    ) -> (ResponseInfo, Sent) {
        let Ok(_permit) = self.waiting.try_acquire() else {
            meta.response_code = ResponseCode::ServFail;
            return (send(response, builder.build_no_records(meta), request).await, Sent { answers: vec![], ttl: None });
        };
        // hickory's own timeout covers one try of one connection; this bounds the whole question.
        // A cached answer is ready at the first poll: only a question that must wait gets a timer
        // (registering one per query cost a tenth of the gate's time under load).
        let mut lookup = std::pin::pin!(self.resolver.lookup(qname, qtype));
        let lookup = match futures_util::poll!(lookup.as_mut()) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => tokio::time::timeout(super::upstream::TIMEOUT, lookup).await.unwrap_or(Err(NetError::Timeout)),
        };
        match lookup {
            Ok(lookup) => {
                let answers = lookup.answers();
                let addresses: Vec<IpAddr> = answers
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })
                    .collect();
                let ttl = answers.iter().map(|r| r.ttl).min();
                if let (Some(firewall), Some(device), false) = (&self.firewall, device, addresses.is_empty()) {
                    // Before the answer leaves: the device connects as soon as it has it.
                    firewall.allow(device, &addresses, ttl.unwrap_or(REFUSED_TTL)).await;
                }
                let info = send_records(response, request, meta, edns, answers, &[]).await;
                (info, Sent { answers: addresses.iter().map(ToString::to_string).collect(), ttl })
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) => {
                meta.response_code = none.response_code;
                let authorities: Vec<Record> = match &none.authorities {
                    Some(records) if !records.is_empty() => records.to_vec(),
                    _ => none.soa.as_ref().map(|soa| soa.as_ref().clone().into_record_of_rdata()).into_iter().collect(),
                };
                let info = send_records(response, request, meta, edns, &[], &authorities).await;
                (info, Sent { answers: vec![], ttl: none.negative_ttl })
            }
            Err(e) => {
                tracing::debug!(target: "hearth::dns", "upstream failed: {e}");
                meta.response_code = ResponseCode::ServFail;
                (send(response, builder.build_no_records(meta), request).await, Sent { answers: vec![], ttl: None })
            }
        }
    }
}

/// The OPT record of an answer: the client's payload size within 512 and 1 232, version 0, its DO bit.
fn response_edns(request: &Request) -> Option<Edns> {
    request.edns.as_ref().map(|theirs| {
        let mut ours = Edns::new();
        ours.set_max_payload(theirs.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        ours.set_version(0);
        ours.set_dnssec_ok(theirs.flags().dnssec_ok);
        ours
    })
}

/// Sends `answers` and `authorities`. Over UDP, `udp::Reply` encodes to the client's size (512
/// bytes without EDNS) and hickory's encoder truncates what does not fit, with the TC flag.
async fn send_records<R: ResponseHandler>(
    response: &mut R,
    request: &Request,
    meta: Metadata,
    edns: Option<&Edns>,
    answers: &[Record],
    authorities: &[Record],
) -> ResponseInfo {
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(edns) = edns {
        builder.edns(edns);
    }
    send(response, builder.build(meta, answers, authorities, &[], &[]), request).await
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    message: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Request,
) -> ResponseInfo {
    match response.send_response(message).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(target: "hearth::dns", client = %request.src(), "cannot send an answer: {e}");
            info(&request.metadata, ResponseCode::ServFail)
        }
    }
}

fn info(request: &Metadata, code: ResponseCode) -> ResponseInfo {
    let mut meta = Metadata::new(request.id, MessageType::Response, request.op_code);
    meta.response_code = code;
    ResponseInfo::from(Header { metadata: meta, counts: HeaderCounts::default() })
}

fn root() -> Domain {
    #[allow(clippy::unwrap_used)] // a constant, valid name
    Domain::parse("root-query.invalid").unwrap()
}

/// The registrable domain (`vendor.co.uk` of `eu.api.vendor.co.uk`), by the public suffix
/// list; the name itself where the list has none (a home name, a bare suffix).
pub fn registrable(name: &Domain) -> String {
    psl::domain_str(name.as_str()).map_or_else(|| name.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        let r = |s| registrable(&Domain::parse(s).unwrap());
        assert_eq!(r("eu.api.vendor.co.uk"), "vendor.co.uk");
        assert_eq!(r("a.b.example.com.au"), "example.com.au");
        assert_eq!(r("cloud.vendor.test"), "vendor.test");
        assert_eq!(r("printer.local"), "printer.local");
    }
}

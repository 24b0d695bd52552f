//! Hearth's own UDP receive loop in front of the handler. hickory-server's spawns a task per
//! datagram with no limit and parses each one first: a flood from one address then queues
//! thousands of tasks ahead of every other device's query (measured here: a device's queries went
//! unanswered for seconds). Here each datagram's source is rate-limited before anything is
//! parsed, at most [`IN_FLIGHT`] queries are handled at once (past that a datagram is dropped,
//! as a full socket buffer would), and answers are encoded to the client's size: 512 bytes
//! without EDNS, what it offers up to 1 232 with it, truncated (TC) beyond.

use super::handler::Handler;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::MessageType;
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Queries handled at once over UDP (each waits at most the upstream's timeout).
pub const IN_FLIGHT: usize = 2_048;
/// The socket's receive buffer: a burst of queries waits here instead of being dropped.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Sends one answer back to the client it came from.
#[derive(Clone, Debug)]
struct Reply {
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    max: u16,
}

#[async_trait::async_trait]
impl ResponseHandler for Reply {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(usize::from(self.max));
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(self.max);
        let info = response.destructive_emit(&mut encoder)?;
        self.socket.send_to(&bytes, self.to).await?;
        Ok(info)
    }
}

/// Binds `socket` to a larger receive buffer where the system allows it.
pub fn widen(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    if let Err(e) = socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::debug!("cannot widen the DNS socket's receive buffer: {e}");
    }
}

/// Receives queries until cancelled.
pub async fn serve(socket: Arc<UdpSocket>, handler: Arc<Handler>, overloaded: Arc<AtomicU64>, cancel: CancellationToken) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut buffer = vec![0u8; 4096];
    loop {
        let (n, from) = tokio::select! {
            () = cancel.cancelled() => break,
            received = socket.recv_from(&mut buffer) => match received {
                Ok(got) => got,
                // An ICMP error for an earlier answer, a signal: the socket itself is fine.
                Err(e) => {
                    tracing::debug!(target: "hearth::dns", "receiving a query: {e}");
                    continue;
                }
            },
        };
        // Shorter than a header, or the source's share used up: dropped before any parsing.
        if n < 12 || !handler.limits.allow(from.ip(), std::time::Instant::now()) {
            continue;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            overloaded.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let bytes = buffer[..n].to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        tokio::spawn(async move {
            let _permit = permit;
            // Not a DNS message: no answer (hickory would send FORMERR; silence costs a forger more).
            let Ok(request) = Request::from_bytes(bytes, from, Protocol::Udp) else { return };
            // Answers are never answered: that is how reflection loops start.
            if request.metadata.message_type != MessageType::Query {
                return;
            }
            let max = request.edns.as_ref().map_or(512, |e| e.max_payload().clamp(512, super::handler::MAX_UDP_PAYLOAD));
            handler.handle_request::<Reply, TokioTime>(&request, Reply { socket, to: from, max }).await;
        });
    }
}

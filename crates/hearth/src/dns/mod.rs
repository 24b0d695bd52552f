//! The DNS gate: Hearth as the home's resolver (when the router hands it out with DHCP option
//! 6), answering each device as its internet level and destination rules say, and recording
//! who asked for what.
//!
//! - [`handler`]: one query, from the client's address to the answer and its record;
//! - [`upstream`]: the resolver it forwards to (cache, EDNS, TCP fallback);
//! - [`udp`]: Hearth's own UDP loop (rate limit before parsing, bounded work in flight);
//! - [`limits`]: the per-client rate limit;
//! - [`record`]: the queue and the task that write the ledger's DNS rows.

pub mod handler;
pub mod limits;
pub mod record;
pub mod udp;
pub mod upstream;

use anyhow::{Result, anyhow};
use handler::{AnswerHook, Handler};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a TCP client may stay silent between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// A running DNS gate.
#[derive(Debug)]
pub struct DnsGate {
    pub addr: SocketAddr,
    /// UDP queries dropped because [`udp::IN_FLIGHT`] were already being answered.
    pub overloaded: Arc<std::sync::atomic::AtomicU64>,
    shutdown: tokio_util::sync::CancellationToken,
}

impl DnsGate {
    /// Listens on `listen` (UDP and TCP) and forwards to `upstream`.
    pub async fn start(
        listen: SocketAddr,
        upstream: &[SocketAddr],
        network: Arc<crate::network::Network>,
        recorder: record::Recorder,
        firewall: Option<Arc<dyn AnswerHook>>,
    ) -> Result<(Self, Arc<limits::ClientLimits>, tokio::task::JoinHandle<()>)> {
        let resolver = upstream::resolver(upstream, listen)?;
        let udp = tokio::net::UdpSocket::bind(listen).await.map_err(|e| bind_error(listen, &e))?;
        let addr = udp.local_addr()?;
        let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|e| bind_error(addr, &e))?;
        let handler = Arc::new(Handler::new(network, resolver, recorder, firewall));
        let limits = handler.limits.clone();
        udp::widen(&udp);
        let shutdown = tokio_util::sync::CancellationToken::new();
        let overloaded = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(udp::serve(Arc::new(udp), handler.clone(), overloaded.clone(), shutdown.clone()));
        // TCP (truncated answers asked again, clients that prefer it) through hickory's listener.
        let mut server = hickory_server::Server::new(Shared(handler));
        server.register_listener(tcp, TCP_IDLE, 32);
        let tcp_shutdown = server.shutdown_token().clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            tcp_shutdown.cancel();
        });
        let task = tokio::spawn(async move {
            if let Err(e) = server.block_until_done().await {
                tracing::error!("the DNS gate stopped: {e}");
            }
        });
        tracing::info!(%addr, "the DNS gate answers devices");
        Ok((Self { addr, overloaded, shutdown }, limits, task))
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// The handler shared between Hearth's UDP loop and hickory's TCP listener.
#[derive(Debug)]
struct Shared(Arc<Handler>);

#[async_trait::async_trait]
impl hickory_server::server::RequestHandler for Shared {
    async fn handle_request<R: hickory_server::server::ResponseHandler, T: hickory_server::net::runtime::Time>(
        &self,
        request: &hickory_server::server::Request,
        response: R,
    ) -> hickory_server::server::ResponseInfo {
        self.0.handle_request::<R, T>(request, response).await
    }
}

/// Port 53 is privileged: say how to grant it rather than only "permission denied".
fn bind_error(listen: SocketAddr, e: &std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => anyhow!(
            "cannot listen on {listen} for DNS: ports below 1024 need a privilege. Grant it to the binary with \
             `sudo setcap cap_net_bind_service=+ep $(command -v hearth)`, or run Hearth with the systemd unit in \
             packaging/hearth.service (AmbientCapabilities=CAP_NET_BIND_SERVICE); never as root"
        ),
        std::io::ErrorKind::AddrInUse => anyhow!(
            "cannot listen on {listen} for DNS: another resolver already listens there (systemd-resolved on 127.0.0.53, dnsmasq, \
             Pi-hole?). Listen on the home-network address only (--dns-listen 192.168.1.2:53) or stop the other resolver"
        ),
        _ => anyhow!("cannot listen on {listen} for DNS: {e}"),
    }
}

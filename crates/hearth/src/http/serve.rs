//! The web server's accept loop: HTTP/1.1 through hyper, over TLS beyond loopback.
//!
//! Not `axum::serve` nor axum-server: both serve through hyper-util's "auto" connection, which
//! first reads bytes to tell HTTP/1 from HTTP/2 and has no timeout for them, so a host on the
//! network could hold a task and a file descriptor with each connection that says nothing. Here
//! every connection has a deadline from its first moment: the TLS handshake, then each
//! request's headers (hyper's header timeout, which also closes a kept-alive connection that
//! sends no next request). Browsers open a new connection when they need one; the live event
//! stream is a WebSocket, an upgraded connection hyper no longer times.

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum_server::tls_rustls::RustlsConfig;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

/// How long a connection may take to finish its TLS handshake, and then each request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long what the hub sent may stay unacknowledged (TCP_USER_TIMEOUT, which Linux applies to
/// zero-window probes too since 5.x): a client that pipelines requests and never reads the
/// answers would otherwise hold its connection with hyper waiting to write. (One that reads a
/// trickle is not caught.)
const UNACKNOWLEDGED_TIMEOUT: Duration = Duration::from_secs(30);
/// hyper's read buffer at most: a request's headers must fit (a browser's, cookie included, are
/// a few KiB), so that an unfinished one costs at most about 64 KiB for its 10 s (hyper checks
/// between reads, and a read may pass the bound), not hyper's default 400 KiB and more.
const MAX_HEADER_BUFFER: usize = 32 * 1024;
/// How long requests still running at shutdown are given.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `cancel`; over TLS when `tls` is given (its certificate may be
/// replaced while serving: each connection takes the current one).
pub async fn serve(listener: TcpListener, tls: Option<RustlsConfig>, app: Router, cancel: CancellationToken) {
    let mut make_service: IntoMakeServiceWithConnectInfo<Router, SocketAddr> = app.into_make_service_with_connect_info();
    let connections = TaskTracker::new();
    let mut last_accept_warning: Option<std::time::Instant> = None;
    loop {
        let (tcp, remote) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // One connection's trouble (reset before it was accepted, or an error pending on
                // it, which accept(2) passes on): the next.
                Err(e) if !out_of_resources(&e) => continue,
                Err(e) => {
                    // Out of descriptors or memory: wait rather than spin, and say so once a minute.
                    if last_accept_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                        last_accept_warning = Some(std::time::Instant::now());
                        tracing::warn!(
                            "the web UI cannot accept connections: {e}. Too many open connections or files (a host on the network opening hundreds a second?): `hearth status` shows the broker's connections; the open-files limit is raised to 16 384 at start, and a lower hard limit (`ulimit -Hn`, or LimitNOFILE= in a systemd unit) caps it. Said once a minute while it lasts."
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let Ok(service) = make_service.call(remote).await;
        connections.spawn(connection(tcp, tls.clone(), TowerToHyperService::new(service), cancel.clone()));
    }
    // No more connections completed by the kernel and never served.
    drop(listener);
    connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), connections.wait()).await;
}

/// Whether accept failed for want of descriptors or memory (the hub's trouble, worth waiting
/// out and saying), rather than for one connection's.
fn out_of_resources(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM].iter().any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

async fn connection<S>(tcp: TcpStream, tls: Option<RustlsConfig>, service: S, cancel: CancellationToken)
where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = tcp.set_nodelay(true);
    let _ = socket2::SockRef::from(&tcp).set_tcp_user_timeout(Some(UNACKNOWLEDGED_TIMEOUT));
    match tls {
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.get_inner());
            match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => http(TokioIo::new(stream), service, cancel).await,
                Ok(Err(e)) => tracing::debug!("web UI TLS handshake failed: {e}"),
                Err(_) => tracing::debug!("web UI TLS handshake timed out"),
            }
        }
        None => http(TokioIo::new(tcp), service, cancel).await,
    }
}

async fn http<I, S>(io: I, service: S, cancel: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = axum::response::Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BUFFER)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(e) = served {
                tracing::debug!("web UI connection ended: {e}");
            }
        }
        () = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}

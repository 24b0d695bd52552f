//! The resolver the DNS gate forwards to: the addresses given (`--dns-upstream`, `[network]
//! dns_upstream`) or this machine's own (`/etc/resolv.conf`). hickory-resolver keeps the cache,
//! speaks EDNS, and retries over TCP when an answer comes back truncated.

use anyhow::{Context, Result, bail};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use std::net::SocketAddr;
use std::time::Duration;

/// How long one upstream question may take: a device waiting longer has given up, and a dead
/// upstream must cost a quick failure, not a pile of waiting queries.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Answers cached (hickory's cache honours each answer's TTL).
const CACHE_ENTRIES: u64 = 16_384;

/// A resolver for `upstream`, or for this machine's resolvers when it is empty. Refuses to
/// forward to the gate itself (`listen`): that would be a loop.
pub fn resolver(upstream: &[SocketAddr], listen: SocketAddr) -> Result<TokioResolver> {
    let config = if upstream.is_empty() {
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .context("reading this machine's resolvers (/etc/resolv.conf); name one with --dns-upstream ADDR")?;
        config
    } else {
        let servers = upstream
            .iter()
            .map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                server
            })
            .collect();
        ResolverConfig::from_parts(None, vec![], servers)
    };
    for server in &config.name_servers {
        let loops = server.connections.iter().any(|c| {
            c.port == listen.port()
                && (server.ip == listen.ip() || (listen.ip().is_unspecified() && (server.ip.is_loopback() || is_local(server.ip))))
        });
        if loops {
            bail!(
                "the DNS gate would forward to itself ({}:{}): name the home's router or another resolver with --dns-upstream ADDR",
                server.ip,
                listen.port()
            );
        }
    }
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.timeout = TIMEOUT;
    options.attempts = 1;
    options.cache_size = CACHE_ENTRIES;
    // Hearth answers what the upstream answers, not this machine's /etc/hosts.
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    builder.build().context("starting the DNS gate's resolver")
}

fn is_local(ip: std::net::IpAddr) -> bool {
    if_addrs::get_if_addrs().unwrap_or_default().iter().any(|i| i.ip() == ip)
}

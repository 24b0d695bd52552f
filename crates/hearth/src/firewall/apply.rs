//! Applying the firewall to this machine: the table replaced in one `nft -f` transaction when
//! the policy changes, each answer's addresses added to its device's set (with a timeout of at
//! least the answer's TTL) before the DNS gate sends the answer, and the table removed on exit.
//! Needs CAP_NET_ADMIN; Hearth checks by applying, and says what failed.

use super::{FirewallDevice, compile, set_name};
use anyhow::{Context, Result, bail};
use hearth_core::device::DeviceId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Added to each answer's TTL: a device may connect a little after its answer's TTL ran out (it
/// resolved just before), and a set element must not expire under an opening connection.
const MARGIN: Duration = Duration::from_secs(60);
/// The longest an answer keeps its addresses open, whatever TTL the name's owner chose.
const MAX_TTL: u32 = 3600;

#[derive(Debug, Default)]
pub struct Firewall {
    dns_port: u16,
    state: Mutex<State>,
    /// Held across every `nft` run: a table replaced while an answer's addresses are added would
    /// lose them (and Hearth would believe them there until their timeout).
    nft: tokio::sync::Mutex<()>,
    /// Time from an answer to its elements being in place, for `hearth status` (last, worst).
    pub timing: Mutex<(Duration, Duration)>,
}

#[derive(Debug, Default)]
struct State {
    /// The text last applied, to skip a re-apply when nothing changed.
    applied: String,
    devices: Vec<FirewallDevice>,
    /// (set, address) → when the element expires.
    elements: HashMap<(String, IpAddr), Instant>,
}

impl Firewall {
    pub fn new(dns_port: u16) -> Self {
        Self { dns_port, ..Self::default() }
    }

    /// Applies the ruleset for `devices` if it differs from what is applied; the sets keep the
    /// addresses they hold (each with the time it has left).
    pub async fn apply(&self, devices: Vec<FirewallDevice>) -> Result<bool> {
        let _running = self.nft.lock().await;
        let text = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            state.elements.retain(|_, until| *until > now);
            let bare = compile::table(&devices, self.dns_port, &|_| vec![]);
            if bare == state.applied {
                return Ok(false);
            }
            state.applied = bare;
            state.devices = devices.clone();
            let elements = state.elements.clone();
            compile::replace(&devices, self.dns_port, &|set| {
                elements
                    .iter()
                    .filter(|((s, _), _)| s == set)
                    .map(|((_, ip), until)| (ip.to_string(), until.saturating_duration_since(now).as_secs()))
                    .collect()
            })
        };
        if let Err(e) = nft(&text).await {
            self.state.lock().unwrap_or_else(|p| p.into_inner()).applied.clear();
            return Err(e);
        }
        Ok(true)
    }

    /// Removes Hearth's table (on exit).
    pub async fn remove(&self) -> Result<()> {
        let _running = self.nft.lock().await;
        nft(&format!("table inet {t}\ndelete table inet {t}\n", t = compile::TABLE)).await
    }

    fn restricted(&self, device: &DeviceId) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.devices.iter().any(|d| &d.id == device && d.enforcement == super::Enforcement::Restricted)
    }

    /// Whether the device is in the applied table.
    pub fn covers(&self, device: &DeviceId) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).devices.iter().any(|d| &d.id == device)
    }
}

#[async_trait::async_trait]
impl crate::dns::handler::AnswerHook for Firewall {
    async fn allow(&self, device: &DeviceId, addresses: &[IpAddr], ttl: u32) {
        if !self.restricted(device) {
            return;
        }
        let started = Instant::now();
        let keep = Duration::from_secs(u64::from(ttl.min(MAX_TTL))) + MARGIN;
        let until = started + keep;
        let fresh_enough = |state: &State, set: &str, ip: &IpAddr| {
            state.elements.get(&(set.to_owned(), *ip)).is_some_and(|known| *known >= until - MARGIN / 2)
        };
        // The usual case (cached answers, addresses already held): no wait for the nft lock.
        {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if addresses.iter().all(|ip| fresh_enough(&state, &set_name(device, ip.is_ipv6()), ip)) {
                return;
            }
        }
        let _running = self.nft.lock().await;
        let mut commands = String::new();
        // Elements Hearth did not believe there before: forgotten again if nft refuses them.
        let mut fresh = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for ip in addresses {
                let set = set_name(device, ip.is_ipv6());
                let element = format!("inet {} {set} {{ {ip} timeout {}s }}", compile::TABLE, keep.as_secs());
                if fresh_enough(&state, &set, ip) {
                    continue;
                }
                match state.elements.get(&(set.clone(), *ip)) {
                    // There, expiring too soon: replaced (older kernels do not refresh a timeout on add).
                    Some(_) => {
                        commands.push_str(&format!("delete element inet {} {set} {{ {ip} }}\nadd element {element}\n", compile::TABLE))
                    }
                    None => {
                        commands.push_str(&format!("add element {element}\n"));
                        fresh.push((set.clone(), *ip));
                    }
                }
                state.elements.insert((set, *ip), until);
            }
        }
        if commands.is_empty() {
            return;
        }
        if let Err(e) = nft(&commands).await {
            // The element Hearth thought was there had expired: add it afresh.
            let retry: String = commands.lines().filter(|l| l.starts_with("add ")).map(|l| format!("{l}\n")).collect();
            if let Err(again) = nft(&retry).await {
                tracing::error!(%device, "cannot add answered addresses to the firewall: {e}; {again}");
                // Not there: the next answer tries again.
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                for key in &fresh {
                    state.elements.remove(key);
                }
            }
        }
        let took = started.elapsed();
        let mut timing = self.timing.lock().unwrap_or_else(|p| p.into_inner());
        *timing = (took, timing.1.max(took));
    }
}

/// Runs `nft -f -` with `text` as one transaction.
async fn nft(text: &str) -> Result<()> {
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running nft (Debian's package nftables)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).await.context("writing to nft")?;
    }
    let out = child.wait_with_output().await.context("waiting for nft")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("Operation not permitted") {
            bail!(
                "nft was refused: applying the firewall needs CAP_NET_ADMIN (the systemd unit's AmbientCapabilities), and Hearth on the home's gateway"
            );
        }
        bail!("nft failed: {}", stderr.trim());
    }
    Ok(())
}

//! The hub's state: the store, the live event stream, and the inventory step that files what
//! discovery reports.

use crate::api::now;
use crate::api::types::{ApiError, DiscoveryStatus, Event, SecretStorage};
use crate::gate::{HubGate, RECORD_QUEUE, Record};
use crate::sessions::Sessions;
use hearth_broker::Broker;
use hearth_core::fingerprint::Fingerprints;
use hearth_discovery::DiscoveryEvent;
use hearth_store::{Filing, SightingOutcome, Store};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// How many events a slow listener may fall behind before it is told to resync. A burst of 500
/// devices announcing at once fits; a stuck browser tab does not hold memory forever.
const EVENT_BUFFER: usize = 2048;

/// How many discovery events the inventory files in one go on its blocking thread.
const INVENTORY_BATCH: usize = 256;

/// A cheap, cloneable handle to the hub.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What devices' discovery messages say they are (see `api::live`).
    self_described: crate::api::live::SelfDescribed,
    /// The latest value of what they say they measure, in memory only (see `readings`).
    readings: crate::readings::Readings,
    /// One connection behind a std Mutex: every use is a short, synchronous SQLite call with no
    /// await while held, so a blocking lock is simpler and faster than an async one.
    store: Mutex<Store>,
    /// A read-only connection for the reviews and exports, so that a long read never holds up
    /// the recorder (absent for an in-memory store: reads then use `store`).
    reader: Option<Mutex<Store>>,
    events: broadcast::Sender<Event>,
    fingerprints: Fingerprints,
    data_dir: PathBuf,
    secret_storage: SecretStorage,
    discovery: Mutex<DiscoveryStatus>,
    gate: Arc<HubGate>,
    /// Announcements of new devices not filed because too many wait for a decision.
    ignored_new: std::sync::atomic::AtomicU64,
    /// Whether the recorder can write (a full disk pauses it).
    recording: Arc<crate::recording::Recording>,
    /// Readers asking the recorder to write what it gathered before they read.
    flushes: crate::recorded::Flushes,
    /// How the previous run of the hub on this data directory ended, found at start.
    last_shutdown: OnceLock<crate::api::types::ShutdownStatus>,
    /// Set once the engine has started the broker (never, with the broker turned off).
    broker: OnceLock<Broker>,
    /// Where devices connect, as shown to people (`10.0.0.2:1883`).
    broker_address: OnceLock<String>,
    /// The same for MQTT over TLS, when it runs, with Hearth's CA certificate (PEM), read once.
    broker_tls: OnceLock<(String, String)>,
    /// Hearth's CA and server certificate, once the engine has loaded them (never without TLS);
    /// the renewal task updates it.
    ca: Mutex<Option<crate::api::types::CaStatus>>,
    /// Browser sessions: live ones in memory, every change written through to the store.
    sessions: Sessions,
    /// Network permissions in memory, for the DNS gate and the firewall.
    network: Arc<crate::network::Network>,
    /// The DNS gate's and the firewall's state, once the engine started them.
    network_status: Mutex<crate::api::types::NetworkServices>,
    /// The DNS gate's counters (rate-limited queries, unwritten records), once it runs.
    dns_counters: OnceLock<(Arc<crate::dns::limits::ClientLimits>, crate::dns::record::Recorder, Arc<std::sync::atomic::AtomicU64>)>,
    /// The firewall, when Hearth applies it on this machine.
    firewall: OnceLock<Arc<crate::firewall::apply::Firewall>>,
    /// Wakes the firewall task when a permission changed.
    firewall_changed: tokio::sync::Notify,
    /// Members, grants, rooms and personal devices, for [`Hub::check`].
    household: crate::family::Household,
    /// What devices last reported on their entities' state topics.
    reported: crate::api::control::Reported,
    /// Refusals and looks written at most once a minute per member, action and subject.
    audit_throttle: crate::family::AuditThrottle,
    /// Passwords hashed at once at most (argon2id takes ~20 ms and 19 MiB each): a flood of
    /// sign-ins queues (or, off the async path, is told to retry) instead of taking every core.
    hashing: Arc<tokio::sync::Semaphore>,
    /// Wrong passwords per address and per member.
    password_limits: Mutex<crate::family::passwords::Limits>,
}

impl Hub {
    /// The hub, and the queue of the gate's decisions for [`crate::recorder::run`].
    pub fn new(
        store: Store,
        data_dir: &Path,
        secret_storage: SecretStorage,
    ) -> Result<(Self, mpsc::Receiver<Record>), hearth_store::StoreError> {
        Self::with_network(store, data_dir, secret_storage, crate::config::NetworkConfig::default())
    }

    /// [`Hub::new`] with the `[network]` settings.
    pub fn with_network(
        store: Store,
        data_dir: &Path,
        secret_storage: SecretStorage,
        network_config: crate::config::NetworkConfig,
    ) -> Result<(Self, mpsc::Receiver<Record>), hearth_store::StoreError> {
        let mut store = store;
        let network = Arc::new(crate::network::Network::new(network_config));
        network.reload(&store)?;
        store.mark_all_offline()?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (records, records_rx) = mpsc::channel(RECORD_QUEUE);
        let gate = Arc::new(HubGate::new(records, events.clone()));
        gate.load(store.policies()?);
        gate.load_claims(store.discovery_claims()?);
        gate.load_redactions(store.all_redactions()?);
        let sessions = Sessions::load(&mut store, now())?;
        let household = crate::family::Household::default();
        household.load(store.family()?);
        household.load_sensitive(crate::family::sensitive_devices(&store)?);
        let reported = crate::api::control::Reported::default();
        reported.watch(store.state_topics()?);
        // What each device describes, read once for both: what it says it is, and its readings.
        let self_described = crate::api::live::SelfDescribed::default();
        let readings = crate::readings::Readings::default();
        for id in store.describing_devices()? {
            let described = store.described(&id)?;
            readings.watch(&id, crate::readings::described(&described));
            self_described.set(&id, described);
        }
        let hub = Self {
            inner: Arc::new(Inner {
                self_described,
                readings,
                reader: store.reader()?.map(Mutex::new),
                store: Mutex::new(store),
                events: events.clone(),
                fingerprints: Fingerprints::builtin(),
                data_dir: data_dir.to_path_buf(),
                secret_storage,
                discovery: Mutex::new(DiscoveryStatus {
                    enabled: false,
                    interfaces: vec![],
                    service_types: vec![],
                    error: None,
                    new_devices_not_filed: 0,
                }),
                gate,
                ignored_new: std::sync::atomic::AtomicU64::new(0),
                recording: Arc::new(crate::recording::Recording::new(events.clone())),
                flushes: crate::recorded::Flushes::default(),
                last_shutdown: OnceLock::new(),
                broker: OnceLock::new(),
                broker_address: OnceLock::new(),
                broker_tls: OnceLock::new(),
                ca: Mutex::new(None),
                sessions,
                network,
                network_status: Mutex::new(crate::api::types::NetworkServices::default()),
                dns_counters: OnceLock::new(),
                firewall: OnceLock::new(),
                firewall_changed: tokio::sync::Notify::new(),
                household,
                reported,
                audit_throttle: crate::family::AuditThrottle::default(),
                hashing: Arc::new(tokio::sync::Semaphore::new(2)),
                password_limits: Mutex::new(crate::family::passwords::Limits::new(std::time::Instant::now())),
            }),
        };
        Ok((hub, records_rx))
    }

    /// Admits MQTT clients without a credential (`[broker] allow_anonymous`): each becomes a new
    /// device in quarantine, pinned to its client id and address. The gate holds only a weak
    /// reference back to the hub.
    pub fn admit_anonymous_clients(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.gate.admit_anonymous(Box::new(move |client_id, address| {
            weak.upgrade().is_some_and(|inner| Hub { inner }.file_anonymous(client_id, address))
        }));
    }

    fn file_anonymous(&self, client_id: &str, address: Option<std::net::IpAddr>) -> bool {
        let mut store = self.store();
        let address = address.map(|a| a.to_string());
        match store.add_anonymous_device(&crate::random::device_id(), client_id, address.as_deref(), now()) {
            Ok(id) => {
                if let Err(e) = self.reload_policies(&store) {
                    tracing::error!("cannot reload the broker's policies: {e}");
                    return false;
                }
                tracing::warn!(%id, client_id, address, "an MQTT client without a credential joined, quarantined as a new device");
                if let Ok(device) = store.device(&id) {
                    self.publish(Event::DeviceSeen { device: device.device });
                }
                true
            }
            Err(e) => {
                tracing::error!(client_id, "cannot file an anonymous MQTT client: {e}");
                false
            }
        }
    }

    pub fn gate(&self) -> Arc<HubGate> {
        self.inner.gate.clone()
    }

    pub(crate) fn recording(&self) -> Arc<crate::recording::Recording> {
        self.inner.recording.clone()
    }

    pub(crate) fn flushes(&self) -> &crate::recorded::Flushes {
        &self.inner.flushes
    }

    /// Waits (on a blocking thread) until the recorder has written every decision, ledger entry
    /// and discovery message queued before now, so that what follows reads them.
    pub(crate) fn wait_recorded(&self) {
        self.inner.flushes.wait_written();
    }

    pub(crate) fn set_last_shutdown(&self, status: crate::api::types::ShutdownStatus) {
        let _ = self.inner.last_shutdown.set(status);
    }

    pub(crate) fn last_shutdown(&self) -> crate::api::types::ShutdownStatus {
        self.inner.last_shutdown.get().cloned().unwrap_or(crate::api::types::ShutdownStatus {
            clean: true,
            database_check: None,
            mqtt_save_failed: false,
        })
    }

    /// `tls`: where MQTT over TLS listens, and the CA certificate (PEM) devices need for it.
    pub(crate) fn set_broker(&self, broker: Broker, address: String, tls: Option<(String, String)>) {
        let _ = self.inner.broker_address.set(address);
        if let Some(tls) = tls {
            let _ = self.inner.broker_tls.set(tls);
        }
        let _ = self.inner.broker.set(broker);
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    pub(crate) fn set_ca_status(&self, status: crate::api::types::CaStatus) {
        *self.inner.ca.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
    }

    pub(crate) fn update_ca_status(&self, change: impl FnOnce(&mut crate::api::types::CaStatus)) {
        if let Some(status) = self.inner.ca.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            change(status);
        }
    }

    pub(crate) fn ca_status(&self) -> Option<crate::api::types::CaStatus> {
        self.inner.ca.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn broker(&self) -> Option<&Broker> {
        self.inner.broker.get()
    }

    pub(crate) fn broker_tls_address(&self) -> Option<String> {
        self.inner.broker_tls.get().map(|(address, _)| address.clone())
    }

    /// Hearth's CA certificate (PEM), for devices that connect over TLS.
    pub(crate) fn ca_pem(&self) -> Option<String> {
        self.inner.broker_tls.get().map(|(_, pem)| pem.clone())
    }

    pub(crate) fn broker_address(&self) -> String {
        self.inner.broker_address.get().cloned().unwrap_or_else(|| "(the broker is off)".into())
    }

    /// Reloads every device's policy, and who describes which entity, into the gate, after a
    /// change a person made. Call with the store lock held (pass its guard), so no other change
    /// slips in between.
    pub(crate) fn reload_policies(&self, store: &Store) -> Result<(), ApiError> {
        self.inner.gate.load(store.policies()?);
        self.inner.gate.load_claims(store.discovery_claims()?);
        self.inner.gate.load_redactions(store.all_redactions()?);
        self.inner.network.reload(store)?;
        self.inner.household.load_sensitive(crate::family::sensitive_devices(store)?);
        self.inner.self_described.load(store)?;
        self.firewall_changed();
        Ok(())
    }

    pub(crate) fn self_described(&self) -> &crate::api::live::SelfDescribed {
        &self.inner.self_described
    }

    pub fn network(&self) -> &Arc<crate::network::Network> {
        &self.inner.network
    }

    pub(crate) fn set_dns_counters(
        &self,
        limits: Arc<crate::dns::limits::ClientLimits>,
        recorder: crate::dns::record::Recorder,
        overloaded: Arc<std::sync::atomic::AtomicU64>,
    ) {
        let _ = self.inner.dns_counters.set((limits, recorder, overloaded));
    }

    /// (rate-limited, unrecorded, rows not kept, MACs refused, dropped for too much in flight)
    pub(crate) fn dns_counters(&self) -> Option<(u64, u64, u64, u64, u64)> {
        self.inner.dns_counters.get().map(|(limits, recorder, overloaded)| {
            let overloaded = overloaded.load(std::sync::atomic::Ordering::Relaxed);
            (limits.dropped(), recorder.dropped(), recorder.not_kept(), recorder.macs_refused(), overloaded)
        })
    }

    pub(crate) fn set_firewall(&self, firewall: Arc<crate::firewall::apply::Firewall>) {
        let _ = self.inner.firewall.set(firewall);
    }

    pub(crate) fn firewall(&self) -> Option<&Arc<crate::firewall::apply::Firewall>> {
        self.inner.firewall.get()
    }

    /// Tells the firewall task that a permission changed.
    pub(crate) fn firewall_changed(&self) {
        self.inner.firewall_changed.notify_one();
    }

    pub(crate) async fn firewall_change(&self) {
        self.inner.firewall_changed.notified().await;
    }

    pub(crate) fn network_services(&self) -> MutexGuard<'_, crate::api::types::NetworkServices> {
        self.inner.network_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // a poisoned lock is safe to keep using.
        self.inner.store.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// The connection for long reads (reviews, exports): its own where the store is a file.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Store> {
        match &self.inner.reader {
            Some(reader) => reader.lock().unwrap_or_else(|poison| poison.into_inner()),
            None => self.store(),
        }
    }

    pub(crate) fn audit_throttle(&self) -> &crate::family::AuditThrottle {
        &self.inner.audit_throttle
    }

    pub(crate) fn hashing(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.hashing
    }

    pub(crate) fn reported(&self) -> &crate::api::control::Reported {
        &self.inner.reported
    }

    pub(crate) fn live_readings(&self) -> &crate::readings::Readings {
        &self.inner.readings
    }

    pub fn household(&self) -> &crate::family::Household {
        &self.inner.household
    }

    pub(crate) fn password_limits(&self) -> MutexGuard<'_, crate::family::passwords::Limits> {
        self.inner.password_limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn publish(&self, event: Event) {
        // Shown as it is now: a device that said goodbye on mDNS but is connected to the broker
        // is still online.
        let event = match event {
            Event::DeviceSeen { device } => Event::DeviceSeen { device: self.live(device) },
            Event::DeviceChanged { device } => Event::DeviceChanged { device: self.live(device) },
            Event::DeviceLost { device } => match self.live(device) {
                device if device.online => Event::DeviceChanged { device },
                device => Event::DeviceLost { device },
            },
            other => other,
        };
        if let Event::DeviceSeen { device } | Event::DeviceChanged { device } = &event {
            self.inner.household.note_kind(&device.id, device.kind);
        }
        // No listener is fine: nobody has the UI open.
        let _ = self.inner.events.send(event);
    }

    /// The live stream of inventory events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn secret_storage(&self) -> &SecretStorage {
        &self.inner.secret_storage
    }

    pub fn discovery_status(&self) -> DiscoveryStatus {
        let mut status = self.inner.discovery.lock().unwrap_or_else(|p| p.into_inner()).clone();
        status.new_devices_not_filed = self.inner.ignored_new.load(std::sync::atomic::Ordering::Relaxed);
        status
    }

    pub fn set_discovery_status(&self, status: DiscoveryStatus) {
        *self.inner.discovery.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Files one discovery event and publishes what changed. Errors are logged, not fatal: one
    /// bad record must not stop discovery of the rest.
    pub fn handle(&self, event: DiscoveryEvent) {
        match event {
            DiscoveryEvent::Seen(sighting) => {
                // Events are published while the store is still locked, so that listeners get
                // them in the order the store applied them (never an older state after a newer).
                let mut store = self.store();
                match store.record_sighting(&sighting, now(), &self.inner.fingerprints, crate::random::device_id) {
                    Ok(Filing::Filed(out)) => self.filed(&store, *out),
                    // Recorded by the store (and logged there): it changes nothing a person sees
                    // in the list, and a flood of them must not flood browsers either.
                    Ok(Filing::Contradiction(_)) => {}
                    Ok(Filing::TooManyUndecided) => {
                        // Once, then counted: a flood must not flood the log.
                        if self.inner.ignored_new.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                            tracing::warn!(
                                max = hearth_store::inventory::MAX_UNDECIDED_DEVICES,
                                "so many devices wait for a decision that new ones are no longer filed; approve, block or forget some"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::error!(service = sighting.service_type, instance = sighting.instance, "cannot record a sighting: {e}")
                    }
                }
            }
            DiscoveryEvent::Gone { service_type, instance } => {
                let mut store = self.store();
                match store.service_gone(&service_type, &instance) {
                    Ok(Some(device)) => {
                        tracing::info!(id = %device.id, name = device.name, "device offline");
                        self.publish(Event::DeviceLost { device });
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(service_type, instance, "cannot record a goodbye: {e}"),
                }
            }
            DiscoveryEvent::TypeFollowed(ty) => {
                let mut status = self.inner.discovery.lock().unwrap_or_else(|p| p.into_inner());
                if !status.service_types.contains(&ty) {
                    status.service_types.push(ty);
                }
            }
            DiscoveryEvent::InterfacesChanged(_) => {}
        }
    }

    /// Publishes what filing one sighting changed. Called with the store locked (see `handle`).
    fn filed(&self, store: &Store, out: SightingOutcome) {
        if !out.absorbed.is_empty() {
            self.after_merge(store, &out.device, &out.absorbed);
        }
        for absorbed in out.absorbed {
            self.publish(Event::DeviceRemoved { id: absorbed, merged_into: Some(out.device.id.clone()) });
        }
        if let Some(left) = out.left {
            self.publish(if left.online { Event::DeviceChanged { device: left } } else { Event::DeviceLost { device: left } });
        }
        if !out.proposed.is_empty() {
            match store.merge_proposals(Some(&out.device.id)) {
                Ok(open) => {
                    for proposal in open.into_iter().filter(|p| out.proposed.iter().any(|o| *o == p.device_a || *o == p.device_b)) {
                        tracing::warn!(a = %proposal.device_a, b = %proposal.device_b, "an announcement says two decided records are one device; asking a person");
                        self.publish(Event::IdentityQuestion { proposal });
                    }
                }
                Err(e) => tracing::error!("cannot read the merge proposals: {e}"),
            }
        }
        if out.created {
            tracing::info!(id = %out.device.id, name = out.device.name, kind = ?out.device.kind, rule = out.device.rule, "new device");
            self.publish(Event::DeviceSeen { device: out.device });
        } else if out.changed {
            self.publish(Event::DeviceChanged { device: out.device });
        }
    }

    /// Two records became one: the broker's policies follow, a credential that went with the
    /// absorbed record (both had one) loses its sessions, and a merged block takes effect.
    pub(crate) fn after_merge(&self, store: &Store, kept: &hearth_core::inventory::Device, absorbed: &[hearth_core::device::DeviceId]) {
        let before: Vec<String> = absorbed.iter().chain([&kept.id]).flat_map(|id| self.gate().usernames_of(id)).collect();
        if let Err(e) = self.reload_policies(store) {
            tracing::error!("cannot reload the broker's policies after a merge: {e}");
        }
        if let Err(e) = self.reload_household(store) {
            tracing::error!("cannot reload the household after a merge: {e}");
        }
        // What the absorbed records described is the kept one's now (or gone): read again.
        for id in absorbed {
            self.live_readings().forget(id);
        }
        match store.described(&kept.id) {
            Ok(filed) => self.live_readings().watch(&kept.id, crate::readings::described(&filed)),
            Err(e) => tracing::error!("cannot read the readings a merged device describes: {e}"),
        }
        let now_valid = self.gate().usernames_of(&kept.id);
        let gone: Vec<String> = before.iter().filter(|u| !now_valid.contains(u)).cloned().collect();
        self.disconnect_usernames(&gone);
        if kept.state == crate::api::types::DeviceState::Blocked {
            self.disconnect_usernames(&now_valid);
            self.clear_retained(&now_valid, None);
        }
    }

    /// Runs the inventory until cancelled or discovery ends, then files what is still queued.
    /// SQLite work runs on a blocking thread, in batches of what arrived together, so that the
    /// async workers serving the API and the broker never wait on the disk.
    pub async fn run_inventory(self, mut rx: mpsc::Receiver<DiscoveryEvent>, cancel: CancellationToken) {
        let mut batch = Vec::with_capacity(INVENTORY_BATCH);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                n = rx.recv_many(&mut batch, INVENTORY_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.handle_batch(std::mem::take(&mut batch)).await;
                }
            }
        }
        rx.close();
        while let Ok(event) = rx.try_recv() {
            batch.push(event);
        }
        self.handle_batch(batch).await;
    }

    async fn handle_batch(&self, batch: Vec<DiscoveryEvent>) {
        let hub = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || batch.into_iter().for_each(|event| hub.handle(event))).await {
            tracing::error!("the inventory failed on a batch of discovery events: {e}");
        }
    }
}

//! The broker side of the command surface: devices added by hand, credentials, manifests and
//! each device's broker view.

use super::limits::{self, ADDRESS_BYTES, CLIENT_ID_BYTES, DEVICE_NAME_CHARS, TOPIC_PATTERN_BYTES};
use super::{now, parse_id};
use crate::api::types::{
    AddedDevice, AnonymousAccess, BrokerView, ClientIdHolder, Concern, CredentialAction, CredentialView, DecisionView, DescribedView,
    Direction, DropReason, Event, IssuedCredential, RetainedView, RuleChoice, RuleStatus, RuleView, SessionView, TopicRule,
    TopicRuleRequest, WaitingView,
};
use crate::api::types::{ApiError, ContestView, DeviceId, EntityClaim};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::credential;
use hearth_core::suggest::HeldRule;
use hearth_core::topic;
use hearth_store::Store;

/// Decisions shown on a device's page.
const RECENT_DECISIONS: u32 = 50;

impl Hub {
    /// Adds a device that does not announce itself (most MQTT-only firmware), approved, with
    /// its first credential.
    pub fn add_device(&self, name: &str, caller: &Caller) -> Result<AddedDevice, ApiError> {
        let name = limits::one_line("name", name, DEVICE_NAME_CHARS)?;
        let id = crate::random::device_id();
        let mut store = self.store();
        store.add_device(&id, name, &caller.actor(), caller.origin, now())?;
        let credential = self.issue(&mut store, &id, caller)?;
        // Read again: it has a credential now (the list says what approving it changes).
        let device = self.live(store.device(&id)?.device);
        tracing::info!(%id, name, origin = caller.origin, "device added by hand");
        self.publish(Event::DeviceSeen { device: device.clone() });
        Ok(AddedDevice { device, credential })
    }

    /// Issues a new secret (disconnecting clients that used the old one) or revokes the
    /// credential (disconnecting the device). Returns the new credential when one was issued.
    pub fn credential(&self, id: &str, action: CredentialAction, caller: &Caller) -> Result<Option<IssuedCredential>, ApiError> {
        let id = parse_id(id)?;
        let mut store = self.store();
        // Known before the change: a revoke removes the credential, and its username with it.
        let usernames = self.gate().usernames_of(&id);
        let issued = match action {
            CredentialAction::Rotate => Some(self.issue(&mut store, &id, caller)?),
            CredentialAction::Revoke => {
                if !store.revoke_credential(&id, &caller.actor(), caller.origin, now())? {
                    return Err(ApiError::bad_request(format!("device {id} has no MQTT credential to revoke")));
                }
                self.reload_policies(&store)?;
                tracing::info!(%id, origin = caller.origin, "MQTT credential revoked");
                None
            }
        };
        self.disconnect_usernames(&usernames);
        self.publish(Event::BrokerChanged { id });
        Ok(issued)
    }

    /// Binds the device's credential to one client id (`None` unbinds): no other client id may
    /// use the credential, and no other device may use the client id. Its clients are
    /// disconnected so that only the bound one reconnects.
    pub fn bind_client_id(&self, id: &str, client_id: Option<&str>, caller: &Caller) -> Result<BrokerView, ApiError> {
        let id = parse_id(id)?;
        let client_id = client_id.map(|c| limits::token("client_id", c, CLIENT_ID_BYTES)).transpose()?;
        let mut store = self.store();
        store.bind_client_id(&id, client_id, &caller.actor(), caller.origin, now())?;
        self.reload_policies(&store)?;
        tracing::info!(%id, client_id, origin = caller.origin, "MQTT client id binding changed");
        self.disconnect(&id);
        if let Some(cid) = client_id {
            self.evict_other_holder(&id, cid);
        }
        self.publish(Event::BrokerChanged { id: id.clone() });
        self.view(&store, &id)
    }

    /// Allows or denies a topic pattern; takes effect on live connections at once. A newly
    /// denied subscription disconnects the device, whose client then subscribes again through
    /// the gate (rmqtt cannot withdraw one subscription of a live session).
    pub fn set_topic_rule(&self, id: &str, request: &TopicRuleRequest, caller: &Caller) -> Result<BrokerView, ApiError> {
        let id = parse_id(id)?;
        let pattern = limits::token("pattern", &request.pattern, TOPIC_PATTERN_BYTES)?;
        if !topic::is_valid_filter(pattern) || pattern.starts_with('$') {
            return Err(ApiError::bad_request(format!(
                "`{pattern}` is not a topic pattern a device may be given: use levels separated by /, `+` for one level, `#` only at the end, and no `$` topics"
            )));
        }
        let status = match request.rule {
            RuleChoice::Allow => RuleStatus::Allowed,
            RuleChoice::Deny => RuleStatus::Denied,
        };
        let rule = TopicRule { direction: request.direction, pattern: pattern.to_owned(), status };
        let mut store = self.store();
        store.set_topic_rule(&id, &rule, &caller.actor(), caller.origin, now())?;
        self.reload_policies(&store)?;
        tracing::info!(%id, direction = rule.direction.as_str(), pattern, status = status.as_str(), origin = caller.origin, "manifest changed");
        if request.direction == Direction::Subscribe && status == RuleStatus::Denied {
            self.disconnect(&id);
        }
        if request.direction == Direction::Publish && status == RuleStatus::Denied {
            // What it retained there before is no longer its to serve.
            self.clear_retained(&self.gate().usernames_of(&id), Some(pattern));
        }
        self.publish(Event::BrokerChanged { id: id.clone() });
        self.tell_devices_with_proposals(&store, &id);
        self.view(&store, &id)
    }

    /// A rule given to (or taken from) one device can make a topic another device tried, or the
    /// prefix its mDNS name proposes, that device's, or no longer: those devices' views change
    /// too (their proposals and warnings), so their pages are told, and only theirs. The rule
    /// is already in force: failing to tell is logged, not the person's error.
    fn tell_devices_with_proposals(&self, store: &Store, changed: &DeviceId) {
        match store.devices_with_proposals() {
            Ok(ids) => ids.into_iter().filter(|id| id != changed).for_each(|id| self.publish(Event::BrokerChanged { id })),
            Err(e) => tracing::warn!("cannot tell other devices' pages of a rule change: {e}"),
        }
    }

    /// The device's credential (never its secret), live sessions, manifest and recent decisions.
    pub fn broker_view(&self, id: &str) -> Result<BrokerView, ApiError> {
        let id = parse_id(id)?;
        let store = self.store();
        self.view(&store, &id)
    }

    fn view(&self, store: &Store, id: &DeviceId) -> Result<BrokerView, ApiError> {
        let credential =
            store.credential(id)?.map(|c| CredentialView { username: c.username, client_id: c.client_id, issued_at: c.issued_at });
        let stored = store.topic_rules(id)?;
        let (tried, decided): (Vec<TopicRule>, Vec<TopicRule>) =
            stored.iter().map(|r| r.rule.clone()).partition(|r| r.status == RuleStatus::Learned);
        // Every other device's decided rules: a proposal never hands out another device's topics.
        let others: Vec<HeldRule> = store
            .policies()?
            .into_iter()
            .filter(|p| p.device_id != *id)
            .flat_map(|p| p.manifest.rules.into_iter().map(move |rule| HeldRule { device: p.device_id.clone(), rule }))
            .collect();
        let mut suggestions = hearth_core::suggest::suggest(&tried, &decided, &others);
        let services = store.device(id)?.device.services;
        let announced: Vec<(&str, &str)> = services.iter().map(|s| (s.service_type.as_str(), s.instance.as_str())).collect();
        hearth_core::suggest::from_services(&announced, &decided, &others, &mut suggestions);
        let mut rules = Vec::with_capacity(stored.len());
        for r in stored {
            let concerns = match r.rule.status {
                RuleStatus::Learned => hearth_core::suggest::held_by(&r.rule, &others)
                    .map(|held| {
                        let name = store.device(&held.device)?.device.name;
                        Ok::<_, ApiError>(Concern { device_id: held.device.clone(), name, owned: held.rule.direction == r.rule.direction })
                    })
                    .transpose()?,
                _ => None,
            };
            rules.push(RuleView {
                direction: r.rule.direction,
                pattern: r.rule.pattern,
                status: r.rule.status,
                since: r.since,
                tries: r.tries,
                last_try: r.last_try,
                concerns,
            });
        }
        let recent = store
            .recent_decisions(id, RECENT_DECISIONS)?
            .into_iter()
            .map(|d| DecisionView {
                at: d.at,
                client_id: d.client_id,
                action: d.action,
                topic: d.topic,
                bytes: d.bytes,
                qos: d.qos,
                decision: d.decision,
            })
            .collect();
        let usernames = self.gate().usernames_of(id);
        let sessions = self
            .broker()
            .map(|b| b.sessions())
            .unwrap_or_default()
            .into_iter()
            .filter(|s| usernames.iter().any(|u| *u == crate::gate::session_key(s)))
            .map(|s| SessionView {
                client_id: s.client_id,
                remote: s.remote.map(|r| r.to_string()),
                protocol: match s.protocol {
                    3 => "3.1",
                    4 => "3.1.1",
                    5 => "5",
                    _ => "unknown",
                }
                .into(),
                connected_at: s.connected_at,
            })
            .collect();
        let connections = store.attempts_of(id)?;
        let anonymous = store.anonymous(id)?.map(|p| AnonymousAccess { client_id: p.client_id, address: p.address });
        let wanted: Vec<String> = credential
            .as_ref()
            .and_then(|c| c.client_id.clone())
            .into_iter()
            .chain(anonymous.as_ref().map(|a| a.client_id.clone()))
            .chain(connections.iter().filter(|c| c.refused == Some(DropReason::ClientIdTaken)).map(|c| c.client_id.clone()))
            .collect();
        let client_id_holders = self.client_id_holders(store, id, wanted)?;
        let retained = self.broker().map(|b| {
            usernames.iter().map(|u| b.retained_use(u)).fold(RetainedView::default(), |sum, u| RetainedView {
                messages: sum.messages + u.messages,
                bytes: sum.bytes + u.bytes,
                refused: sum.refused + u.refused,
            })
        });
        let waiting = self
            .broker()
            .map(|b| {
                let w = b.waiting_for(&usernames);
                let limits = b.queue_limits();
                WaitingView {
                    offline_sessions: w.offline_sessions,
                    messages: w.messages,
                    bytes: w.bytes,
                    dropped: w.dropped,
                    max_messages: limits.0 as u64,
                    max_bytes: limits.1 as u64,
                }
            })
            .unwrap_or_default();
        let mut contested = Vec::new();
        for c in self.gate().contests_of(id) {
            let holder_name = store.device(&c.holder).map(|d| d.device.name).unwrap_or_else(|_| c.holder.to_string());
            contested.push(ContestView { topic: c.topic, claim: c.claim, holder_id: c.holder, holder_name });
        }
        Ok(BrokerView {
            device_id: id.clone(),
            credential,
            sessions,
            rules,
            recent,
            broker: self.broker_address(),
            broker_tls: self.broker_tls_address(),
            ca_pem: self.ca_pem(),
            anonymous,
            suggestions,
            described: described_views(store.described(id)?),
            connections,
            client_id_holders,
            retained: retained.unwrap_or_default(),
            waiting,
            contested,
        })
    }

    fn issue(&self, store: &mut Store, id: &DeviceId, caller: &Caller) -> Result<IssuedCredential, ApiError> {
        let bytes = crate::random::bytes::<{ credential::SECRET_BYTES }>().map_err(|e| ApiError::internal(format!("{e:#}")))?;
        let secret = credential::secret_from_random(&bytes);
        let info = store.set_credential(id, &credential::hash_secret(&secret), &caller.actor(), caller.origin, now())?;
        self.reload_policies(store)?;
        tracing::info!(%id, origin = caller.origin, "MQTT credential issued");
        Ok(IssuedCredential { device_id: id.clone(), username: info.username, password: secret, broker: self.broker_address() })
    }

    /// Disconnects every MQTT session of the device, live or offline (its rights changed under
    /// it). Call before reloading the policies when a credential goes away, so that its username
    /// is still known.
    pub(crate) fn disconnect(&self, id: &DeviceId) {
        self.disconnect_usernames(&self.gate().usernames_of(id));
    }

    /// `usernames` as [`crate::gate::HubGate::usernames_of`] gives them: MQTT usernames, and
    /// `anon:<client id>` for a device let in without a credential.
    pub(crate) fn disconnect_usernames(&self, usernames: &[String]) {
        if let Some(broker) = self.broker() {
            for username in usernames {
                match username.strip_prefix("anon:") {
                    Some(client_id) => broker.disconnect_client(client_id),
                    None => broker.disconnect_user(username),
                }
            }
        }
    }

    /// Lets a device that cannot do credentials in without one, pinned to its client id and,
    /// if given, the address it connects from (`None` ends it). Disconnects its sessions.
    pub fn set_anonymous(&self, id: &str, pin: Option<AnonymousAccess>, caller: &Caller) -> Result<BrokerView, ApiError> {
        let id = parse_id(id)?;
        let pin = match pin {
            Some(p) => {
                let client_id = limits::token("client_id", &p.client_id, CLIENT_ID_BYTES)?.to_owned();
                let address = match &p.address {
                    Some(text) => match limits::token("address", text, ADDRESS_BYTES)?.parse::<std::net::IpAddr>() {
                        Ok(ip) => Some(ip.to_canonical().to_string()),
                        Err(_) => return Err(ApiError::bad_request(format!("`{text}` is not an IP address (like 192.168.1.23)"))),
                    },
                    None => None,
                };
                Some(hearth_store::AnonymousPin { client_id, address })
            }
            None => None,
        };
        let mut store = self.store();
        let before = self.gate().usernames_of(&id);
        store.set_anonymous(&id, pin.as_ref(), &caller.actor(), caller.origin, now())?;
        self.reload_policies(&store)?;
        tracing::info!(%id, client_id = pin.as_ref().map(|p| p.client_id.as_str()), origin = caller.origin, "anonymous access changed");
        self.disconnect_usernames(&before);
        if let Some(pin) = &pin {
            self.evict_other_holder(&id, &pin.client_id);
        }
        self.publish(Event::BrokerChanged { id: id.clone() });
        self.view(&store, &id)
    }

    /// A person gives an entity (by its discovery topic or `unique_id`) to `id`: the device that
    /// described it first loses it, and from now on only `id` may describe it (its next discovery
    /// message, which firmware re-sends, is accepted).
    pub fn give_entity(&self, id: &str, claim: &EntityClaim, caller: &Caller) -> Result<BrokerView, ApiError> {
        let id = parse_id(id)?;
        let value = match claim {
            EntityClaim::Topic(v) | EntityClaim::UniqueId(v) => v,
        };
        crate::api::limits::token("entity", value, crate::api::limits::TOPIC_PATTERN_BYTES)?;
        let mut store = self.store();
        let taken = store.give_entity(&id, claim, &caller.actor(), caller.origin, now())?;
        // The claims the gate made in memory (not filed yet) go too, and what the broker keeps
        // retained of the taken messages (Home Assistant would load them again at each start).
        self.gate().release_claims(claim, &taken);
        self.reload_policies(&store)?;
        for (from, scope) in &taken {
            self.clear_retained(&self.gate().usernames_of(from), Some(scope));
        }
        tracing::info!(%id, taken = taken.len(), claim = %hearth_core::text::clip(&claim.key(), hearth_core::text::LOGGED), origin = caller.origin, "a person gave an entity to a device");
        self.publish(Event::BrokerChanged { id: id.clone() });
        for (from, _) in taken {
            self.publish(Event::BrokerChanged { id: from });
        }
        self.view(&store, &id)
    }

    /// Ends the session (live or offline) of `client_id` when another device holds it: binding
    /// or pinning a client id takes it back at once from whoever squatted it.
    fn evict_other_holder(&self, id: &DeviceId, client_id: &str) {
        let Some(broker) = self.broker() else { return };
        let mine = self.gate().usernames_of(id);
        if let Some(owner) = broker.session_owner(client_id) {
            let key = if owner.username.is_empty() { format!("anon:{client_id}") } else { owner.username };
            if !mine.contains(&key) {
                tracing::info!(%id, client_id = %hearth_core::text::clip(client_id, hearth_core::text::LOGGED), holder = key, "a bound client id was taken back from the session holding it");
                broker.disconnect_client(client_id);
            }
        }
    }

    /// Removes the retained messages `usernames` published (on topics matching `filter`).
    pub(crate) fn clear_retained(&self, usernames: &[String], filter: Option<&str>) {
        if let Some(broker) = self.broker() {
            broker.clear_retained(usernames.to_vec(), filter.map(str::to_owned));
        }
    }

    /// The client ids `id` uses (bound, pinned, or refused as taken) held by another client.
    fn client_id_holders(&self, store: &Store, id: &DeviceId, mut client_ids: Vec<String>) -> Result<Vec<ClientIdHolder>, ApiError> {
        let Some(broker) = self.broker() else { return Ok(vec![]) };
        client_ids.sort();
        client_ids.dedup();
        let mine = self.gate().usernames_of(id);
        let mut holders = Vec::new();
        for client_id in client_ids {
            let Some(owner) = broker.session_owner(&client_id) else { continue };
            let key = if owner.username.is_empty() { format!("anon:{client_id}") } else { owner.username };
            if mine.contains(&key) {
                continue;
            }
            let device_id = self.gate().device_of(&key);
            let name = match &device_id {
                Some(holder) => Some(store.device(holder)?.device.name),
                None => None,
            };
            holders.push(ClientIdHolder { client_id, device_id, name, connected: owner.connected });
        }
        Ok(holders)
    }
}

/// Groups entities under the device each belongs to; those naming no (known) device go last,
/// one group per convention.
fn described_views(on_file: hearth_store::Described) -> Vec<DescribedView> {
    let mut views: Vec<DescribedView> =
        on_file.devices.into_iter().map(|(source, device)| DescribedView { source, device: Some(device), entities: vec![] }).collect();
    let mut loose: Vec<DescribedView> = Vec::new();
    for (source, entity, _) in on_file.entities {
        let owner = entity.described.as_deref().and_then(|key| views.iter().position(|v| v.device.as_ref().is_some_and(|d| d.key == key)));
        match owner {
            Some(i) => views[i].entities.push(entity),
            None => match loose.iter_mut().find(|v| v.source == source) {
                Some(group) => group.entities.push(entity),
                None => loose.push(DescribedView { source, device: None, entities: vec![entity] }),
            },
        }
    }
    views.extend(loose);
    views
}

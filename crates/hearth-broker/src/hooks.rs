//! rmqtt's hooks, translated into [`Gate`] questions and MQTT answers.

use crate::admissions::Admissions;
use crate::live::Sessions;
use crate::persist::Journal;
use crate::{Client, ConnectAttempt, Gate, Refusal, Sender, SessionInfo, WillVerdict};
use async_trait::async_trait;
use hearth_core::gate::Decision;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{AuthResult, FromType, Id, LastWill, Publish, PublishAclResult, QoS, Reason, SubscribeAclResult, TopicName};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) struct GateHooks {
    gate: Arc<dyn Gate>,
    scx: ServerContext,
    sessions: Sessions,
    lost: Arc<AtomicU64>,
    /// The same, per receiving client id.
    drops: Arc<Drops>,
    /// Changes to persistent sessions, for the hub to save (see `persist`).
    journal: Arc<Journal>,
    /// CONNECTs authenticated and not yet connected, with the policy fingerprint each was let
    /// in under, and each credential's connections counted.
    admissions: Arc<Admissions>,
}

impl GateHooks {
    pub(crate) async fn install(
        scx: &ServerContext,
        gate: Arc<dyn Gate>,
        sessions: Sessions,
        lost: Arc<AtomicU64>,
        drops: Arc<Drops>,
        journal: Arc<Journal>,
    ) {
        let register = scx.extends.hook_mgr().register();
        let admissions = Arc::default();
        for hook in [
            Type::ClientAuthenticate,
            Type::ClientSubscribeCheckAcl,
            Type::MessagePublishCheckAcl,
            Type::MessagePublish,
            Type::ClientConnected,
            Type::ClientDisconnected,
            Type::MessageDropped,
            Type::MessageExpiryCheck,
            Type::SessionCreated,
            Type::SessionSubscribed,
            Type::SessionUnsubscribed,
            Type::SessionTerminated,
            Type::OfflineMessage,
        ] {
            let hooks = Self {
                gate: gate.clone(),
                scx: scx.clone(),
                sessions: sessions.clone(),
                lost: lost.clone(),
                drops: drops.clone(),
                journal: journal.clone(),
                admissions: Arc::clone(&admissions),
            };
            register.add(hook, Box::new(hooks)).await;
        }
        // rmqtt registers hooks disabled; without this they are never called and every client
        // would be let in.
        register.start().await;
    }

    /// Offline persistent sessions `username` holds under client ids other than `client_id`: each
    /// is kept a week with its subscriptions and queue, so one credential must not pile them up.
    async fn offline_sessions_of(&self, username: &str, client_id: &str) -> usize {
        let held: Vec<String> = self
            .scx
            .extends
            .shared()
            .await
            .iter()
            .filter_map(|e| e.session().filter(|s| s.id.username.as_deref() == Some(username)).map(|s| s.id.client_id.to_string()))
            .filter(|id| id != client_id)
            .collect();
        let live = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        held.iter().filter(|id| !live.contains(id)).count()
    }

    async fn authenticate(&self, ci: &rmqtt::types::ConnectInfo) -> AuthResult {
        let existing_owner = {
            let entry = self.scx.extends.shared().await.entry(Id::from(self.scx.node.id(), ci.client_id().clone()));
            // An anonymous session is owned by "" (it has no username), so that no credential can
            // take it over either.
            entry.session().map(|s| s.id.username.as_ref().map(ToString::to_string).unwrap_or_default())
        };
        let will_topic = ci.last_will().map(|will| match will {
            LastWill::V3(w) => w.topic.to_string(),
            LastWill::V5(w) => w.topic.to_string(),
        });
        let offline_sessions = match ci.username() {
            Some(username) => self.offline_sessions_of(username, ci.client_id()).await,
            None => 0,
        };
        // Held from here until it is connected or refused, so that a burst of CONNECTs with one
        // credential counts each one before the next is decided.
        let live_connections = self.admissions.reserve(ci.client_id(), ci.ipaddress(), ci.username().map_or("", |u| &**u), &self.sessions);
        let attempt = ConnectAttempt {
            client_id: ci.client_id(),
            username: ci.username().map(|u| &**u),
            password: ci.password().map(|p| &p[..]),
            remote: ci.ipaddress(),
            protocol: ci.proto_ver(),
            will_topic: will_topic.as_deref(),
            existing_owner: existing_owner.as_deref(),
            offline_sessions,
            live_connections,
        };
        match self.gate.connect(&attempt) {
            // Never a superuser: a superuser skips the ACL hooks, and so the gate.
            Ok(admission) => {
                if admission.evict_holder {
                    // A device that is not approved held this client id (it connected first with
                    // another device's id): its session goes, subscriptions and queue, before the
                    // rightful device takes the id, so nothing of the squatter's is handed over.
                    tracing::info!(client_id = %crate::bounded(ci.client_id()), "a client id held by a device that is not approved was taken back");
                    crate::kick_client(&self.scx, ci.client_id()).await;
                    self.journal.session_changed(ci.client_id());
                }
                self.admissions.admitted(attempt.client_id, ci.ipaddress(), admission.fingerprint);
                AuthResult::Allow(false, None)
            }
            Err(refusal) => {
                self.admissions.release(attempt.client_id, ci.ipaddress());
                match refusal {
                    Refusal::BadCredentials => AuthResult::BadUsernameOrPassword,
                    Refusal::NotAuthorized => AuthResult::NotAuthorized,
                }
            }
        }
    }
}

/// Messages dropped on their way to each client id (its queue full), since start.
#[derive(Default)]
pub(crate) struct Drops(Mutex<HashMap<String, u64>>);

/// Client ids counted at most: a flood of short-lived client ids must not grow the map without
/// end (the total in `lost` still counts them all).
const MAX_COUNTED_CLIENTS: usize = 20_000;

impl Drops {
    fn count(&self, client_id: &str) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(client_id) {
            *n += 1;
        } else if counts.len() < MAX_COUNTED_CLIENTS {
            counts.insert(client_id.to_owned(), 1);
        }
    }

    /// The session of `client_id` ended: its count goes with it (a later session with the same
    /// client id starts from nothing, and the map keeps room for new clients).
    fn forget(&self, client_id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(client_id);
    }

    pub(crate) fn of(&self, client_id: &str) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(client_id).copied().unwrap_or(0)
    }
}

thread_local! {
    /// A client id no session can have: longer than the broker accepts.
    static NOBODY: rmqtt::types::ClientId = rmqtt::types::ClientId::from("~".repeat(crate::MAX_CLIENT_ID + 1));
}

/// Whether a shared subscription's name as the client wrote it (`$share/GROUP/FILTER`) is longer
/// than a topic may be. The gate sees its filter, not its group, which the session keeps twice
/// for each of its 64 shared subscriptions (in its table's key and in the options) and the
/// router once more: a group could be 64 KiB. Refused before the gate (0x8F), so not recorded;
/// left out of a restored session too.
pub(crate) fn shared_name_too_long(group: &str, filter: &str) -> bool {
    "$share//".len() + group.len() + filter.len() > hearth_core::topic::MAX_TOPIC_BYTES
}

/// The client of a session; a client let in without a credential has the empty username, and
/// the gate knows it by its client id.
fn client(session: &Session) -> Option<Client<'_>> {
    Some(Client { client_id: &session.id.client_id, username: session.id.username.as_deref().unwrap_or("") })
}

#[async_trait]
impl Handler for GateHooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(ci) => (false, Some(HookResult::AuthResult(self.authenticate(ci).await))),
            Parameter::ClientSubscribeCheckAcl(session, sub) => {
                if sub.opts.shared_group().is_some_and(|group| shared_name_too_long(group, &sub.topic_filter)) {
                    let refused = SubscribeAclResult::new_failure(SubscribeAckReason::TopicFilterInvalid);
                    return (false, Some(HookResult::SubscribeAclResult(refused)));
                }
                let decision = match client(session) {
                    Some(c) => self.gate.subscribe(c, &sub.topic_filter, sub.opts.qos_value()),
                    None => Decision::Drop(hearth_core::gate::DropReason::BadCredentials),
                };
                let result = if decision.is_allow() {
                    SubscribeAclResult::new_success(sub.opts.qos(), None)
                } else {
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let decision = match client(session) {
                    Some(c) => self.gate.publish(c, &publish.topic, &publish.payload, publish.qos.value(), publish.retain),
                    None => Decision::Drop(hearth_core::gate::DropReason::BadCredentials),
                };
                let result = match decision {
                    // Redacted: the MessagePublish hook, which runs first, already rewrote it.
                    Decision::Allow | Decision::Redact(_) => PublishAclResult::allow(),
                    // Not disconnecting: a device that publishes one unlisted topic keeps its
                    // allowed traffic. MQTT 5 clients get 0x87 (Not authorized) with the reason.
                    Decision::Drop(reason) => PublishAclResult::rejected(false, Some(reason.as_str().into())),
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            // A Will, which rmqtt publishes without the publish check and stores when it is
            // retained: the gate decides it now, against its sender's rights of this moment. This
            // hook cannot drop a message (rmqtt publishes the original when no handler answers),
            // so a refused Will loses its retain flag (nothing is stored) and is addressed to a
            // client id no session can have (longer than any client id the broker accepts).
            Parameter::MessagePublish(Some(session), from, publish) if matches!(from.typ(), FromType::LastWill) => {
                let Some(c) = client(session) else { return (true, acc) };
                match self.gate.will(c, &publish.topic, &publish.payload) {
                    WillVerdict::Publish(None) => (true, acc),
                    WillVerdict::Publish(Some(payload)) => (false, Some(HookResult::Publish(redacted(publish, payload)))),
                    WillVerdict::Drop => {
                        let mut dropped = (*publish).clone();
                        dropped.inner.retain = false;
                        dropped.target_clientid = Some(NOBODY.with(Clone::clone));
                        (false, Some(HookResult::Publish(dropped)))
                    }
                }
            }
            // Before the publish check, for every publish: the gate may remove fields a person
            // chose to redact, so that they reach neither subscribers nor the ledger.
            Parameter::MessagePublish(Some(session), _, publish) => {
                // Its id stays pending until the client releases it: saved with the session.
                if publish.qos == QoS::ExactlyOnce {
                    self.journal.qos2_received(&session.id.client_id);
                }
                let rewritten = client(session).and_then(|c| self.gate.rewrite(c, &publish.topic, &publish.payload));
                match rewritten {
                    Some(payload) => (false, Some(HookResult::Publish(redacted(publish, payload)))),
                    None => (true, acc),
                }
            }
            Parameter::ClientConnected(session) => {
                if let Some(c) = client(session) {
                    // The device's rights changed between its authentication and now (a revoke,
                    // rotate, block or binding raced with the CONNECT): close it.
                    let taken = self.admissions.of(c.client_id, session.id.remote_addr);
                    let current = self.gate.fingerprint(c);
                    if taken.is_none_or(|(user, fingerprint)| user != c.username || Some(fingerprint) != current) {
                        let (scx, client_id, journal) = (self.scx.clone(), c.client_id.to_owned(), self.journal.clone());
                        tokio::spawn(async move {
                            crate::kick_client(&scx, &client_id).await;
                            journal.session_changed(&client_id);
                        });
                    }
                    // A resumed session's saved messages are now the live session's (sent, or
                    // queued for it): their saved rows go.
                    if session.session_present().await.unwrap_or(false) {
                        self.journal.taken(c.client_id);
                    }
                    self.journal.session_changed(c.client_id);
                    let info = SessionInfo {
                        client_id: c.client_id.to_owned(),
                        username: c.username.to_owned(),
                        remote: session.id.remote_addr,
                        protocol: session.protocol().await.unwrap_or(0),
                        connected_at: session.connected_at().await.unwrap_or(0),
                    };
                    self.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(info.clone());
                    self.admissions.release(c.client_id, session.id.remote_addr);
                    self.gate.connected(&info);
                }
                (true, acc)
            }
            Parameter::ClientDisconnected(session, _reason) => {
                if let Some(c) = client(session) {
                    let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
                    // A reconnect with the same client id replaces the entry before the old
                    // connection's disconnect arrives: remove only the connection that ended.
                    if sessions.get(c.client_id).is_some_and(|s| s.remote == session.id.remote_addr) {
                        sessions.remove(c.client_id);
                    }
                    drop(sessions);
                    self.journal.session_changed(c.client_id);
                    self.gate.disconnected(c);
                }
                (true, acc)
            }
            // Every delivery, just before it is sent: rmqtt's only per-receiver hook. Expiring
            // the message is how a delivery is refused.
            Parameter::MessageExpiryCheck(session, from, publish) => {
                let allowed = client(session).is_some_and(|receiver| {
                    let sender = Sender {
                        client_id: &from.id.client_id,
                        username: from.id.username.as_deref(),
                        published_at: publish.create_time,
                        retained: publish.retain,
                        from_hub: matches!(from.typ(), FromType::System),
                    };
                    self.gate.deliver(receiver, sender, &publish.topic)
                });
                if allowed { (true, acc) } else { (false, Some(HookResult::MessageExpiry)) }
            }
            // A message the broker accepted but could not deliver: a subscriber's queue was
            // full (rmqtt then drops the oldest), or its inflight window overflowed. Counted and
            // shown. (Refusals by the gate also arrive here, as expirations, and are not losses.)
            // A session started afresh: what was saved for its client id before is not its own.
            Parameter::SessionCreated(session) => {
                self.drops.forget(&session.id.client_id);
                self.journal.taken(&session.id.client_id);
                self.journal.session_changed(&session.id.client_id);
                (true, acc)
            }
            Parameter::SessionTerminated(session, _) => {
                self.drops.forget(&session.id.client_id);
                self.journal.session_changed(&session.id.client_id);
                (true, acc)
            }
            Parameter::SessionSubscribed(session, _) | Parameter::SessionUnsubscribed(session, _) => {
                self.journal.session_changed(&session.id.client_id);
                (true, acc)
            }
            // Queued for an offline persistent session: saved, so that it outlives a restart.
            Parameter::OfflineMessage(session, from, publish) => {
                self.journal.queued(session, from, publish);
                (true, acc)
            }
            Parameter::MessageDropped(to, _, _, Reason::MessageQueueFull | Reason::InflightWindowFull) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                if let Some(to) = to {
                    self.drops.count(&to.client_id);
                }
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}

/// `publish` with the redacted `payload`, sharing nothing with the packet it came in. The topic
/// and MQTT 5 properties are slices of that packet, which holds the original payload, the
/// redacted fields included: kept in what waits (a queue, the retained store), they kept the
/// whole packet, counted for what was left of it. (A Will's fields are copies already; this
/// costs it a copy of its topic.)
fn redacted(publish: &Publish, payload: Vec<u8>) -> Publish {
    let mut redacted = publish.clone();
    redacted.inner.topic = TopicName::from(&*publish.topic);
    // Exactly its length: a rewritten payload's vector may have twice the room it filled (UTF-16,
    // a compressed body), which `Bytes` would keep while the queue counts the length.
    redacted.inner.payload = payload.into_boxed_slice().into();
    if let Some(properties) = redacted.inner.properties.as_mut() {
        rmqtt::net::own_publish_properties(properties);
    }
    redacted
}

//! Clients without a credential: a device a person pinned to its client id (and address), or,
//! when the home admits anonymous clients (`[broker] allow_anonymous`), a new quarantined device.

use super::{HubGate, anonymous_key, fingerprint};
use crate::api::types::{DeviceState, DropReason};
use hearth_broker::{Admission, ConnectAttempt, Refusal};
use hearth_core::gate;
use hearth_core::text::{LOGGED, clip};

/// Creates the quarantined device of an anonymous client (and reloads the policies), when the
/// home admits anonymous clients. Set by the hub, which owns the store.
pub type AnonymousHandler = Box<dyn Fn(&str, Option<std::net::IpAddr>) -> bool + Send + Sync>;

/// New anonymous devices admitted per minute in migration mode, at most.
const NEW_ANONYMOUS_PER_MINUTE: u32 = 30;

impl HubGate {
    /// At most [`NEW_ANONYMOUS_PER_MINUTE`] anonymous clients become devices per minute: cycling
    /// through client ids must not fill the inventory or keep the store busy.
    fn new_anonymous_allowed(&self) -> bool {
        let mut window = self.anonymous_window.lock().unwrap_or_else(|p| p.into_inner());
        if window.0.elapsed() > std::time::Duration::from_secs(60) {
            *window = (std::time::Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= NEW_ANONYMOUS_PER_MINUTE
    }

    /// Admits anonymous clients from now on, each filed by `handler` as a new device.
    pub fn admit_anonymous(&self, handler: AnonymousHandler) {
        let _ = self.admit_anonymous.set(handler);
    }

    /// A client without a credential: a device pinned to its client id (and address) by a person,
    /// or, when the home admits anonymous clients, a new quarantined device.
    pub(super) fn connect_anonymous(&self, a: &ConnectAttempt<'_>) -> Result<Admission, Refusal> {
        let key = anonymous_key(a.client_id);
        let (known, bound_to_credential) = {
            let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
            (policies.by_key.contains_key(&key), policies.bound_client_ids.get(a.client_id).is_some_and(|owner| *owner != key))
        };
        // A client id bound to a device's credential is that device's: never filed or admitted
        // as someone else's anonymous device.
        if bound_to_credential {
            return Err(self.refuse_connect(None, a, DropReason::ClientIdTaken));
        }
        if !known {
            let Some(handler) = self.admit_anonymous.get() else {
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            };
            if !self.new_anonymous_allowed() {
                tracing::warn!(client_id = %clip(a.client_id, LOGGED), "too many new anonymous MQTT clients this minute; refused");
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            }
            // Filing the device writes to the store: let the broker's runtime move its other work
            // to the remaining worker meanwhile (the broker runs on a multi-threaded runtime).
            let filed = tokio::task::block_in_place(|| handler(a.client_id, a.remote.map(|r| r.ip().to_canonical())));
            if !filed {
                return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
            }
        }
        let policies = self.policies.read().unwrap_or_else(|p| p.into_inner());
        let Some(policy) = policies.by_key.get(&key) else {
            drop(policies);
            return Err(self.refuse_connect(None, a, DropReason::BadCredentials));
        };
        let device = policy.device_id.clone();
        let pinned_elsewhere = policy
            .anonymous
            .as_ref()
            .and_then(|p| p.address.as_deref())
            .is_some_and(|pinned| a.remote.is_none_or(|r| pinned.parse::<std::net::IpAddr>().ok() != Some(r.ip().to_canonical())));
        // A session under this client id held with a credential is that device's, unless it is a
        // device nobody approved and this pinned one is approved (see the credentialed path).
        let held_by_other = a.existing_owner.is_some_and(|owner| !owner.is_empty());
        let evict_holder = held_by_other
            && policy.state == DeviceState::Approved
            && a.existing_owner.is_some_and(|owner| Self::gives_way(&policies, owner, a.client_id));
        let refusal = if policy.state == DeviceState::Blocked {
            Some(DropReason::Blocked)
        } else if pinned_elsewhere || (held_by_other && !evict_holder) {
            Some(DropReason::ClientIdTaken)
        } else {
            None
        };
        let will = a.will_topic.map(|topic| gate::publish(policy.state, &policy.manifest, topic));
        let refusal = refusal.or_else(|| Self::will_refusal(a));
        let admission = Admission { fingerprint: fingerprint(policy), evict_holder };
        drop(policies);
        self.conclude(a, &device, refusal, will, admission)
    }
}

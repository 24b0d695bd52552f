//! How long a client may stay silent (its keep alive), as Hearth grants it.
//!
//! A device that never sends anything and asked for no keep alive (0) would hold its session and
//! socket forever after its network went away (a half-open TCP connection is never noticed), so
//! an MQTT 5 client asking for 0 or for more than [`crate::MAX_KEEPALIVE`] is given that maximum
//! and told so in the CONNACK's Server Keep Alive, as Mosquitto's `max_keepalive` does. MQTT 3
//! has no way to tell a client, and refusing it (rmqtt's default, and Mosquitto's) would lock out
//! firmware that cannot be changed: an MQTT 3 client keeps the keep alive it asked for.

use async_trait::async_trait;
use rmqtt::codec::types::{MQTT_LEVEL_5, Publish};
use rmqtt::fitter::{DefaultFitter, Fitter, FitterManager};
use rmqtt::types::{ConnectInfo, Disconnect, FitterType, Id, ListenerConfig};
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct HearthFitters;

impl FitterManager for HearthFitters {
    fn create(&self, conn_info: Arc<ConnectInfo>, id: Id, cfg: ListenerConfig) -> FitterType {
        Arc::new(KeepAliveCap {
            v5: conn_info.proto_ver() == MQTT_LEVEL_5,
            max: cfg.max_keepalive,
            backoff: cfg.keepalive_backoff,
            inner: DefaultFitter::new(conn_info, id, cfg),
        })
    }
}

struct KeepAliveCap {
    v5: bool,
    max: u16,
    backoff: f32,
    inner: DefaultFitter,
}

#[async_trait]
impl Fitter for KeepAliveCap {
    /// Sets the keep alive granted (the CONNACK says it to an MQTT 5 client when it differs) and
    /// returns how long a silent connection is kept, in seconds.
    fn keep_alive(&self, keep_alive: &mut u16) -> rmqtt::Result<u16> {
        if self.v5 && *keep_alive == 0 {
            *keep_alive = self.max;
        }
        if !self.v5 && *keep_alive > self.max {
            // rmqtt's own rule for the wait (one and a half keep alives by default).
            return Ok((f32::from(*keep_alive) * self.backoff * 2.0) as u16);
        }
        self.inner.keep_alive(keep_alive)
    }

    fn max_mqueue_len(&self) -> usize {
        self.inner.max_mqueue_len()
    }

    fn mqueue_rate_limit(&self) -> (NonZeroU32, Duration) {
        self.inner.mqueue_rate_limit()
    }

    fn max_inflight(&self) -> NonZeroU16 {
        self.inner.max_inflight()
    }

    fn session_expiry_interval(&self, d: Option<&Disconnect>) -> Duration {
        self.inner.session_expiry_interval(d)
    }

    fn message_expiry_interval(&self, publish: &Publish) -> Duration {
        self.inner.message_expiry_interval(publish)
    }

    fn max_client_topic_aliases(&self) -> u16 {
        self.inner.max_client_topic_aliases()
    }

    fn max_server_topic_aliases(&self) -> u16 {
        self.inner.max_server_topic_aliases()
    }
}

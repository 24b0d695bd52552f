//! Shared subscriptions (`$share/GROUP/FILTER`, MQTT 5): each message goes to one member of the
//! group. rmqtt routes them but leaves the choice to the embedder (its default supports none).
//!
//! The filter after the group is what the gate decides on at SUBSCRIBE, like any subscription.
//! Here the members are taken in turn, skipping those offline and those the gate would not let
//! receive the message now (a member whose device was blocked or denied the topic since it
//! subscribed), so that one such member does not swallow its share of the messages; the gate
//! still decides the delivery itself.

use crate::{Client, Gate};
use async_trait::async_trait;
use rmqtt::context::ServerContext;
use rmqtt::subscribe::SharedSubscription;
use rmqtt::types::{ClientId, Id, IsOnline, NodeId, SharedGroup, SubscriptionIdentifier, SubscriptionOptions, TopicName};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct TakeTurns {
    gate: Arc<dyn Gate>,
    /// Advanced once per message: consecutive messages go to consecutive members.
    turn: AtomicUsize,
}

impl TakeTurns {
    pub(crate) fn new(gate: Arc<dyn Gate>) -> Self {
        Self { gate, turn: AtomicUsize::new(0) }
    }
}

type Member = (NodeId, ClientId, SubscriptionOptions, Option<Vec<SubscriptionIdentifier>>, Option<IsOnline>);

#[async_trait]
impl SharedSubscription for TakeTurns {
    fn is_supported(&self) -> bool {
        true
    }

    async fn choice(
        &self,
        scx: &ServerContext,
        _group: &SharedGroup,
        _publisher: &Id,
        topic: &TopicName,
        members: &[Member],
    ) -> Option<(usize, IsOnline)> {
        if members.is_empty() {
            return None;
        }
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let shared = scx.extends.shared().await;
        let may_receive = |(_, client_id, _, _, _): &Member| {
            let username = shared.entry(Id::from(scx.node.id(), client_id.clone())).session().and_then(|s| s.id.username.clone());
            self.gate.may_receive(Client { client_id, username: username.as_deref().unwrap_or("") }, topic)
        };
        let turn = |k: usize| (start + k) % members.len();
        // An online member that may receive it; else any online one; else the first in turn
        // (its session queues the message until it is back).
        let online = |i: usize| members[i].4.unwrap_or(false);
        let chosen = (0..members.len())
            .map(turn)
            .find(|&i| online(i) && may_receive(&members[i]))
            .or_else(|| (0..members.len()).map(turn).find(|&i| online(i)))
            .unwrap_or_else(|| turn(0));
        Some((chosen, online(chosen)))
    }
}

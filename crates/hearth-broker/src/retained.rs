//! Retained messages: rmqtt's own in-memory topic trie, held to limits per publisher and in
//! total (in bytes and messages, with what was refused counted), and cleared when a person takes
//! a publisher's rights away.
//!
//! rmqtt stores a retained message only after the publish check passed (a Will, which skips that
//! check, is decided by the gate in the `MessagePublish` hook first: one its sender may not
//! publish loses its retain flag there), so every message that reaches [`Retained::set`] was
//! allowed when it was published. Who published it is its *owner*: the MQTT username (a device
//! id), or `anon:<client id>` for a device let in without a credential, as the gate keys them.
//!
//! Past a limit the new message is delivered but not stored, and the one it would have replaced
//! stays. Deleting (an empty retained payload) is always allowed, so a full store can still shrink
//! (rmqtt-retainer's own count limit refuses that too, which is why it is not used).
//!
//! A message with MQTT 5's message expiry interval is kept until it runs out, counted from when
//! it was published (across a restart too: it is saved with that time), then removed with its
//! saved row, so that it stops counting against its publisher's limits ([`Retained::expire`]).

use crate::persist::{self, Journal};
use hearth_core::mqtt_state::{SavedRetained, Waiting};
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::types::{From, Retain, TopicFilter, TopicName};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How much retained state one publisher, and the whole home, may hold. A Zigbee2MQTT bridge with
/// a hundred devices retains about 300 KB (its device list, each device's state, Home Assistant
/// discovery for each entity), counted about 700 KB with its topics' levels
/// (`RETAINED_LEVEL_BYTES`); the defaults leave six times that per device.
#[derive(Debug, Clone, Copy)]
pub struct RetainedLimits {
    pub per_owner_bytes: usize,
    pub per_owner_messages: usize,
    pub total_bytes: usize,
}

impl Default for RetainedLimits {
    fn default() -> Self {
        Self { per_owner_bytes: 4 * 1024 * 1024, per_owner_messages: 10_000, total_bytes: 64 * 1024 * 1024 }
    }
}

/// What one publisher holds, and what it was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetainedUse {
    pub messages: u64,
    pub bytes: u64,
    /// Retained messages delivered but not stored because a limit was reached.
    pub refused: u64,
}

/// The key the gate knows a publisher by: its username, or `anon:<client id>` without one.
pub(crate) fn owner_of(from: &From) -> String {
    match from.id.username.as_deref().filter(|u| !u.is_empty()) {
        Some(username) => username.to_owned(),
        None => format!("anon:{}", from.id.client_id),
    }
}

/// When a message with MQTT 5's message expiry interval runs out: the time it was published
/// (milliseconds since the Unix epoch; now, if the engine did not note it) plus its interval.
fn expires_at(publish: &rmqtt::types::Publish) -> Option<i64> {
    let interval = publish.properties.as_ref()?.message_expiry_interval?;
    let published = publish.create_time.unwrap_or_else(rmqtt::utils::timestamp_millis);
    Some(published.saturating_add(i64::from(interval.get()) * 1000))
}

/// What each level of a retained message's topic is counted for beside its bytes: a node of
/// rmqtt's retained tree holds about this much when no other retained topic shares it (400
/// messages of 511 levels grew the hub 20.4 MiB, 105 bytes a level). Counted for every level,
/// shared or not, so that a publisher's share bounds what the tree holds for it: counted by
/// their bytes alone, those 400 messages were 400 KB and held 183 MiB (rmqtt's nodes were nine
/// times larger before its change 43); a device's 4 MiB of them would have held 1.8 GiB.
const RETAINED_LEVEL_BYTES: usize = 100;

/// What a retained message on `topic` is counted for: what it holds in memory, its properties
/// too (the weight a queue counts), and a node of the retained tree for each level.
fn retained_bytes(topic: &str, publish: &rmqtt::types::Publish) -> usize {
    rmqtt::types::message_bytes(publish) + rmqtt::types::filter_levels(topic) * RETAINED_LEVEL_BYTES
}

/// What became of a retained message given to the store.
enum Stored {
    Kept,
    /// Over its publisher's limit or the home's (its publisher's books key).
    Refused(String),
    /// An empty payload, or a message whose time ran out: what the topic held is gone.
    Cleared,
}

/// What the books know of one stored topic.
struct Held {
    owner: String,
    /// `retained_bytes`: its topic, payload, properties and levels.
    bytes: usize,
    expires_at: Option<i64>,
}

#[derive(Default)]
struct Books {
    by_topic: HashMap<String, Held>,
    by_owner: HashMap<String, RetainedUse>,
    total_bytes: usize,
    /// The stored topics that expire, soonest first.
    expiring: BTreeSet<(i64, String)>,
}

impl Books {
    fn forget_topic(&mut self, topic: &str) {
        if let Some(Held { owner, bytes, expires_at }) = self.by_topic.remove(topic) {
            if let Some(at) = expires_at {
                self.expiring.remove(&(at, topic.to_owned()));
            }
            self.total_bytes -= bytes;
            if let Some(used) = self.by_owner.get_mut(&owner) {
                used.messages -= 1;
                used.bytes -= bytes as u64;
                if *used == RetainedUse::default() {
                    self.by_owner.remove(&owner);
                }
            }
        }
    }
}

pub(crate) struct Retained {
    store: DefaultRetainStorage,
    /// Held across each change (a store, a purge), so that the books and the store change
    /// together: two publishers of one topic, or a purge meeting a store, cannot leave the books
    /// naming the wrong owner.
    changing: tokio::sync::Mutex<()>,
    /// A std mutex: held only for bookkeeping, never across an await.
    books: Mutex<Books>,
    limits: RetainedLimits,
    refused: AtomicU64,
    /// Where each change is noted for the hub to save (see `persist`).
    journal: Arc<Journal>,
}

impl Retained {
    pub(crate) fn new(limits: RetainedLimits, journal: Arc<Journal>) -> Self {
        Self {
            store: DefaultRetainStorage::new(),
            changing: tokio::sync::Mutex::new(()),
            books: Mutex::default(),
            limits,
            refused: AtomicU64::new(0),
            journal,
        }
    }

    /// Puts back retained messages saved before a restart, held to the limits of now (a message
    /// over a lowered limit is left out, and its saved row cleared). Returns how many.
    pub(crate) async fn restore(&self, saved: Vec<SavedRetained>, scx: &rmqtt::context::ServerContext, gate: &dyn crate::Gate) -> usize {
        let mut kept = 0;
        let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
        for row in saved {
            // A publisher that is gone (forgotten, its credential revoked) keeps nothing; the rest
            // with their publisher's redactions of now (see `persist::redacted_again`).
            let publisher =
                crate::Client { client_id: &row.message.sender_client_id, username: row.message.sender_username.as_deref().unwrap_or("") };
            let gone = row.message.sender_kind != hearth_core::mqtt_state::SenderKind::Hub && gate.fingerprint(publisher).is_none();
            let message = if gone { None } else { persist::redacted_again(gate, row.message.clone()) };
            let Some(message) = message else {
                self.journal.retained(&row.topic, None);
                continue;
            };
            let (from, publish) = persist::engine_message(scx, &message);
            let topic = TopicName::from(row.topic.as_str());
            match self.store_one(&topic, Retain { msg_id: None, from, publish }, false).await {
                Ok(Stored::Kept) => kept += 1,
                Ok(Stored::Refused(owner)) => {
                    *left_out.entry(owner).or_default() += 1;
                    self.journal.retained(&row.topic, None);
                }
                Ok(Stored::Cleared) | Err(_) => self.journal.retained(&row.topic, None),
            }
        }
        // Over a limit as counted now: a lowered one, or each level of a topic counting since
        // rmqtt change 43. One line a publisher (as many as there are devices).
        for (owner, count) in left_out {
            tracing::warn!(owner = %crate::bounded(&owner), left_out = count, "retained messages saved before the restart are over their publisher's limit or the home's, and were not put back");
        }
        kept
    }

    /// Every retained message held, for a clean shutdown.
    pub(crate) async fn snapshot(&self) -> Vec<SavedRetained> {
        let all = self.store.get_message(&TopicFilter::from("#")).await.unwrap_or_default();
        all.into_iter()
            .map(|(topic, r)| SavedRetained {
                topic: topic.to_string(),
                message: persist::saved_message(&r.from, &r.publish, Waiting::Queued, None),
            })
            .collect()
    }

    /// Stores (or, for an empty payload or a message whose time ran out, clears) `topic`'s
    /// retained message within the limits, noting the change in the journal when `journal` is
    /// set (not while restoring, which also leaves a refusal out of its publisher's books).
    async fn store_one(&self, topic: &TopicName, retain: Retain, journal: bool) -> rmqtt::Result<Stored> {
        let _changing = self.changing.lock().await;
        let expires_at = expires_at(&retain.publish);
        let now = rmqtt::utils::timestamp_millis();
        // One whose time ran out (saved before a restart that outlasted it) replaces what was
        // there, then is gone: as a deletion.
        if retain.publish.payload.is_empty() || expires_at.is_some_and(|at| at <= now) {
            // rmqtt's store deletes a topic given an empty payload.
            let mut deletion = retain;
            deletion.publish.payload = Default::default();
            self.store.set_with_timeout(topic, deletion, None).await?;
            let held = self.books().by_topic.contains_key(&**topic);
            self.books().forget_topic(topic);
            // Only a topic that held one: clearing nothing over and over must not flood the save.
            if journal && held {
                self.journal.retained(topic, None);
            }
            return Ok(Stored::Cleared);
        }
        let owner = owner_of(&retain.from);
        let bytes = retained_bytes(topic, &retain.publish);
        {
            let mut books = self.books();
            if !self.fits(&books, topic, &owner, bytes) {
                // A restore delivers nothing: it says what it left out itself.
                if !journal {
                    return Ok(Stored::Refused(owner));
                }
                self.refused.fetch_add(1, Ordering::Relaxed);
                let used = books.by_owner.entry(owner.clone()).or_default();
                used.refused += 1;
                // Once per publisher until it is cleared: a flood must not flood the log.
                if used.refused == 1 {
                    tracing::warn!(owner = %crate::bounded(&owner), "retained messages over their limit are delivered but not kept");
                }
                return Ok(Stored::Refused(owner));
            }
        }
        if journal {
            let saved = SavedRetained {
                topic: topic.to_string(),
                message: persist::saved_message(&retain.from, &retain.publish, Waiting::Queued, None),
            };
            self.journal.retained(topic, Some(saved));
        }
        // No timeout in rmqtt's store, whose clock is the monotonic one: one clock, the wall
        // clock (which the time saved across a restart needs), decides. Delivery leaves an expired
        // message out (rmqtt change 26), and `expire` takes it out of the store about a second later.
        self.store.set_with_timeout(topic, retain, None).await?;
        let mut books = self.books();
        books.forget_topic(topic);
        books.by_topic.insert(topic.to_string(), Held { owner: owner.clone(), bytes, expires_at });
        if let Some(at) = expires_at {
            books.expiring.insert((at, topic.to_string()));
        }
        books.total_bytes += bytes;
        let used = books.by_owner.entry(owner).or_default();
        used.messages += 1;
        used.bytes += bytes as u64;
        Ok(Stored::Kept)
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `owner` may store `bytes` on `topic` (replacing what is there).
    fn fits(&self, books: &Books, topic: &str, owner: &str, bytes: usize) -> bool {
        let replaced = books.by_topic.get(topic).map_or(0, |held| held.bytes);
        let used = books.by_owner.get(owner).copied().unwrap_or_default();
        let (own_bytes, own_messages) = match books.by_topic.get(topic) {
            Some(held) if held.owner == owner => (used.bytes as usize - held.bytes, used.messages as usize - 1),
            _ => (used.bytes as usize, used.messages as usize),
        };
        own_bytes + bytes <= self.limits.per_owner_bytes
            && own_messages < self.limits.per_owner_messages
            && books.total_bytes - replaced + bytes <= self.limits.total_bytes
    }

    /// Removes the retained messages of `owners` (on topics matching `filter`, if given).
    /// Returns how many.
    pub(crate) async fn purge(&self, owners: &[String], filter: Option<&str>) -> usize {
        let _changing = self.changing.lock().await;
        let doomed: Vec<String> = self
            .books()
            .by_topic
            .iter()
            .filter(|(topic, held)| owners.contains(&held.owner) && filter.is_none_or(|f| hearth_core::topic::matches(f, topic)))
            .map(|(topic, _)| topic.clone())
            .collect();
        self.remove(&doomed).await;
        doomed.len()
    }

    /// Removes the messages whose MQTT 5 expiry ran out by `now` (milliseconds since the Unix
    /// epoch), with their saved rows. Returns how many.
    pub(crate) async fn expire(&self, now: i64) -> usize {
        // Called every second: most calls find nothing due and take no lock a store waits for.
        if self.books().expiring.first().is_none_or(|(at, _)| *at > now) {
            return 0;
        }
        let _changing = self.changing.lock().await;
        let doomed: Vec<String> = {
            let books = self.books();
            books.expiring.iter().take_while(|(at, _)| *at <= now).map(|(_, topic)| topic.clone()).collect()
        };
        if !doomed.is_empty() {
            self.remove(&doomed).await;
        }
        doomed.len()
    }

    /// Takes `topics` out of the store, the books and the saved state; `changing` is held.
    async fn remove(&self, topics: &[String]) {
        let mut trie = self.store.messages.write().await;
        for topic in topics {
            if let Ok(parsed) = rmqtt::topic::Topic::from_str(topic) {
                trie.remove(&parsed);
            }
        }
        drop(trie);
        let mut books = self.books();
        for topic in topics {
            books.forget_topic(topic);
            self.journal.retained(topic, None);
        }
    }

    pub(crate) fn usage_of(&self, owner: &str) -> RetainedUse {
        self.books().by_owner.get(owner).copied().unwrap_or_default()
    }

    /// Everything stored, and every refusal since start.
    pub(crate) fn totals(&self) -> RetainedUse {
        let books = self.books();
        RetainedUse {
            messages: books.by_topic.len() as u64,
            bytes: books.total_bytes as u64,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// The storage rmqtt calls, sharing [`Retained`] with the broker's handle.
pub(crate) struct RetainedStorage(pub(crate) std::sync::Arc<Retained>);

#[async_trait::async_trait]
impl RetainStorage for RetainedStorage {
    fn enable(&self) -> bool {
        true
    }

    async fn set(&self, topic: &TopicName, retain: Retain, _expiry: Option<Duration>) -> rmqtt::Result<()> {
        // Past a limit the message is delivered but not kept; never an error, on which rmqtt
        // would close the publisher's connection.
        self.0.store_one(topic, retain, true).await.map(|_| ())
    }

    async fn get(&self, filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.0.store.get_message(filter).await
    }

    async fn count(&self) -> isize {
        self.0.books().by_topic.len() as isize
    }

    async fn max(&self) -> isize {
        self.0.store.max().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmqtt::types::{ClientId, CodecPublish, Id, Publish, UserName};

    fn retain(owner: &str, topic: &str, payload: &[u8]) -> (TopicName, Retain) {
        expiring(owner, topic, payload, None)
    }

    /// With MQTT 5's message expiry: `(published, seconds)`.
    fn expiring(owner: &str, topic: &str, payload: &[u8], expiry: Option<(i64, u32)>) -> (TopicName, Retain) {
        let id = Id::new(1, 0, None, None, ClientId::from(format!("{owner}-client")), Some(UserName::from(owner.to_owned())));
        let publish = Publish::from(CodecPublish {
            dup: false,
            retain: true,
            qos: rmqtt::codec::types::QoS::AtMostOnce,
            topic: TopicName::from(topic.to_owned()),
            packet_id: None,
            payload: payload.to_vec().into(),
            properties: expiry.map(|(_, seconds)| rmqtt::codec::v5::PublishProperties {
                message_expiry_interval: std::num::NonZeroU32::new(seconds),
                ..Default::default()
            }),
        });
        let publish = match expiry {
            Some((published, _)) => publish.create_time(published),
            None => publish,
        };
        (TopicName::from(topic.to_owned()), Retain { msg_id: None, from: From::from_custom(id), publish })
    }

    async fn set(storage: &RetainedStorage, owner: &str, topic: &str, payload: &[u8]) {
        let (t, r) = retain(owner, topic, payload);
        storage.set(&t, r, None).await.unwrap();
    }

    async fn topics(storage: &RetainedStorage, filter: &str) -> Vec<String> {
        let mut found: Vec<String> =
            storage.get(&TopicFilter::from(filter.to_owned())).await.unwrap().into_iter().map(|(t, _)| t.to_string()).collect();
        found.sort();
        found
    }

    #[tokio::test]
    async fn each_publisher_is_held_to_its_limits_and_deleting_always_works() {
        // Each message below is counted 4 bytes (3 of topic, 1 of payload) and 200 for its levels.
        let limits = RetainedLimits { per_owner_bytes: 700, per_owner_messages: 3, total_bytes: 1000 };
        let storage = RetainedStorage(std::sync::Arc::new(Retained::new(limits, Arc::default())));
        for i in 0..5 {
            set(&storage, "d-00000000000a", &format!("a/{i}"), b"x").await;
        }
        assert_eq!(topics(&storage, "a/#").await, ["a/0", "a/1", "a/2"], "three messages at most");
        assert_eq!(storage.0.usage_of("d-00000000000a"), RetainedUse { messages: 3, bytes: 3 * 204, refused: 2 });
        // Replacing one's own message is within the count; a big one is over the bytes.
        set(&storage, "d-00000000000a", "a/0", b"y").await;
        set(&storage, "d-00000000000a", "a/1", &[b'z'; 200]).await;
        assert_eq!(storage.0.usage_of("d-00000000000a").refused, 3);
        // Deleting always works, even at the limit, and frees room.
        set(&storage, "d-00000000000a", "a/2", b"").await;
        set(&storage, "d-00000000000a", "a/9", b"x").await;
        assert_eq!(topics(&storage, "a/#").await, ["a/0", "a/1", "a/9"]);
        // The whole home's limit holds whoever publishes.
        set(&storage, "d-00000000000b", "b/0", &[b'x'; 90]).await;
        set(&storage, "d-00000000000b", "b/1", &[b'x'; 90]).await;
        assert_eq!(topics(&storage, "b/#").await, ["b/0"]);
        let totals = storage.0.totals();
        assert!(totals.bytes <= 1000, "{totals:?}");
        assert_eq!(totals.refused, 4);
    }

    #[tokio::test]
    async fn a_retained_message_is_counted_for_the_levels_of_its_topic() {
        let storage = RetainedStorage(std::sync::Arc::new(Retained::new(RetainedLimits::default(), Arc::default())));
        set(&storage, "d-00000000000a", "stat/lock/state", b"locked").await;
        let deep = format!("deep{}", "/a".repeat(510));
        set(&storage, "d-00000000000a", &deep, b"1").await;
        let counted = (15 + 6 + 3 * RETAINED_LEVEL_BYTES) + (deep.len() + 1 + 511 * RETAINED_LEVEL_BYTES);
        assert_eq!(storage.0.usage_of("d-00000000000a"), RetainedUse { messages: 2, bytes: counted as u64, refused: 0 });
        // So a device's 4 MiB holds about eighty such messages, not four thousand.
        for n in 0..200 {
            set(&storage, "d-00000000000a", &format!("{n}{}", "/a".repeat(510)), b"1").await;
        }
        let held = storage.0.usage_of("d-00000000000a");
        assert!(held.messages < 100 && held.refused > 100, "{held:?}");
    }

    #[tokio::test]
    async fn a_publishers_messages_are_cleared_when_its_rights_go() {
        let storage = RetainedStorage(std::sync::Arc::new(Retained::new(RetainedLimits::default(), Arc::default())));
        set(&storage, "d-00000000000a", "stat/lock/state", b"locked").await;
        set(&storage, "d-00000000000a", "stat/lock/battery", b"80").await;
        set(&storage, "d-00000000000b", "stat/plug/state", b"on").await;
        // Denied one topic: only that one goes.
        assert_eq!(storage.0.purge(&["d-00000000000a".into()], Some("stat/lock/state")).await, 1);
        assert_eq!(topics(&storage, "#").await, ["stat/lock/battery", "stat/plug/state"]);
        // Blocked or forgotten: all of its messages go, nobody else's.
        assert_eq!(storage.0.purge(&["d-00000000000a".into()], None).await, 1);
        assert_eq!(topics(&storage, "#").await, ["stat/plug/state"]);
        assert_eq!(storage.0.usage_of("d-00000000000a"), RetainedUse::default());
        assert_eq!(storage.0.totals().messages, 1);
    }

    #[tokio::test]
    async fn an_expired_message_leaves_the_store_its_publishers_books_and_the_saved_state() {
        let limits = RetainedLimits { per_owner_messages: 2, ..RetainedLimits::default() };
        let journal = Arc::new(Journal::default());
        let storage = RetainedStorage(std::sync::Arc::new(Retained::new(limits, journal.clone())));
        let now = rmqtt::utils::timestamp_millis();
        let (t, r) = expiring("d-00000000000a", "stat/a/1", b"soon", Some((now, 5)));
        storage.set(&t, r, None).await.unwrap();
        let (t, r) = expiring("d-00000000000a", "stat/a/2", b"later", Some((now, 600)));
        storage.set(&t, r, None).await.unwrap();
        set(&storage, "d-00000000000a", "stat/a/3", b"over the count").await;
        assert_eq!(storage.0.usage_of("d-00000000000a").refused, 1, "two messages at most");
        assert_eq!(storage.0.expire(now + 4_999).await, 0, "not yet");
        assert_eq!(storage.0.expire(now + 5_000).await, 1);
        assert_eq!(topics(&storage, "stat/#").await, ["stat/a/2"]);
        assert_eq!(storage.0.usage_of("d-00000000000a").messages, 1);
        assert_eq!(journal.retained_change("stat/a/1"), Some(false), "its saved row is cleared");
        assert_eq!(journal.retained_change("stat/a/2"), Some(true));
        // Its room is free again.
        set(&storage, "d-00000000000a", "stat/a/3", b"fits now").await;
        assert_eq!(topics(&storage, "stat/#").await, ["stat/a/2", "stat/a/3"]);
        // Replaced by one that does not expire: nothing is left to expire on that topic.
        set(&storage, "d-00000000000a", "stat/a/2", b"for good").await;
        assert_eq!(storage.0.expire(now + 1_000_000).await, 0);
        assert_eq!(topics(&storage, "stat/#").await, ["stat/a/2", "stat/a/3"]);
    }

    #[tokio::test]
    async fn a_message_whose_time_ran_out_before_it_was_stored_replaces_what_was_there_and_is_gone() {
        let storage = RetainedStorage(std::sync::Arc::new(Retained::new(RetainedLimits::default(), Arc::default())));
        set(&storage, "d-00000000000a", "stat/a/1", b"old").await;
        // Saved before a restart that lasted longer than its interval.
        let long_ago = rmqtt::utils::timestamp_millis() - 60_000;
        let (t, r) = expiring("d-00000000000a", "stat/a/1", b"ran out", Some((long_ago, 30)));
        storage.set(&t, r, None).await.unwrap();
        assert!(topics(&storage, "#").await.is_empty());
        assert_eq!(storage.0.totals(), RetainedUse::default());
    }
}

//! MQTT Topic Routing & Subscription Management Core
//!
//! Provides distributed topic-based routing implementation with hierarchical subscription management
//! for MQTT brokers. The system combines trie-based pattern matching with concurrent data structures
//! to achieve O(log n) topic operations while maintaining thread safety across cluster nodes.
//!
//! ## Core Features
//! 1. **Topic Pattern Management**:
//!    - Trie-based storage with wildcard support (+/#) using `TopicTree`
//!    - Atomic subscription counters with `Counter` struct
//!    - Distributed subscription synchronization via `AllRelationsMap`
//!
//! 2. **Subscription Lifecycle**:
//!    - Add/remove operations protected by `RwLock`
//!    - Cross-node online status checking
//!    - Shared subscription support through conditional compilation
//!
//! 3. **Data Structures**:
//!    - `Arc<DashMap>` for thread-safe subscription relations storage
//!    - Hierarchical topic matching with `VecToTopic` conversions
//!    - JSON serialization for admin interfaces
//!
//! ## Design Characteristics
//! - **Concurrency Model**:
//!   - Lock hierarchy: Topic tree uses `RwLock` while relations use lock-free `DashMap`
//!   - Atomic counters for subscription statistics
//!   - Async-compatible through `#[async_trait]`
//!
//! - **Cluster Coordination**:
//!   - Node-specific subscription merging with `merge_topics/merge_routes`
//!   - Online status integration with server context
//!   - Paginated query support for large datasets
//!
//! Typical usage includes:
//! - Routing QoS 1/2 messages with session persistence
//! - Handling shared subscriptions with round-robin selection
//! - Performing cluster-wide subscription audits
//!
//! The implementation leverages Rust's type system to ensure:
//! - Zero-cost abstraction for topic matching
//! - Memory safety through ownership model
//! - Linear scalability with subscription count

use std::convert::From as _;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use itertools::Itertools;
use serde_json::json;
use tokio::sync::RwLock;

use crate::context::ServerContext;
use crate::trie::{TopicTree, VecToTopic};
use crate::types::*;
use crate::utils::Counter;
use crate::Result;

#[async_trait]
/// Defines the message routing contract for topic-based subscription management.
///
/// Provides operations for adding/removing subscriptions, matching topics
/// against subscriptions, querying subscription state, and aggregating
/// routing metadata across cluster nodes. Implementations must be `Send + Sync`.
pub trait Router: Sync + Send {
    /// Add a subscription by client ID with the given topic filter.
    async fn add(&self, topic_filter: &str, id: Id, opts: SubscriptionOptions) -> Result<()>;

    /// Remove a subscription by client ID with the given topic filter.
    /// Hearth patch (change 37): and its shared group, `None` for a plain subscription.
    async fn remove(&self, topic_filter: &str, group: Option<&SharedGroup>, id: Id) -> Result<bool>;

    /// Match subscriptions for a given client ID and topic name.
    ///
    /// Returns a map of matching subscription relations, grouped by node ID.
    async fn matches(&self, id: Id, topic: &TopicName) -> Result<SubRelationsMap>;

    /// Check whether a client is currently connected to the given node.
    async fn is_online(&self, node_id: NodeId, client_id: &str) -> bool;

    /// Get a limited number of unique routes (node ID + topic filter pairs).
    async fn gets(&self, limit: usize) -> Vec<Route>;

    /// Get all routes matching the given topic.
    async fn get(&self, topic: &str) -> Result<Vec<Route>>;

    /// Query subscription relations matching the given search parameters.
    async fn query_subscriptions(&self, q: &SubsSearchParams) -> Vec<SubsSearchResult>;

    /// Return the number of unique topic filters stored in the topic tree.
    async fn topics_tree(&self) -> usize;

    /// Return the atomic counter tracking the number of subscribed topics.
    fn topics(&self) -> Counter;

    /// Return the atomic counter tracking the number of subscription relations.
    fn routes(&self) -> Counter;

    /// Merge topic counters from another node for cluster-wide aggregation.
    fn merge_topics(&self, topics_map: &HashMap<NodeId, Counter>) -> Counter;

    /// Merge route counters from another node for cluster-wide aggregation.
    fn merge_routes(&self, routes_map: &HashMap<NodeId, Counter>) -> Counter;

    /// List topic filter strings up to the given limit.
    async fn list_topics(&self, top: usize) -> Vec<String>;

    /// List subscription relations as JSON values, up to the given limit.
    async fn list_relations(&self, top: usize) -> Vec<serde_json::Value>;

    /// Return a reference to the subscription relations map.
    /// (Hearth patch, change 37: the plain subscriptions' relations; shared ones are apart.)
    fn relations(&self) -> &AllRelationsMap;
}

#[allow(clippy::type_complexity)]
#[derive(Clone)]
/// Default implementation of the [`Router`] trait.
///
/// Stores subscriptions in a thread-safe trie ([`TopicTree`]) backed by `Arc<RwLock>`, with
/// subscription relations held in a `DashMap`. Tracks topic and relation counts via atomic
/// [`Counter`] instances. Supports both individual and shared-subscription routing.
pub struct DefaultRouter {
    scx: Option<ServerContext>,
    /// Hearth patch (change 38): lock order, `topics` before a shard of `relations` or
    /// `shared_relations`. `add` puts a filter in the tree and its relation in a map under
    /// `topics`' write lock; `remove` takes an emptied filter out of a map, and out of the tree
    /// once neither map holds it, under that lock too.
    pub topics: Arc<RwLock<TopicTree<()>>>,
    pub topics_count: Arc<Counter>,
    pub relations: Arc<AllRelationsMap>,
    /// Hearth patch (change 37): the shared subscriptions' relations, apart from the plain ones.
    pub shared_relations: Arc<SharedRelationsMap>,
    pub relations_count: Arc<Counter>,
}

impl DefaultRouter {
    #[inline]
    pub fn new(scx: Option<ServerContext>) -> DefaultRouter {
        Self {
            scx,
            topics: Arc::new(RwLock::new(TopicTree::default())),
            topics_count: Arc::new(Counter::new()),
            relations: Arc::new(DashMap::default()),
            shared_relations: Arc::new(DashMap::default()),
            relations_count: Arc::new(Counter::new()),
        }
    }

    #[inline]
    pub(crate) fn context(&self) -> &ServerContext {
        if let Some(scx) = &self.scx {
            scx
        } else {
            unreachable!()
        }
    }

    #[inline]
    pub async fn _has_matches(&self, topic: &str) -> Result<bool> {
        let topic = Topic::from_str(topic)?;
        Ok(self.topics.read().await.is_match(&topic))
    }

    #[inline]
    pub async fn _get_routes(&self, topic: &str) -> Result<Vec<Route>> {
        let topic = Topic::from_str(topic)?;
        let node_id = self.context().node.id();
        let routes = self
            .topics
            .read()
            .await
            .matches(&topic)
            .iter()
            .unique()
            .map(|(topic_filter, _)| Route { node_id, topic: topic_filter.to_topic_filter() })
            .collect::<Vec<_>>();
        Ok(routes)
    }

    #[allow(clippy::type_complexity)]
    #[inline]
    pub async fn _matches(&self, this_id: Id, topic_name: &TopicName) -> Result<SubRelationsMap> {
        // let scx = self.context();
        let mut collector_map: SubscriptioRelationsCollectorMap = HashMap::default();
        let topic = Topic::from_str(topic_name)?;
        // Hearth patch (change 39): the matched filters are taken out of the tree first, so that
        // its lock is not held across the awaits of the shared groups below (a waiting `add` or
        // `remove` would hold every other publish behind them).
        let filters = self
            .topics
            .read()
            .await
            .matches(&topic)
            .iter()
            .map(|(topic_filter, _)| topic_filter.to_topic_filter())
            .collect::<Vec<_>>();
        for topic_filter in filters {
            if let Some(rels) = self.relations.get(&topic_filter) {
                for (client_id, (id, opts)) in rels.iter() {
                    if let Some(no_local) = opts.no_local() {
                        //MQTT V5: No Local
                        if no_local && &this_id == id {
                            continue;
                        }
                    }
                    collector_map.entry(id.node_id).or_default().add(
                        &topic_filter,
                        client_id.clone(),
                        opts.clone(),
                        None,
                    );
                }
            }

            //select a subscriber from shared subscribe groups
            #[cfg(feature = "shared-subscription")]
            {
                // Hearth patch (change 37): shared relations are kept apart, keyed by client and
                // group. Copied out first, so that no shard of the map is held across the awaits
                // below.
                let members = self
                    .shared_relations
                    .get(&topic_filter)
                    .map(|rels| {
                        rels.iter()
                            .filter(|(_, (id, opts))| !(opts.no_local().unwrap_or(false) && &this_id == id))
                            .map(|((client_id, group), (id, opts))| {
                                (group.clone(), id.node_id, client_id.clone(), opts.clone())
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                #[allow(clippy::mutable_key_type)]
                let mut groups: HashMap<
                    SharedGroup,
                    Vec<(
                        NodeId,
                        ClientId,
                        SubscriptionOptions,
                        Option<Vec<SubscriptionIdentifier>>,
                        Option<IsOnline>,
                    )>,
                > = HashMap::default();
                if !members.is_empty() {
                    let router = self.context().extends.router().await;
                    for (group, node_id, client_id, opts) in members {
                        let online = router.is_online(node_id, &client_id).await;
                        groups.entry(group).or_default().push((node_id, client_id, opts, None, Some(online)));
                    }
                }
                for (group, mut s_subs) in groups.drain() {
                    log::debug!("group: {group}, s_subs: {s_subs:?}");
                    let group_cids = s_subs.iter().map(|(_, cid, _, _, _)| cid.clone()).collect();
                    if let Some((idx, is_online)) = self
                        .context()
                        .extends
                        .shared_subscription()
                        .await
                        .choice(self.context(), &group, &this_id, topic_name, &s_subs)
                        .await
                    {
                        let (node_id, client_id, opts, _, _) = s_subs.remove(idx);
                        collector_map.entry(node_id).or_default().add(
                            &topic_filter,
                            client_id,
                            opts,
                            Some((group, is_online, group_cids)),
                        );
                    }
                }
            }
        }

        let mut rels_map: SubRelationsMap = HashMap::default();
        for (node_id, collector) in collector_map {
            rels_map.insert(node_id, collector.into());
        }

        log::debug!("{topic_name:?} this_subs: {rels_map:?}");
        Ok(rels_map)
    }

    /// Hearth patch (change 37): every relation of `topic_filter`, plain and shared (kept in two
    /// maps), for the views and queries below.
    #[inline]
    fn relations_of(&self, topic_filter: &str) -> Vec<(ClientId, Id, SubscriptionOptions)> {
        let mut all = Vec::new();
        if let Some(rels) = self.relations.get(topic_filter) {
            all.extend(rels.iter().map(|(client_id, (id, opts))| (client_id.clone(), id.clone(), opts.clone())));
        }
        if let Some(rels) = self.shared_relations.get(topic_filter) {
            all.extend(rels.iter().map(|((client_id, _), (id, opts))| (client_id.clone(), id.clone(), opts.clone())));
        }
        all
    }

    /// Hearth patch (change 37): every filter with a relation, plain or shared.
    #[inline]
    fn filters(&self) -> Vec<TopicFilter> {
        self.relations
            .iter()
            .map(|e| e.key().clone())
            .chain(self.shared_relations.iter().map(|e| e.key().clone()))
            .unique()
            .collect()
    }

    #[inline]
    fn _query_subscriptions_filter(
        q: &SubsSearchParams,
        client_id: &str,
        opts: &SubscriptionOptions,
    ) -> bool {
        if let Some(ref q_clientid) = q.clientid {
            if q_clientid.as_bytes() != client_id.as_bytes() {
                return false;
            }
        }

        if let Some(ref q_qos) = q.qos {
            if *q_qos != opts.qos_value() {
                return false;
            }
        }

        #[cfg(feature = "shared-subscription")]
        match (&q.share, opts.shared_group()) {
            (Some(q_group), Some(group)) if q_group != group => return false,
            (Some(_), None) => return false,
            _ => {}
        }

        true
    }

    /// Hearth patch (change 37): the filters in the tree that match `topic`, each once, read
    /// out of the tree so that its lock is not held while the maps are read.
    #[inline]
    async fn matched_filters(&self, topic: &Topic) -> Vec<TopicFilter> {
        self.topics
            .read()
            .await
            .matches(topic)
            .iter()
            .unique()
            .map(|(topic_filter, _)| topic_filter.to_topic_filter())
            .collect()
    }

    /// Hearth patch (change 37): the relations of `filters`, plain and shared, that `q` asks for,
    /// at most its limit.
    #[inline]
    fn search(&self, q: &SubsSearchParams, filters: Vec<TopicFilter>) -> Vec<SubsSearchResult> {
        filters
            .into_iter()
            .flat_map(|topic_filter| {
                self.relations_of(&topic_filter).into_iter().map(move |rel| (topic_filter.clone(), rel))
            })
            .filter(|(_, (client_id, _, opts))| Self::_query_subscriptions_filter(q, client_id.as_ref(), opts))
            .take(q._limit)
            .map(|(topic, (clientid, id, opts))| SubsSearchResult {
                node_id: id.node_id,
                clientid,
                client_addr: id.remote_addr,
                topic,
                opts,
            })
            .collect()
    }

    /// Hearth patch (change 37): a route to each node holding a relation of `topic_filter`.
    #[inline]
    fn routes_of(&self, topic_filter: TopicFilter) -> Vec<Route> {
        self.relations_of(&topic_filter)
            .into_iter()
            .map(|(_, id, _)| id.node_id)
            .unique()
            .map(|node_id| Route { node_id, topic: topic_filter.clone() })
            .collect()
    }

    #[inline]
    async fn _query_subscriptions(&self, q: &SubsSearchParams) -> Vec<SubsSearchResult> {
        //topic
        if let Some(ref topic) = q.topic {
            return self.search(q, vec![TopicFilter::from(topic.as_str())]);
        }

        //_match_topic
        if let Some(ref _match_topic) = q._match_topic {
            return match Topic::from_str(_match_topic) {
                Ok(topic) => self.search(q, self.matched_filters(&topic).await),
                Err(_) => Vec::new(),
            };
        }

        //other
        self.search(q, self.filters())
    }
}

#[async_trait]
impl Router for DefaultRouter {
    #[inline]
    async fn add(&self, topic_filter: &str, id: Id, opts: SubscriptionOptions) -> Result<()> {
        log::debug!("{id:?} add, topic_filter: {topic_filter:?}");
        let topic = Topic::from_str(topic_filter)?;
        // Hearth patch (change 38): the tree stays locked until the relation is in, so that a
        // `remove` of the filter's last relation meanwhile cannot take the filter out of the tree
        // under it (the subscription would be kept and never matched).
        let mut topics = self.topics.write().await;
        //add to topic tree
        if topics.insert(&topic, ()) {
            self.topics_count.inc();
        }
        //add to subscribe relations
        // Hearth patch (change 37): a shared subscription's relation is kept apart, keyed by
        // client and group, so that one client's plain and shared subscriptions to a filter, and
        // its subscriptions in two groups, are relations of their own; a plain one's key is the
        // client alone, as it was.
        let old = match opts.shared_group().cloned() {
            Some(group) => self
                .shared_relations
                .entry(TopicFilter::from(topic_filter))
                .or_default()
                .insert((id.client_id.clone(), group), (id, opts)),
            None => self
                .relations
                .entry(TopicFilter::from(topic_filter))
                .or_default()
                .insert(id.client_id.clone(), (id, opts)),
        };
        if old.is_none() {
            self.relations_count.inc();
        }
        drop(topics);

        Ok(())
    }

    #[inline]
    async fn remove(&self, topic_filter: &str, group: Option<&SharedGroup>, id: Id) -> Result<bool> {
        log::debug!("{id:?} remove, topic_filter: {topic_filter:?}, group: {group:?}");
        let same_id = |s_id: &Id| {
            if *s_id != id {
                log::debug!("remove, input id not the same, input id: {id:?}, current id: {s_id:?}, topic_filter: {topic_filter}");
                false
            } else {
                true
            }
        };
        //Remove subscription relationship from local
        // (Hearth patch, change 37: a shared one from the shared relations, under client and group.)
        let res = match group {
            Some(group) => self.shared_relations.get_mut(topic_filter).and_then(|mut rels| {
                let key = (id.client_id.clone(), group.clone());
                if !rels.get(&key).is_some_and(|(s_id, _)| same_id(s_id)) {
                    return None;
                }
                let remove_ok = rels.remove(&key).is_some();
                Some((rels.is_empty(), remove_ok))
            }),
            None => self.relations.get_mut(topic_filter).and_then(|mut rels| {
                if !rels.get(&id.client_id).is_some_and(|(s_id, _)| same_id(s_id)) {
                    return None;
                }
                let remove_ok = rels.remove(&id.client_id).is_some();
                Some((rels.is_empty(), remove_ok))
            }),
        };

        log::debug!("{id:?} remove, topic_filter: {topic_filter:?}, res: {res:?}");

        let remove_ok = if let Some((is_empty, remove_ok)) = res {
            if remove_ok {
                self.relations_count.dec();
            }
            if is_empty {
                // Hearth patch (change 38): the filter leaves the relations, and then the tree
                // once neither map holds it, only if no relation came in since it was seen empty,
                // under the tree's lock, which `add` holds until its relation is in. It was
                // removed whatever came in meanwhile: a subscription made then was lost from both,
                // or kept and never matched.
                let topic = Topic::from_str(topic_filter)?;
                let mut topics = self.topics.write().await;
                let gone = match group {
                    Some(_) => self.shared_relations.remove_if(topic_filter, |_, rels| rels.is_empty()).is_some(),
                    None => self.relations.remove_if(topic_filter, |_, rels| rels.is_empty()).is_some(),
                };
                if gone
                    && !self.relations.contains_key(topic_filter)
                    && !self.shared_relations.contains_key(topic_filter)
                    && topics.remove(&topic, &())
                {
                    self.topics_count.dec();
                }
            }
            remove_ok
        } else {
            false
        };
        Ok(remove_ok)
    }

    #[inline]
    async fn matches(&self, id: Id, topic: &TopicName) -> Result<SubRelationsMap> {
        Ok(self._matches(id, topic).await?)
    }

    #[inline]
    async fn is_online(&self, node_id: NodeId, client_id: &str) -> bool {
        self.context()
            .extends
            .shared()
            .await
            .entry(Id::from(node_id, ClientId::from(client_id)))
            .is_connected()
            .await
    }

    #[inline]
    async fn gets(&self, limit: usize) -> Vec<Route> {
        self.filters().into_iter().flat_map(|topic_filter| self.routes_of(topic_filter)).take(limit).collect()
    }

    #[inline]
    async fn get(&self, topic: &str) -> Result<Vec<Route>> {
        let topic = Topic::from_str(topic)?;
        Ok(self.matched_filters(&topic).await.into_iter().flat_map(|topic_filter| self.routes_of(topic_filter)).collect())
    }

    #[inline]
    async fn query_subscriptions(&self, q: &SubsSearchParams) -> Vec<SubsSearchResult> {
        self._query_subscriptions(q).await
    }

    #[inline]
    async fn topics_tree(&self) -> usize {
        self.topics.read().await.values_size()
    }

    #[inline]
    fn topics(&self) -> Counter {
        self.topics_count.as_ref().clone()
    }

    #[inline]
    fn routes(&self) -> Counter {
        self.relations_count.as_ref().clone()
    }

    #[inline]
    fn merge_topics(&self, topics_map: &HashMap<NodeId, Counter>) -> Counter {
        let topics = Counter::new();
        for (i, (_, counter)) in topics_map.iter().enumerate() {
            if i == 0 {
                topics.set(counter);
            } else {
                topics.count_min(counter.count());
                topics.max_max(counter.max())
            }
        }
        topics
    }

    #[inline]
    fn merge_routes(&self, routes_map: &HashMap<NodeId, Counter>) -> Counter {
        let routes = Counter::new();
        for (i, (_, counter)) in routes_map.iter().enumerate() {
            if i == 0 {
                routes.set(counter);
            } else {
                routes.count_min(counter.count());
                routes.max_max(counter.max())
            }
        }
        routes
    }

    #[inline]
    async fn list_topics(&self, top: usize) -> Vec<String> {
        self.topics.read().await.list(top)
    }

    #[inline]
    async fn list_relations(&self, top: usize) -> Vec<serde_json::Value> {
        self.filters()
            .into_iter()
            .flat_map(|topic_filter| {
                self.relations_of(&topic_filter).into_iter().map(move |(client_id, id, opts)| {
                    json!({
                        "topic_filter": topic_filter,
                        "client_id": client_id,
                        "node_id": id.node_id,
                        "opts": opts.to_json(),
                    })
                })
            })
            .take(top)
            .collect()
    }

    #[inline]
    fn relations(&self) -> &AllRelationsMap {
        &self.relations
    }
}

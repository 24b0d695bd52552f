//! Hearth patch (changes 41 and 43): the branches of a node of a topic tree, the router's
//! subscriptions (`trie.rs`) or the retained messages (`retain.rs`).
//!
//! Most nodes of a home's trees have one branch or a few (`zigbee2mqtt/Lamp/availability` is a
//! chain of three), and rmqtt's hash map of one kept room for four beside a hasher of its own:
//! about 470 bytes a node in the router's tree, more in the retained one. Up to `FEW` branches
//! are kept in a vector of exactly their number and found by comparing levels (shorter than
//! hashing one); past them, a hash map as before, so that a node with thousands of branches (a
//! device id level) is still found in one step.

use serde::{Deserialize, Serialize};

use crate::topic::Level;

type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// The most branches a node keeps in a vector; a map down to half as many goes back to one.
const FEW: usize = 8;

#[derive(Serialize, Deserialize)]
pub(crate) enum Branches<N> {
    Few(Vec<(Level, N)>),
    Many(Box<HashMap<Level, N>>),
}

impl<N> Default for Branches<N> {
    #[inline]
    fn default() -> Self {
        Branches::Few(Vec::new())
    }
}

impl<N: Default> Branches<N> {
    #[inline]
    pub(crate) fn get(&self, level: &Level) -> Option<&N> {
        match self {
            Branches::Few(few) => few.iter().find(|(l, _)| l == level).map(|(_, n)| n),
            Branches::Many(many) => many.get(level),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, level: &Level) -> Option<&mut N> {
        match self {
            Branches::Few(few) => few.iter_mut().find(|(l, _)| l == level).map(|(_, n)| n),
            Branches::Many(many) => many.get_mut(level),
        }
    }

    #[inline]
    pub(crate) fn contains_key(&self, level: &Level) -> bool {
        self.get(level).is_some()
    }

    /// The branch at `level`, made if there is none.
    pub(crate) fn entry(&mut self, level: Level) -> &mut N {
        if let Branches::Few(few) = self {
            if few.len() >= FEW && !few.iter().any(|(l, _)| *l == level) {
                let mut many = HashMap::default();
                many.reserve(FEW + 1);
                many.extend(few.drain(..));
                *self = Branches::Many(Box::new(many));
            }
        }
        match self {
            Branches::Few(few) => match few.iter().position(|(l, _)| *l == level) {
                Some(at) => &mut few[at].1,
                None => {
                    // Exactly one more: a vector's first push keeps room for four.
                    few.reserve_exact(1);
                    few.push((level, N::default()));
                    &mut few.last_mut().expect("just pushed").1
                }
            },
            Branches::Many(many) => many.entry(level).or_default(),
        }
    }

    pub(crate) fn remove(&mut self, level: &Level) {
        match self {
            Branches::Few(few) => {
                if let Some(at) = few.iter().position(|(l, _)| l == level) {
                    few.swap_remove(at);
                    few.shrink_to_fit();
                }
            }
            Branches::Many(many) => {
                many.remove(level);
                self.fewer();
            }
        }
    }

    /// Keeps the branches `keep` says to keep.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Level, &mut N) -> bool) {
        match self {
            Branches::Few(few) => {
                few.retain_mut(|(l, n)| keep(l, n));
                few.shrink_to_fit();
            }
            Branches::Many(many) => {
                many.retain(|l, n| keep(l, n));
                self.fewer();
            }
        }
    }

    /// A map down to half of `FEW` goes back to a vector.
    fn fewer(&mut self) {
        if let Branches::Many(many) = self {
            if many.len() <= FEW / 2 {
                let mut few = Vec::with_capacity(many.len());
                few.extend(many.drain());
                *self = Branches::Few(few);
            }
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Branches::Few(few) => few.len(),
            Branches::Many(many) => many.len(),
        }
    }

    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Level, &N)> {
        let (few, many) = match self {
            Branches::Few(few) => (Some(few.iter().map(|(l, n)| (l, n))), None),
            Branches::Many(many) => (None, Some(many.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }
}

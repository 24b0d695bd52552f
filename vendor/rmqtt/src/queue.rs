//! A bounded asynchronous channel with rate-limiting and customizable backpressure policies.
//!
//! This module provides a mechanism for sending items into a bounded queue with an associated
//! receiver that consumes items at a controlled rate. It supports custom policies for handling
//! queue overflow and hook functions to track queue events.
//!
//! # Components
//!
//! - [`Sender<T>`]: Allows sending items into a bounded queue asynchronously. Supports custom
//!   overflow policies via [`PolicyFn`]; the queue wakes its receiver (Hearth patch: it sent a
//!   token down an MPSC channel for each item).
//!
//! - [`Receiver<'a, T>`]: A `Stream` that yields elements from the queue, at a rate-limited pace
//!   using the [`governor`] crate when a limit is set.
//!
//! - [`Policy`]: Defines behavior when the queue is full:
//!   - `Current`: Discard the current value being sent.
//!   - `Early`: Discard the earliest value in the queue to make space.
//!
//! - [`Queue<T>`]: A thread-safe bounded queue using `SegQueue`, with optional hooks on push/pop.
//!
//! - [`Limiter`]: Creates rate-limited channels using `RateLimiter`, managing burst and refill
//!   periods.
//!
//! # Features
//!
//! - Thread-safe and cloneable senders with policy injection.
//! - Rate-limiting receivers with configurable burst size and interval.
//! - Event hooks for push/pop operations in the queue.
//! - Graceful handling of overflows based on selected policy.
//!
//!
//! # Crates Used
//!
//! - `governor`: For rate limiting
//! - `crossbeam`: For the lock-free `SegQueue`
//! - `futures`: For async MPSC and stream support

use std::collections::vec_deque::VecDeque;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Result;
// use crossbeam::queue::SegQueue;
use futures::task::AtomicWaker;
use futures::Stream;
use governor::{
    clock::DefaultClock,
    middleware::NoOpMiddleware,
    prelude::StreamRateLimitExt,
    state::{InMemoryState, NotKeyed},
    Quota, RateLimiter, RatelimitedStream,
};
use parking_lot::Mutex;

type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Hearth patch: the queue's items, through `governor`'s limiter only when a limit is set. The
/// limiter's stream (136 bytes, and a timer of 120 more) was in every connection, though rmqtt's
/// default, which Hearth keeps, is no limit (`u32::MAX` a second).
pub enum Receiver<'a, T> {
    /// Delivery limited to the listener's `mqueue_rate_limit`.
    Limited(Box<RatelimitedStream<'a, ReceiverStream<T>, InMemoryState, DefaultClock, NoOpMiddleware>>),
    /// No limit: straight from the queue.
    Unlimited(ReceiverStream<T>),
}

// `governor`'s stream asks its items to be `Unpin`; a session's messages are.
impl<T: Unpin> Stream for Receiver<'_, T> {
    type Item = Option<T>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Receiver::Limited(limited) => Pin::new(limited).poll_next(cx),
            Receiver::Unlimited(unlimited) => Pin::new(unlimited).poll_next(cx),
        }
    }
}

/// Defines the overflow policy when the bounded queue is full.
///
/// Selects which item to discard to make room for new entries.
pub enum Policy {
    /// Discard the current (incoming) value.
    Current,
    /// Discard the earliest (front) value in the queue.
    Early,
}

/// Trait for queue overflow policy functions.
///
/// A `PolicyFn` receives a reference to the item being sent
/// and returns the [`Policy`] to apply when the queue is full.
pub trait PolicyFn<P>: 'static + Sync + Send + Fn(&P) -> Policy {}

impl<T, P> PolicyFn<P> for T where T: 'static + Sync + Send + Clone + Fn(&P) -> Policy {}

/// Trait for queue event notification callbacks.
///
/// Invoked on push and pop operations to track queue activity.
/// Used for statistics and monitoring integration.
pub trait OnEventFn: 'static + Sync + Send + Fn() {}
impl<T> OnEventFn for T where T: 'static + Sync + Send + Clone + Fn() {}

/// A bounded, asynchronous sender with configurable overflow policy.
///
/// Wraps a [`Queue<T>`] and an MPSC signal channel. When an item
/// is successfully enqueued, a signal is sent on the MPSC channel
/// to wake the receiver task.
///
/// # Overflow Behavior
///
/// When the queue is full, the behavior depends on the configured
/// [`PolicyFn`]:
/// - `Policy::Current` — The new item is rejected and returned as `Err`.
/// - `Policy::Early` — The oldest item is evicted to make room.
pub struct Sender<T> {
    queue: Arc<Queue<T>>,
    /// Hearth patch: which of the queue's channels this is (see `Queue::close`).
    channel: usize,
    policy_fn: Arc<dyn PolicyFn<T>>,
}

impl<T> Drop for Sender<T> {
    /// Hearth patch: the receiver ends once the queue is empty, as it did when the token channel's
    /// last sender was dropped.
    fn drop(&mut self) {
        self.queue.close(self.channel);
    }
}

impl<T> Sender<T> {
    /// Close the sender.
    ///
    /// Signals the receiver that no more items will be sent.
    #[inline]
    pub async fn close(&mut self) -> Result<()> {
        self.queue.close(self.channel);
        Ok(())
    }

    /// Number of items currently in the queue.
    #[inline]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the queue is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Set a custom overflow policy function for this sender.
    #[inline]
    pub fn policy<F>(mut self, f: F) -> Self
    where
        F: PolicyFn<T>,
    {
        self.policy_fn = Arc::new(f);
        self
    }

    /// Send a value into the bounded queue.
    ///
    /// If the queue is full, the configured policy determines
    /// which item is discarded. Returns `Ok(())` on success,
    /// or `Err(T)` with the rejected item.
    #[inline]
    pub async fn send(&self, v: T) -> Result<(), T> {
        if let Err(v) = self.queue.push(v) {
            // Hearth patch: over the byte limit the new item is refused, whatever the policy
            // (as Mosquitto's max_queued_bytes does): making room could take many old ones.
            if self.queue.over_bytes_with(&v) {
                return Err(v);
            }
            match (self.policy_fn)(&v) {
                Policy::Current => return Err(v),
                Policy::Early => {
                    let removed = self.queue.pop();
                    if let Err(v) = self.queue.push(v) {
                        log::warn!("queue is full, queue len is {}", self.queue.len());
                        // Hearth patch: the oldest goes back where it was rather than being lost
                        // uncounted.
                        if let Some(removed) = removed {
                            self.queue.push_front(removed);
                        }
                        return Err(v);
                    }
                    if let Some(removed) = removed {
                        return Err(removed);
                    } else {
                        return Ok(());
                    }
                }
            }
        }
        // Hearth patch: `Queue::push` wakes the receiver. Each item sent cloned the token
        // channel's sender to send a token: two allocations per item.
        Ok(())
    }

    /// Pop and return the oldest item from the queue, if any.
    #[inline]
    pub fn pop(&self) -> Option<T> {
        self.queue.pop()
    }
}

/// Stream of the bounded queue's items: the next one, or a wait until `Queue::push` wakes it
/// (Hearth patch: it waited for a token from an MPSC channel, one sent per item, and then popped).
/// It ends once the queue is empty and its channel's sender is gone. It never yields `Some(None)`.
pub struct ReceiverStream<T> {
    queue: Arc<Queue<T>>,
    channel: usize,
}

impl<T> ReceiverStream<T> {
    fn next_item(&self) -> Option<Option<Option<T>>> {
        // Closed is read first: an item pushed before the close is then found by the pop.
        let closed = self.queue.closed(self.channel);
        if let Some(v) = self.queue.pop() {
            return Some(Some(Some(v)));
        }
        closed.then_some(None)
    }
}

impl<T> Stream for ReceiverStream<T> {
    type Item = Option<T>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(next) = self.next_item() {
            return Poll::Ready(next);
        }
        self.queue.receiver.register(cx.waker());
        // Again, after registering: an item pushed in between woke no one.
        match self.next_item() {
            Some(next) => Poll::Ready(next),
            None => Poll::Pending,
        }
    }
}

/// A rate limiter backed by the `governor` crate.
///
/// Creates bounded channels with token-bucket rate limiting
/// for controlled consumer throughput.
///
/// # Rate Calculation
///
/// The replenish period per token is computed as:
/// `replenish_n_per / burst`, ensuring an even distribution
/// of capacity across the burst window.
pub struct Limiter {
    /// Hearth patch: `None` when there is no limit: a burst of `u32::MAX`, rmqtt's default
    /// (`u32::MAX` a second), whatever its period; boxed (vendor/PATCHES.md, 16), so that a
    /// connection with no limit does not hold a limiter's room in its state.
    l: Option<Box<DirectLimiter>>,
}

impl Limiter {
    #[inline]
    pub fn new(burst: NonZeroU32, replenish_n_per: Duration) -> Self {
        if burst.get() == u32::MAX {
            return Self { l: None };
        }
        let period = replenish_n_per.as_nanos() as u64 / burst.get() as u64;
        let period = if period > 0 { Duration::from_nanos(period) } else { Duration::from_nanos(1) };
        log::debug!("burst: {burst:?}, {replenish_n_per:?}, {period:?}");
        let q = if let Some(q) = Quota::with_period(period) { q.allow_burst(burst) } else { unreachable!() };
        let l = RateLimiter::direct(q);
        Self { l: Some(Box::new(l)) }
    }

    #[inline]
    pub fn channel<T>(&self, queue: Arc<Queue<T>>) -> (Sender<T>, Receiver<'_, T>) {
        // Hearth patch: items already queued (a session's offline messages) are simply the
        // receiver's first; they had a token sent for each.
        let channel = queue.open();
        let stream = ReceiverStream { queue: queue.clone(), channel };
        let receiver = match &self.l {
            Some(l) => Receiver::Limited(Box::new(stream.ratelimit_stream(&**l))),
            None => Receiver::Unlimited(stream),
        };
        (Sender { queue, channel, policy_fn: Arc::new(|_v: &T| -> Policy { Policy::Current }) }, receiver)
    }
}

/// A thread-safe bounded FIFO queue with optional push/pop event hooks.
///
/// Uses [`parking_lot::Mutex`] for interior mutability and a
/// [`VecDeque`] for O(1) amortized push/pop operations.
///
/// # Capacity Enforcement
///
/// When the queue reaches its capacity, [`push`](Queue::push) returns
/// `Err(v)` and the caller must decide how to handle the overflow
/// (typically via the enclosing [`Sender`]'s policy).
pub struct Queue<T> {
    cap: usize,
    /// Hearth patch: the most bytes queued (0: no limit), with the weight of an item.
    max_bytes: usize,
    weigh: fn(&T) -> usize,
    bytes: std::sync::atomic::AtomicUsize,
    inner: Mutex<VecDeque<T>>,
    /// Hearth patch (change 49): the callbacks only the `stats` feature sets, compiled only with
    /// it: 32 bytes of every session's queue.
    #[cfg(feature = "stats")]
    on_push_fn: Option<Arc<dyn OnEventFn>>,
    #[cfg(feature = "stats")]
    on_pop_fn: Option<Arc<dyn OnEventFn>>,
    /// Hearth patch: the receiver waiting for an item, woken by `push`.
    receiver: AtomicWaker,
    /// Hearth patch: the channels opened on this queue (`Limiter::channel`), and the newest of
    /// them whose sender is gone. A receiver ends when its channel, or a newer one, is closed; a
    /// sender of an older channel, dropped late, does not end a newer channel's receiver. (rmqtt
    /// opens one channel per queue; the numbers keep that so should it ever open more. One
    /// receiver at a time: there is one waker.)
    opened: AtomicUsize,
    closed: AtomicUsize,
    /// Hearth patch (vendor/PATCHES.md, 19): items sent towards this queue and not yet taken from
    /// their channel, and their bytes (`reserve_incoming`). While the connection waits on a
    /// blocked write, the channel is not read, and they are bounded by the queue's own limits.
    incoming: AtomicUsize,
    incoming_bytes: AtomicUsize,
}

impl<T> Drop for Queue<T> {
    #[inline]
    fn drop(&mut self) {
        log::debug!("Queue Drop ... len: {}", self.len());
    }
}

impl<T> Queue<T> {
    #[inline]
    pub fn new(cap: usize) -> Self {
        Self::with_max_bytes(cap, 0, |_| 0)
    }

    /// A queue bounded in items and in bytes, an item weighing `weigh(item)` (Hearth patch).
    #[inline]
    pub fn with_max_bytes(cap: usize, max_bytes: usize, weigh: fn(&T) -> usize) -> Self {
        Self {
            cap,
            max_bytes,
            weigh,
            bytes: std::sync::atomic::AtomicUsize::new(0),
            inner: Mutex::new(VecDeque::new()),
            #[cfg(feature = "stats")]
            on_push_fn: None,
            #[cfg(feature = "stats")]
            on_pop_fn: None,
            receiver: AtomicWaker::new(),
            opened: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            incoming: AtomicUsize::new(0),
            incoming_bytes: AtomicUsize::new(0),
        }
    }

    /// Makes room for an item of `weight` bytes on its way to this queue, or says there is none:
    /// as many items, or as many bytes, as the queue itself may hold are on their way already
    /// (Hearth patch, 19). Each reservation is given back with `release_incoming`.
    #[inline]
    pub fn reserve_incoming(&self, weight: usize) -> bool {
        let below_cap = |n: usize| (n < self.cap).then_some(n + 1);
        if self.incoming.fetch_update(Ordering::Relaxed, Ordering::Relaxed, below_cap).is_err() {
            return false;
        }
        let fits = |bytes: usize| {
            let bytes = bytes.saturating_add(weight);
            (self.max_bytes == 0 || bytes <= self.max_bytes).then_some(bytes)
        };
        if self.incoming_bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, fits).is_err() {
            self.incoming.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Makes room for an item on its way to this queue whatever the limits: one the session
    /// itself sends again, already bounded where it was (Hearth patch, 19).
    #[inline]
    pub fn reserve_incoming_anyway(&self, weight: usize) {
        self.incoming.fetch_add(1, Ordering::Relaxed);
        self.incoming_bytes.fetch_add(weight, Ordering::Relaxed);
    }

    /// An item reserved with `reserve_incoming` was taken from its channel, or never sent
    /// (Hearth patch, 19).
    #[inline]
    pub fn release_incoming(&self, weight: usize) {
        self.incoming.fetch_sub(1, Ordering::Relaxed);
        self.incoming_bytes.fetch_sub(weight, Ordering::Relaxed);
    }

    /// Items on their way to this queue now, and their bytes (Hearth patch, 19).
    #[inline]
    pub fn incoming(&self) -> (usize, usize) {
        (self.incoming.load(Ordering::Relaxed), self.incoming_bytes.load(Ordering::Relaxed))
    }

    /// A new channel's number, from 1 (Hearth patch).
    fn open(&self) -> usize {
        self.opened.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Channel `channel`'s sender is gone: its receiver ends once the queue is empty (Hearth patch).
    fn close(&self, channel: usize) {
        self.closed.fetch_max(channel, Ordering::AcqRel);
        self.receiver.wake();
    }

    fn closed(&self, channel: usize) -> bool {
        self.closed.load(Ordering::Acquire) >= channel
    }

    /// Bytes queued now (Hearth patch).
    #[inline]
    pub fn bytes(&self) -> usize {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether `v` would take the queue over its byte limit (Hearth patch).
    #[inline]
    pub fn over_bytes_with(&self, v: &T) -> bool {
        self.max_bytes > 0 && self.bytes() + (self.weigh)(v) > self.max_bytes
    }

    /// Puts `v` back at the front, whatever the limits (Hearth patch: an item popped to make room
    /// for one that then did not fit).
    #[inline]
    fn push_front(&self, v: T) {
        let mut inner = self.inner.lock();
        self.bytes.fetch_add((self.weigh)(&v), std::sync::atomic::Ordering::Relaxed);
        inner.push_front(v);
        drop(inner);
        self.receiver.wake();
    }

    #[cfg(feature = "stats")]
    #[inline]
    pub fn on_push<F>(&mut self, f: F)
    where
        F: OnEventFn,
    {
        self.on_push_fn = Some(Arc::new(f));
    }

    #[cfg(feature = "stats")]
    #[inline]
    pub fn on_pop<F>(&mut self, f: F)
    where
        F: OnEventFn,
    {
        self.on_pop_fn = Some(Arc::new(f));
    }

    #[inline]
    pub fn push(&self, v: T) -> Result<(), T> {
        let mut inner = self.inner.lock();
        if inner.len() >= self.cap || self.over_bytes_with(&v) {
            return Err(v);
        }
        #[cfg(feature = "stats")]
        if let Some(f) = self.on_push_fn.as_ref() {
            f();
        }
        self.bytes.fetch_add((self.weigh)(&v), std::sync::atomic::Ordering::Relaxed);
        inner.push_back(v);
        drop(inner);
        // Hearth patch: the receiver, if one waits (see `ReceiverStream`).
        self.receiver.wake();
        Ok(())
    }

    #[inline]
    pub fn pop(&self) -> Option<T> {
        let mut inner = self.inner.lock();
        if let Some(v) = inner.pop_front() {
            #[cfg(feature = "stats")]
            if let Some(f) = self.on_pop_fn.as_ref() {
                f();
            }
            self.bytes.fetch_sub((self.weigh)(&v), std::sync::atomic::Ordering::Relaxed);
            Some(v)
        } else {
            None
        }
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// Hearth patch: upstream's `mod test` here printed what a limited channel received and asserted
// nothing; the queue's stories, with assertions, are in Hearth's
// `crates/hearth-broker/tests/deliver_queue.rs`.

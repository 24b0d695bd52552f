//! rmqtt's delivery queue as Hearth patches it (vendor/PATCHES.md, rmqtt change 15): the queue
//! wakes the receiver waiting on it, rather than a token sent down a channel for each item, and
//! `governor`'s limiter stands between them only when a limit is set.

use futures::StreamExt;
use rmqtt::queue::{Limiter, Policy, Queue};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// rmqtt's default, which Hearth keeps: `u32::MAX` a second, no limit.
fn no_limit() -> Limiter {
    Limiter::new(NonZeroU32::MAX, Duration::from_secs(1))
}

const WAIT: Duration = Duration::from_millis(50);

/// The next item, within a second. A timeout polls its future once more when it fires, so a
/// receiver that was never woken would still find an item then: the time taken tells them apart.
/// Every wait of these stories goes through here, so that a regression fails rather than hangs.
async fn next_within_a_second<S: futures::Stream + Unpin>(rx: &mut S) -> Option<S::Item> {
    let started = Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.expect("the receiver was never woken");
    assert!(started.elapsed() < Duration::from_secs(1), "the receiver was not woken: it took {:?}", started.elapsed());
    next
}

/// The receiver waits first; the item comes from another task: without the push's wake, nothing
/// would poll the receiver again (the test's runtime has one thread, and this task waits on it).
#[tokio::test]
async fn items_queued_before_the_channel_come_first_and_each_later_one_wakes_the_waiting_receiver() {
    let queue = Arc::new(Queue::new(10));
    queue.push(1).unwrap();
    queue.push(2).unwrap();
    let limiter = no_limit();
    let (tx, mut rx) = limiter.channel(queue.clone());
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(1)));
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(2)));
    assert!(tokio::time::timeout(WAIT, rx.next()).await.is_err(), "nothing is queued: the receiver waits");
    let sender = tokio::spawn(async move {
        tokio::time::sleep(WAIT).await;
        tx.send(3).await.unwrap();
        tx
    });
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(3)), "the send woke the receiver that was already waiting");
    let tx = sender.await.unwrap();
    assert!(queue.is_empty());
    // And the sender's end wakes it too.
    let ending = tokio::spawn(async move {
        tokio::time::sleep(WAIT).await;
        drop(tx);
    });
    assert_eq!(next_within_a_second(&mut rx).await, None);
    ending.await.unwrap();
}

#[tokio::test]
async fn the_receiver_ends_once_its_sender_is_gone_and_the_queue_is_empty() {
    let queue = Arc::new(Queue::new(10));
    let limiter = no_limit();
    let (tx, mut rx) = limiter.channel(queue.clone());
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    drop(tx);
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(1)), "what was queued still comes");
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(2)));
    assert_eq!(next_within_a_second(&mut rx).await, None);
}

#[tokio::test]
async fn an_older_channels_sender_dropped_late_does_not_end_a_newer_receiver() {
    let queue = Arc::new(Queue::new(10));
    let limiter = no_limit();
    let (old_tx, old_rx) = limiter.channel(queue.clone());
    drop(old_rx);
    let (new_tx, mut new_rx) = limiter.channel(queue.clone());
    drop(old_tx);
    assert!(tokio::time::timeout(WAIT, new_rx.next()).await.is_err(), "the newer receiver still waits");
    new_tx.send(7).await.unwrap();
    assert_eq!(next_within_a_second(&mut new_rx).await, Some(Some(7)));
}

#[tokio::test]
async fn a_full_queue_keeps_its_policy_and_a_limited_channel_delivers_everything_in_order_at_its_pace() {
    let queue = Arc::new(Queue::new(3));
    // One item every 50 ms, a burst of one.
    let limiter = Limiter::new(NonZeroU32::new(1).unwrap(), WAIT);
    let (tx, mut rx) = limiter.channel(queue.clone());
    let tx = tx.policy(|_: &u32| Policy::Early);
    for item in 1..=3 {
        tx.send(item).await.unwrap();
    }
    assert_eq!(tx.send(4).await, Err(1), "the oldest gives way");
    let started = Instant::now();
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(next_within_a_second(&mut rx).await);
    }
    assert_eq!(received, [Some(Some(2)), Some(Some(3)), Some(Some(4))]);
    assert!(started.elapsed() >= WAIT * 3 / 2, "three items at one per 50 ms took {:?}", started.elapsed());
    // A limited receiver waiting on an empty queue is woken by a send from another task too.
    let sender = tokio::spawn(async move {
        tokio::time::sleep(WAIT).await;
        tx.send(5).await.unwrap();
        tx
    });
    assert_eq!(next_within_a_second(&mut rx).await, Some(Some(5)));
    sender.await.unwrap();
}

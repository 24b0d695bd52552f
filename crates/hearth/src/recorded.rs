//! Answers that include everything decided before they were asked for.
//!
//! The recorder writes a trickle of the gate's decisions once every [`GATHER`], not one
//! transaction per message: waking for each message's write put the broker's QoS 1 latency p99 at
//! two to three times Mosquitto's (README, *Performance*). A reader therefore first asks the
//! recorder to write what it holds ([`Flushes::wait_written`]), so that a device page, an export
//! or a command run right after a device published shows that message, as it did when every
//! message was written at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long the recorder gathers a trickle of records before writing them.
pub(crate) const GATHER: Duration = Duration::from_millis(100);

/// The longest a reader waits for the recorder (a large batch being written, a slow disk): then
/// it reads what is there.
const WAIT: Duration = Duration::from_secs(2);

/// Readers' requests to the recorder, and how far it has answered them.
#[derive(Debug, Default)]
pub(crate) struct Flushes {
    /// Whether a recorder is running to answer (none in unit tests, nor after shutdown).
    running: AtomicBool,
    /// Requests made so far; each reader's ticket is its number.
    asked: AtomicU64,
    /// The highest ticket whose records are written.
    done: Mutex<u64>,
    written: Condvar,
    /// Wakes the recorder (the permit is kept when it is busy, so no request is missed).
    wake: tokio::sync::Notify,
}

impl Flushes {
    /// Blocks until the recorder has written every record queued before this call (or [`WAIT`]
    /// passed). Only on a blocking thread: every API command runs on one.
    pub(crate) fn wait_written(&self) {
        if !self.running.load(Ordering::Acquire) {
            return;
        }
        let ticket = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        self.wake.notify_one();
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.written.wait_timeout_while(done, WAIT, |done| *done < ticket);
    }

    /// The recorder: from now on readers wait for it.
    pub(crate) fn start(&self) {
        self.running.store(true, Ordering::Release);
    }

    /// The recorder: it is gone; no reader waits any more.
    pub(crate) fn stop(&self) {
        self.running.store(false, Ordering::Release);
        self.answered(u64::MAX);
    }

    /// The recorder: resolves when a reader asked for a write.
    pub(crate) async fn asked(&self) {
        self.wake.notified().await;
    }

    /// The recorder: asks itself again (a request it took while gathering is answered by the main
    /// loop, which writes everything queued).
    pub(crate) fn ask_again(&self) {
        self.wake.notify_one();
    }

    /// The recorder, before taking what is queued: the requests this write will answer.
    pub(crate) fn ticket(&self) -> u64 {
        self.asked.load(Ordering::Acquire)
    }

    /// The recorder, after writing what was queued when it took `ticket`.
    pub(crate) fn answered(&self, ticket: u64) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        *done = (*done).max(ticket);
        self.written.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn without_a_recorder_nobody_waits() {
        let flushes = Flushes::default();
        let started = std::time::Instant::now();
        flushes.wait_written();
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    /// A started recorder's flushes, and a reader on a blocking thread waiting for them; the
    /// reader answers how long it waited.
    fn waiting_reader(flushes: &Arc<Flushes>) -> tokio::task::JoinHandle<Duration> {
        flushes.start();
        let flushes = flushes.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            flushes.wait_written();
            started.elapsed()
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_waits_until_its_request_is_answered() {
        let flushes = Arc::new(Flushes::default());
        let reader = waiting_reader(&flushes);
        flushes.asked().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ticket = flushes.ticket();
        assert_eq!(ticket, 1);
        flushes.answered(ticket);
        let waited = reader.await.unwrap();
        assert!(waited >= Duration::from_millis(200) && waited < WAIT, "waited {waited:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_releases_every_reader() {
        let flushes = Arc::new(Flushes::default());
        let reader = waiting_reader(&flushes);
        flushes.asked().await;
        flushes.stop();
        assert!(reader.await.unwrap() < WAIT);
    }
}

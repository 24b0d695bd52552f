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
use std::time::{Duration, Instant};

/// How long the recorder gathers a trickle of records before writing them.
pub(crate) const GATHER: Duration = Duration::from_millis(100);

/// The shortest time between two writes readers asked for. Every API command asks first; without
/// it a member sending requests as fast as they can (a guest included) would turn the recorder
/// back into a transaction per message of a trickle, the writing that doubled the broker's latency
/// tail. A page's first load (a handful of requests at once) waits at most this long more.
pub(crate) const ASKED_GAP: Duration = Duration::from_millis(10);

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
    /// The highest ticket whose records are written, and when it was answered.
    done: Mutex<(u64, Option<Instant>)>,
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
        let _ = self.written.wait_timeout_while(done, WAIT, |(done, _)| *done < ticket);
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

    /// The recorder, once asked, with something to write, before taking its ticket: waits until
    /// [`ASKED_GAP`] after the last answer, so that requests arriving meanwhile share one write.
    pub(crate) async fn spaced(&self) {
        let last = self.done.lock().unwrap_or_else(|p| p.into_inner()).1;
        if let Some(last) = last {
            tokio::time::sleep_until((last + ASKED_GAP).into()).await;
        }
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
        *done = (done.0.max(ticket), Some(Instant::now()));
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

    /// A member sending requests as fast as they can: the recorder's loop (as `recorder::run`
    /// answers) writes at most once per [`ASKED_GAP`], and every reader is still answered, none
    /// left to wait for [`WAIT`].
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_readers_is_answered_by_writes_spaced_apart() {
        let flushes = Arc::new(Flushes::default());
        flushes.start();
        let flood = Duration::from_millis(300);
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let flushes = flushes.clone();
                tokio::task::spawn_blocking(move || {
                    let (started, mut reads, mut longest) = (Instant::now(), 0_u32, Duration::ZERO);
                    while started.elapsed() < flood {
                        let asked = Instant::now();
                        flushes.wait_written();
                        (reads, longest) = (reads + 1, longest.max(asked.elapsed()));
                    }
                    (reads, longest)
                })
            })
            .collect();
        let recorder = {
            let flushes = flushes.clone();
            tokio::spawn(async move {
                let mut writes = 0_u32;
                while let Ok(()) = tokio::time::timeout(Duration::from_millis(500), flushes.asked()).await {
                    flushes.spaced().await;
                    let ticket = flushes.ticket();
                    writes += 1;
                    flushes.answered(ticket);
                }
                writes
            })
        };
        let mut reads = 0;
        for reader in readers {
            let (n, longest) = reader.await.unwrap();
            assert!(longest < WAIT / 4, "a reader waited {longest:?}");
            reads += n;
        }
        let writes = recorder.await.unwrap();
        let most = u32::try_from(flood.as_millis() / ASKED_GAP.as_millis()).unwrap() + 2;
        assert!(writes <= most, "{writes} writes for {reads} reads in {flood:?}: more than one each {ASKED_GAP:?}");
        assert!(reads > writes, "{reads} reads, {writes} writes: readers arriving together share a write");
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

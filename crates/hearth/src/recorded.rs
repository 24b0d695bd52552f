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
/// it a member sending requests as fast as they can (a guest included) could make the recorder
/// write a transaction per request, as it wrote per message before it gathered a trickle (the
/// writing that doubled the broker's latency tail). With it, readers add at most 100 transactions
/// a second, whatever their rate. A page's first load (a handful of requests at once) may wait
/// this long more, and only when something is queued.
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
    done: Mutex<Answered>,
    written: Condvar,
    /// Wakes the recorder (the permit is kept when it is busy, so no request is missed).
    wake: tokio::sync::Notify,
}

/// How far the recorder has answered readers.
#[derive(Debug, Default)]
struct Answered {
    /// The highest ticket whose records are written.
    ticket: u64,
    /// When the recorder last wrote because readers asked (see [`ASKED_GAP`]).
    wrote_at: Option<Instant>,
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
        let _ = self.written.wait_timeout_while(self.lock(), WAIT, |done| done.ticket < ticket);
    }

    /// The recorder: from now on readers wait for it.
    pub(crate) fn start(&self) {
        self.running.store(true, Ordering::Release);
    }

    /// The recorder: it is gone; no reader waits any more.
    pub(crate) fn stop(&self) {
        self.running.store(false, Ordering::Release);
        self.answered(u64::MAX, false);
    }

    /// The recorder: resolves when a reader asked for a write.
    pub(crate) async fn asked(&self) {
        self.wake.notified().await;
    }

    /// The recorder, once [`asked`](Self::asked): runs `write` (which writes everything queued)
    /// and answers every reader who asked before it ran. `ticket` is [`ticket`](Self::ticket),
    /// read before looking whether anything is `queued`: then nothing queued means that the
    /// readers up to it have nothing left to write, and they are answered at once. Otherwise the
    /// write comes no sooner than [`ASKED_GAP`] after the last one, so that readers asking
    /// meanwhile share it.
    pub(crate) async fn answer(&self, ticket: u64, queued: bool, write: impl Future<Output = ()>) {
        if !queued {
            self.answered(ticket, false);
            return;
        }
        if !self.someone_waits() {
            return; // a wake-up left by readers answered already
        }
        self.after_gap().await;
        // Taken again after the wait and before the write: a reader asking during the write is
        // answered by the next.
        let ticket = self.ticket();
        write.await;
        self.answered(ticket, true);
    }

    /// The recorder, while it gathers a trickle: resolves when a reader waits (not for a wake-up
    /// left by readers answered already), no sooner than [`ASKED_GAP`] after the last write
    /// readers asked for. The recorder then writes what it gathered, calls
    /// [`wrote_for_readers`](Self::wrote_for_readers), and answers the reader in its main loop:
    /// the wake-up is put back for it.
    pub(crate) async fn reader_waits(&self) {
        loop {
            self.asked().await;
            if self.someone_waits() {
                break;
            }
        }
        self.wake.notify_one();
        self.after_gap().await;
    }

    /// The recorder: it wrote what it gathered because a reader waited.
    pub(crate) fn wrote_for_readers(&self) {
        self.lock().wrote_at = Some(Instant::now());
    }

    /// Whether a reader asked since the last answer.
    fn someone_waits(&self) -> bool {
        self.ticket() > self.lock().ticket
    }

    /// Waits until [`ASKED_GAP`] after the last write readers asked for.
    async fn after_gap(&self) {
        let wrote_at = self.lock().wrote_at;
        if let Some(wrote_at) = wrote_at {
            tokio::time::sleep_until((wrote_at + ASKED_GAP).into()).await;
        }
    }

    /// The recorder: the requests made so far.
    pub(crate) fn ticket(&self) -> u64 {
        self.asked.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Answered> {
        self.done.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every record queued before request `ticket` is written.
    fn answered(&self, ticket: u64, wrote: bool) {
        let mut done = self.lock();
        done.ticket = done.ticket.max(ticket);
        if wrote {
            done.wrote_at = Some(Instant::now());
        }
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
        assert_eq!(flushes.ticket(), 1);
        let mut wrote = false;
        flushes.answer(flushes.ticket(), true, async { wrote = true }).await;
        assert!(wrote);
        let waited = reader.await.unwrap();
        assert!(waited >= Duration::from_millis(200) && waited < WAIT, "waited {waited:?}");
    }

    /// With nothing queued, right after a write: the reader is answered without a write and
    /// without waiting for [`ASKED_GAP`] (here made a minute, so that a wait would show).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_nothing_queued_a_reader_is_answered_at_once() {
        let flushes = Arc::new(Flushes::default());
        let first = waiting_reader(&flushes);
        flushes.asked().await;
        flushes.answer(flushes.ticket(), true, async {}).await;
        first.await.unwrap();
        flushes.lock().wrote_at = Some(Instant::now() + Duration::from_secs(60));
        let second = waiting_reader(&flushes);
        flushes.asked().await;
        let started = Instant::now();
        flushes.answer(flushes.ticket(), false, async { panic!("nothing was queued: nothing to write") }).await;
        assert!(started.elapsed() < Duration::from_secs(30), "the reader waited for the gap");
        second.await.unwrap();
        assert_eq!(flushes.lock().ticket, 2, "both readers answered");
    }

    /// While the recorder gathers a trickle, a wake-up left by readers answered already does not
    /// cut the gathering short; a reader who waits does, and its wake-up is kept for the main loop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_a_waiting_reader_cuts_the_gathering_short() {
        let flushes = Arc::new(Flushes::default());
        let answered = waiting_reader(&flushes);
        flushes.asked().await;
        flushes.answer(flushes.ticket(), true, async {}).await;
        answered.await.unwrap();
        flushes.wake.notify_one(); // as a reader's, arriving just after the recorder took its ticket
        let gathering = tokio::time::timeout(Duration::from_millis(200), flushes.reader_waits()).await;
        assert!(gathering.is_err(), "a wake-up for nobody ended the gathering");
        let reader = waiting_reader(&flushes);
        tokio::time::timeout(WAIT, flushes.reader_waits()).await.expect("the reader's wake-up");
        tokio::time::timeout(WAIT, flushes.asked()).await.expect("kept for the main loop");
        flushes.answer(flushes.ticket(), false, async {}).await;
        assert!(reader.await.unwrap() < WAIT);
    }

    /// A member sending requests as fast as they can while records are queued: answered as the
    /// main loop of `recorder::run` answers them (its write counted), writes are at least
    /// [`ASKED_GAP`] apart, readers share them, and none is left to wait for [`WAIT`].
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_readers_is_answered_by_writes_spaced_apart() {
        let flushes = Arc::new(Flushes::default());
        flushes.start();
        let flood = Duration::from_millis(300);
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let flushes = flushes.clone();
                tokio::task::spawn_blocking(move || {
                    let (started, mut reads, mut longest) = (Instant::now(), 0_usize, Duration::ZERO);
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
                let mut writes = Vec::new();
                while let Ok(()) = tokio::time::timeout(Duration::from_secs(1), flushes.asked()).await {
                    flushes.answer(flushes.ticket(), true, async { writes.push(Instant::now()) }).await;
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
        for pair in writes.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= ASKED_GAP, "two writes {gap:?} apart");
        }
        assert!(writes.len() < reads, "{reads} reads, {} writes: readers asking together share a write", writes.len());
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

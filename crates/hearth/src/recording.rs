//! Whether the recorder can write: when the data directory's disk is full, the broker goes on
//! brokering and delivering (it never waits on the disk) while recording pauses, loudly but once:
//! one log line, a status the UI shows as a banner and `hearth status` prints, and a count of
//! what was not recorded. Every [`PROBE_EVERY`] one batch is tried again; the first that is
//! written ends the pause, with one more log line.

use crate::api::types::{Event, RecordingStatus};
use hearth_store::StoreError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How often a paused recorder tries to write again: often enough that recording resumes within
/// seconds of space coming back, seldom enough that a full disk costs nothing.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Recording {
    /// Since when (ms since the epoch) recording is paused, and when it last tried to write.
    paused: Mutex<Option<(i64, Instant)>>,
    /// Records not written while paused, since start.
    dropped: AtomicU64,
    events: broadcast::Sender<Event>,
}

impl Recording {
    pub fn new(events: broadcast::Sender<Event>) -> Self {
        Self { paused: Mutex::new(None), dropped: AtomicU64::new(0), events }
    }

    fn paused(&self) -> std::sync::MutexGuard<'_, Option<(i64, Instant)>> {
        self.paused.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether to write `records` now: always while recording runs; while it is paused, once per
    /// [`PROBE_EVERY`] (the others are counted as not recorded).
    pub fn should_try(&self, records: usize) -> bool {
        let mut paused = self.paused();
        match paused.as_mut() {
            None => true,
            Some((_, last_try)) if last_try.elapsed() >= PROBE_EVERY => {
                *last_try = Instant::now();
                true
            }
            Some(_) => {
                self.dropped.fetch_add(records as u64, Ordering::Relaxed);
                false
            }
        }
    }

    /// A write of `records` failed with `error`. A full disk pauses recording (told once); other
    /// errors are the caller's to log.
    pub fn failed(&self, error: &StoreError, records: usize) -> bool {
        if !matches!(error, StoreError::DiskFull(_)) {
            return false;
        }
        self.dropped.fetch_add(records as u64, Ordering::Relaxed);
        let mut paused = self.paused();
        if paused.is_none() {
            *paused = Some((crate::api::now(), Instant::now()));
            drop(paused);
            tracing::error!(
                "the disk of Hearth's data directory is full: recording has stopped (devices' messages are still brokered and delivered, \
                 but not recorded). Free some space; recording resumes by itself within {} s",
                PROBE_EVERY.as_secs()
            );
            let _ = self.events.send(Event::StatusChanged);
        }
        true
    }

    /// A write succeeded: a pause ends.
    pub fn succeeded(&self) {
        let mut paused = self.paused();
        if let Some((since, _)) = paused.take() {
            drop(paused);
            let minutes = (crate::api::now() - since) / 60_000;
            tracing::warn!(
                not_recorded = self.dropped.load(Ordering::Relaxed),
                "there is room on the disk again: recording resumed after {minutes} min"
            );
            let _ = self.events.send(Event::StatusChanged);
        }
    }

    pub fn status(&self) -> RecordingStatus {
        RecordingStatus { paused_since: self.paused().map(|(since, _)| since), not_recorded: self.dropped.load(Ordering::Relaxed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk_full() -> StoreError {
        StoreError::DiskFull(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(13), None))
    }

    #[test]
    fn a_full_disk_pauses_recording_once_and_a_successful_write_resumes_it() {
        let (events, mut rx) = broadcast::channel(8);
        let recording = Recording::new(events);
        assert!(recording.should_try(10));
        assert!(recording.failed(&disk_full(), 10));
        assert!(recording.failed(&disk_full(), 5), "still full: counted");
        assert!(matches!(rx.try_recv(), Ok(Event::StatusChanged)));
        assert!(rx.try_recv().is_err(), "told once, not per batch");
        assert!(!recording.should_try(7), "paused: not tried until the next probe");
        let status = recording.status();
        assert!(status.paused_since.is_some());
        assert_eq!(status.not_recorded, 22);
        recording.succeeded();
        assert!(matches!(rx.try_recv(), Ok(Event::StatusChanged)));
        assert_eq!(recording.status().paused_since, None);
        assert!(recording.should_try(1));
        assert!(!recording.failed(&StoreError::Busy("x".into()), 1), "only a full disk pauses");
    }
}

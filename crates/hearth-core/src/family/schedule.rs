//! When a grant holds: weekly windows of local time. The caller turns the clock into the home's
//! local weekday and minute (a [`Moment`]), so deciding stays pure and time zones, daylight
//! saving and the calendar stay with the caller, who has them.

use crate::inventory::Millis;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Minutes in a day: a window's `from` is below it, its `to` at most it (24:00).
pub const MINUTES_PER_DAY: u16 = 1440;

/// A schedule's bound: more windows than anyone sets by hand means a script or a mistake, and
/// every window is checked on every request.
pub const MAX_WINDOWS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// The day before: a window that wraps past midnight started then (Sunday before Monday).
    pub fn yesterday(self) -> Self {
        match self {
            Self::Mon => Self::Sun,
            Self::Tue => Self::Mon,
            Self::Wed => Self::Tue,
            Self::Thu => Self::Wed,
            Self::Fri => Self::Thu,
            Self::Sat => Self::Fri,
            Self::Sun => Self::Sat,
        }
    }
}

/// Now, as the home's clock reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Moment {
    /// UTC, for expiry: an expiry is an instant, not a time of day.
    #[ts(type = "number")]
    pub at: Millis,
    /// The home's local weekday and minute of the day (0..1440), for schedules.
    pub weekday: Weekday,
    pub minute: u16,
}

impl Moment {
    /// The weekday before `weekday` (see [`Weekday::yesterday`]).
    pub fn yesterday_of(weekday: Weekday) -> Weekday {
        weekday.yesterday()
    }
}

/// From `from` to `to` (minutes of the day) on each of `days`. `to` is outside, so 08:00–17:00
/// and 17:00–20:00 do not overlap. `to < from` runs past midnight and belongs to the day it
/// starts: Friday 22:00–07:00 is Friday 22:00 to Saturday 07:00, which is how people say it.
/// `from == to` is each listed day whole, midnight to midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
// `Window` alone would shadow the browser's own `Window` type wherever the UI imports it.
#[ts(export, rename = "ScheduleWindow")]
pub struct Window {
    pub days: Vec<Weekday>,
    pub from: u16,
    pub to: u16,
}

impl Window {
    pub fn contains(&self, now: &Moment) -> bool {
        let on = |day: Weekday| self.days.contains(&day);
        if self.from == self.to {
            on(now.weekday)
        } else if self.from < self.to {
            on(now.weekday) && (self.from..self.to).contains(&now.minute)
        } else {
            (on(now.weekday) && now.minute >= self.from) || (on(now.weekday.yesterday()) && now.minute < self.to)
        }
    }
}

/// When a grant holds: inside any of its windows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Schedule {
    pub windows: Vec<Window>,
}

/// Why a schedule was refused, naming the window (counted from 1, as a person reads a list).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSchedule {
    #[error("the schedule has no window, so its grant would never hold; add a window or remove the schedule")]
    NoWindow,
    #[error("the schedule has {0} windows; at most {MAX_WINDOWS} are allowed")]
    TooManyWindows(usize),
    #[error("window {0} has no day; pick at least one weekday")]
    NoDay(usize),
    #[error("window {window} starts at minute {from}; a day has minutes 0 to 1439 (00:00 to 23:59)")]
    BadFrom { window: usize, from: u16 },
    #[error("window {window} ends at minute {to}; the latest end is 1440 (24:00)")]
    BadTo { window: usize, to: u16 },
}

impl Schedule {
    /// Checks what a person or the API sent, before it is stored: a bad window must be refused
    /// with a reason, not silently never match.
    pub fn validate(&self) -> Result<(), InvalidSchedule> {
        if self.windows.is_empty() {
            return Err(InvalidSchedule::NoWindow);
        }
        if self.windows.len() > MAX_WINDOWS {
            return Err(InvalidSchedule::TooManyWindows(self.windows.len()));
        }
        for (i, w) in self.windows.iter().enumerate() {
            let window = i + 1;
            if w.days.is_empty() {
                return Err(InvalidSchedule::NoDay(window));
            }
            if w.from >= MINUTES_PER_DAY {
                return Err(InvalidSchedule::BadFrom { window, from: w.from });
            }
            if w.to > MINUTES_PER_DAY {
                return Err(InvalidSchedule::BadTo { window, to: w.to });
            }
        }
        Ok(())
    }

    pub fn contains(&self, now: &Moment) -> bool {
        self.windows.iter().any(|w| w.contains(now))
    }
}

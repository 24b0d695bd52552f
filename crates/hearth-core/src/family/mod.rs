//! The household: members with a role, and grants that give or take their rights on a device,
//! a room or the whole home, at some times and until some instant. One pure function,
//! [`authorize`](authorize()), decides every request and says why, so the rules are tested with plain tables.
//!
//! - [`household`]: [`Member`]s and their [`Role`], the [`Right`]s they ask for, the [`Grant`]s,
//!   and the [`DeviceFacts`] that decide (room, sensitive, personal); [`is_sensitive`].
//! - [`schedule`]: weekly windows of the home's local time; the caller supplies the
//!   [`Moment`] (local weekday and minute), so no clock or time zone is read here.
//! - [`authorize`](mod@authorize): the decision, an [`Authorization`] with its [`Because`].
//!
//! Rights are independent: `Control` does not imply `View`. A caller listing devices checks
//! `View` for each one, and a caller showing another member's data records the look when
//! [`Authorization::looks_at_another_members_data`] says so.

pub mod authorize;
pub mod household;
pub mod schedule;
pub mod schedule_text;
#[cfg(test)]
mod tests;

pub use authorize::{Authorization, Because, Level, Subject, authorize};
pub use household::{
    DeviceFacts, Effect, Grant, InvalidRight, InvalidRole, Member, MemberId, PersonalOwner, Right, Role, RoomId, Target, is_sensitive,
};
pub use schedule::{InvalidSchedule, MAX_WINDOWS, MINUTES_PER_DAY, Moment, Schedule, Weekday, Window};

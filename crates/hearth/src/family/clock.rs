//! Now, as the home's clock reads it: schedules are in the home's local time ("school nights
//! until 21:00"), expiry is an instant. The home's time zone is this machine's (`TZ`, or
//! `/etc/localtime`), read once; a hub without time zone data counts in UTC and says so.

use hearth_core::family::{Moment, Weekday};
use std::sync::OnceLock;

fn zone() -> &'static jiff::tz::TimeZone {
    static ZONE: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| match jiff::tz::TimeZone::try_system() {
        Ok(zone) => zone,
        Err(e) => {
            tracing::warn!("this machine's time zone is unknown ({e}); schedules count in UTC");
            jiff::tz::TimeZone::UTC
        }
    })
}

/// The home's name for its time zone ("Europe/Berlin"), as shown next to schedules.
pub fn zone_name() -> String {
    zone().iana_name().unwrap_or("UTC").to_owned()
}

/// `at` as a person reads it on the home's clock: `2026-12-01 19:34`.
pub fn local_time(at: i64) -> String {
    jiff::Timestamp::from_millisecond(at).map(|t| t.to_zoned(zone().clone()).strftime("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// `at` (ms since the epoch) as the home's clock reads it.
pub fn moment(at: i64) -> Moment {
    let local = jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_zoned(zone().clone());
    let weekday = match local.weekday() {
        jiff::civil::Weekday::Monday => Weekday::Mon,
        jiff::civil::Weekday::Tuesday => Weekday::Tue,
        jiff::civil::Weekday::Wednesday => Weekday::Wed,
        jiff::civil::Weekday::Thursday => Weekday::Thu,
        jiff::civil::Weekday::Friday => Weekday::Fri,
        jiff::civil::Weekday::Saturday => Weekday::Sat,
        jiff::civil::Weekday::Sunday => Weekday::Sun,
    };
    let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    Moment { at, weekday, minute }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_instant_reads_as_its_weekday_and_minute_in_utc() {
        // 2026-12-01 19:10 UTC was a Tuesday; the weekday and minute move with the zone, so
        // the test checks them in UTC through jiff directly and the mapping through `moment`.
        let at = 1_796_152_200_000;
        let utc = jiff::Timestamp::from_millisecond(at).unwrap().to_zoned(jiff::tz::TimeZone::UTC);
        assert_eq!((utc.weekday(), utc.hour(), utc.minute()), (jiff::civil::Weekday::Tuesday, 19, 10));
        let m = moment(at);
        assert_eq!(m.at, at);
        assert!(m.minute < 1440);
    }
}

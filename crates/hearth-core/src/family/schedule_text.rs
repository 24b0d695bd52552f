//! A schedule as people write it and read it: `Mon-Fri 07:00-20:00; Sat,Sun 09:00-21:00`.
//! Days are ranges (`Mon-Fri`, wrapping: `Fri-Mon`) or lists (`Sat,Sun`), or `daily`; times are
//! `HH:MM`, `24:00` allowed as an end; windows are separated by `;`.

use super::schedule::{MINUTES_PER_DAY, Schedule, Weekday, Window};
use std::fmt;
use std::str::FromStr;

const DAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "Mon"),
    (Weekday::Tue, "Tue"),
    (Weekday::Wed, "Wed"),
    (Weekday::Thu, "Thu"),
    (Weekday::Fri, "Fri"),
    (Weekday::Sat, "Sat"),
    (Weekday::Sun, "Sun"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a schedule; write it like `Mon-Fri 07:00-20:00; Sat,Sun 09:00-21:00` (days, then from-to)")]
pub struct ScheduleSyntax(pub String);

fn day(s: &str) -> Option<usize> {
    DAYS.iter().position(|(_, name)| name.eq_ignore_ascii_case(s.trim()))
}

fn minute(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minute = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && minute <= u32::from(MINUTES_PER_DAY)).then(|| u16::try_from(minute).ok()).flatten()
}

fn days(s: &str) -> Option<Vec<Weekday>> {
    if s.eq_ignore_ascii_case("daily") {
        return Some(DAYS.iter().map(|(d, _)| *d).collect());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut i, end) = (day(a)?, day(b)?);
                loop {
                    out.push(DAYS[i].0);
                    if i == end {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => out.push(DAYS[day(part)?].0),
        }
    }
    out.dedup();
    Some(out)
}

impl FromStr for Schedule {
    type Err = ScheduleSyntax;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ScheduleSyntax(crate::text::clip(s, crate::text::LOGGED).into_owned());
        let mut windows = Vec::new();
        for window in s.split(';').map(str::trim).filter(|w| !w.is_empty()) {
            let (d, times) = window.split_once(char::is_whitespace).ok_or_else(bad)?;
            let (from, to) = times.trim().split_once('-').ok_or_else(bad)?;
            let (from, to) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
            if from >= MINUTES_PER_DAY {
                return Err(bad());
            }
            windows.push(Window { days: days(d).ok_or_else(bad)?, from, to });
        }
        if windows.is_empty() {
            return Err(bad());
        }
        Ok(Self { windows })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        for (i, w) in self.windows.iter().enumerate() {
            let names: Vec<&str> = w.days.iter().filter_map(|d| DAYS.iter().find(|(x, _)| x == d).map(|(_, n)| *n)).collect();
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}{} {}-{}", names.join(","), hhmm(w.from), hhmm(w.to))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    #[test]
    fn schedules_read_as_people_write_them() {
        let s: Schedule = "Mon-Fri 07:00-20:00; Sat,Sun 09:00-24:00".parse().unwrap();
        assert_eq!(s.windows[0], Window { days: vec![Mon, Tue, Wed, Thu, Fri], from: 420, to: 1200 });
        assert_eq!(s.windows[1], Window { days: vec![Sat, Sun], from: 540, to: 1440 });
        assert_eq!(s.to_string(), "Mon,Tue,Wed,Thu,Fri 07:00-20:00; Sat,Sun 09:00-24:00");
        assert_eq!("Fri-Mon 22:00-07:00".parse::<Schedule>().unwrap().windows[0].days, [Fri, Sat, Sun, Mon], "ranges wrap");
        assert_eq!("daily 00:00-00:00".parse::<Schedule>().unwrap().windows[0].days.len(), 7);
        for bad in [
            "",
            "Mon",
            "Mon 7-8",
            "Funday 07:00-08:00",
            "Mon 24:00-24:00",
            "Mon 07:60-08:00",
            "Mon 25:00-26:00",
            "Mon 1093:00-1094:00",
            "Mon 99999999:00-08:00",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?} should be refused");
        }
        assert!(s.validate().is_ok());
    }
}

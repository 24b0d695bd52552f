//! Strings from outside (a client id, a username, a Will topic a client chose), made safe to keep
//! and to log: cut to a bound, control characters replaced. Anything a client without a
//! credential sends is bounded with these before it is stored or logged.

use std::borrow::Cow;

/// The most of an outside string written to the log.
pub const LOGGED: usize = 64;
/// The most of an outside string kept in the database.
pub const STORED: usize = 256;

/// `s` cut to at most `max` bytes (on a character boundary) with how much was cut said at the
/// end, and control characters (which corrupt terminals and log files) replaced.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(max.min(s.len()) + 24);
    for (at, c) in s.char_indices() {
        // A control character is written as U+FFFD, three bytes: what counts is what is written.
        let shown = if c.is_control() { '\u{fffd}' } else { c };
        if out.len() + shown.len_utf8() > max {
            out.push_str(&format!("…(+{} bytes)", s.len() - at));
            break;
        }
        out.push(shown);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_odd_strings_are_cut_and_cleaned_short_ones_kept() {
        assert!(matches!(clip("plug-1", LOGGED), Cow::Borrowed("plug-1")));
        let huge = "x".repeat(60_000);
        let cut = clip(&huge, LOGGED);
        assert!(cut.starts_with(&"x".repeat(LOGGED)) && cut.ends_with("…(+59936 bytes)"), "{cut}");
        assert!(cut.len() < LOGGED + 24);
        assert_eq!(clip("a\nb\u{1b}[31m", LOGGED), "a\u{fffd}b\u{fffd}[31m");
        assert_eq!(clip("ééé", 5), "éé…(+2 bytes)");
        // Control characters grow when replaced: the bound holds for what is written.
        let controls = "\u{1}".repeat(30);
        let cut = clip(&controls, LOGGED);
        assert!(cut.starts_with('\u{fffd}') && cut.ends_with("…(+9 bytes)"), "{cut}");
        assert!(cut.len() <= LOGGED + 24);
    }
}

//! MQTT topic names and filters (MQTT 3.1.1 §4.7, MQTT 5 §4.7): validation, matching, and
//! whether one filter lies within another. Manifests are written in filters, so the gate needs
//! all three.

/// The longest topic name or filter Hearth accepts from a device. MQTT allows 65 535 bytes;
/// real firmware's topics are under 100 (`homeassistant/sensor/0x00158d0001a2b3c4/temperature/config`
/// is 59). Every topic a device uses is kept in the ledger and matched against manifests, so a
/// bound here bounds both.
pub const MAX_TOPIC_BYTES: usize = 1024;

/// A name a message is published to: non-empty, at most [`MAX_TOPIC_BYTES`], no wildcards, no NUL.
pub fn is_valid_name(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= MAX_TOPIC_BYTES && !topic.contains(['+', '#', '\0'])
}

/// A subscription filter or manifest pattern: `+` fills one whole level, `#` only as the whole
/// last level; at most [`MAX_TOPIC_BYTES`].
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > MAX_TOPIC_BYTES || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| match *level {
        "#" => i == levels.len() - 1,
        "+" => true,
        other => !other.contains(['+', '#']),
    })
}

/// Whether `filter` matches the topic `name`. Wildcards at the first level do not match topics
/// starting with `$` (`$SYS/...`), as the specification requires. Only a valid name is matched:
/// a filter (`tele/+/x`) or an empty string is no topic a message is published to, and a `+` in
/// it would otherwise match any level (`cmnd/plug1/#` "matching" `cmnd/plug1/+`).
pub fn matches(filter: &str, name: &str) -> bool {
    if !is_valid_name(name) || (name.starts_with('$') && filter.starts_with(['+', '#'])) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every topic `inner` can match is also matched by `outer`: a subscription to
/// `inner` stays within what the manifest pattern `outer` allows.
pub fn covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') && outer.starts_with(['+', '#']) {
        return false;
    }
    let mut o = outer.split('/');
    let mut i = inner.split('/');
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && b != "+" && b != "#" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some topic name could match both filters (a subscription and a denied pattern that
/// overlap without either containing the other: `cmnd/plug1/#` and `cmnd/+/Restart`).
pub fn intersects(a: &str, b: &str) -> bool {
    if (a.starts_with('$') && b.starts_with(['+', '#'])) || (b.starts_with('$') && a.starts_with(['+', '#'])) {
        return false;
    }
    let mut x = a.split('/');
    let mut y = b.split('/');
    // Whether the one topic both could match so far is the empty first level (`+` against
    // `/#`): a `#` matching its parent there stands for the empty string, which is no topic name.
    let (mut only_empty, mut level) = (false, 0);
    loop {
        match (x.next(), y.next()) {
            (Some("#"), Some(_)) | (Some(_), Some("#")) | (None, None) => return true,
            (Some("#"), None) | (None, Some("#")) => return !(level == 1 && only_empty),
            (Some("+"), Some(l)) | (Some(l), Some("+")) => only_empty = level == 0 && l.is_empty(),
            (Some(l), Some(r)) if l == r => only_empty = level == 0 && l.is_empty(),
            _ => return false,
        }
        level += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_longer_than_any_firmware_uses_is_not_valid() {
        let long = format!("tele/{}/SENSOR", "x".repeat(MAX_TOPIC_BYTES));
        assert!(!is_valid_name(&long) && !is_valid_filter(&long));
        assert!(is_valid_name(&"a/".repeat(MAX_TOPIC_BYTES / 2 - 1)));
    }

    #[test]
    fn names_and_filters() {
        assert!(is_valid_name("tele/plug1/SENSOR"));
        assert!(!is_valid_name("tele/+/SENSOR") && !is_valid_name("") && !is_valid_name("a/#"));
        for ok in ["#", "+", "a/+/c", "a/#", "a//b", "+/+/#"] {
            assert!(is_valid_filter(ok), "{ok}");
        }
        for bad in ["", "a/#/c", "a+/b", "a/b#", "#/a"] {
            assert!(!is_valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn matching_follows_the_specification() {
        let cases = [
            ("sport/tennis/#", "sport/tennis", true),
            ("sport/tennis/#", "sport/tennis/player1/ranking", true),
            ("sport/+/player1", "sport/tennis/player1", true),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("#", "$SYS/uptime", false),
            ("+/uptime", "$SYS/uptime", false),
            ("$SYS/#", "$SYS/uptime", true),
            ("cmnd/plug1/#", "cmnd/plug2/POWER", false),
            // Not topic names: a filter matches no filter, and nothing matches the empty name.
            ("#", "+/uptime", false),
            ("cmnd/plug1/#", "cmnd/plug1/+", false),
            ("a/#", "a/#", false),
            ("#", "", false),
            ("+", "", false),
        ];
        for (filter, name, want) in cases {
            assert_eq!(matches(filter, name), want, "{filter} vs {name}");
        }
    }

    #[test]
    fn overlapping_filters() {
        let cases = [
            ("cmnd/plug1/#", "cmnd/+/Restart", true),
            ("cmnd/plug1/+", "cmnd/plug2/+", false),
            ("a/+/c", "a/b/+", true),
            ("a/b", "a/b/#", true),
            ("a/b/c", "a/b", false),
            ("#", "$SYS/x", false),
            // Found by the topic fuzz target: `+` is one level, and the one topic of one level
            // that `/#` matches is the empty string, which no message is published to.
            ("+", "/#", false),
            ("+/#", "+", true),
            ("/#", "/", true),
            ("/+", "/#", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(intersects(a, b), want, "{a} ∩ {b}");
            assert_eq!(intersects(b, a), want, "{b} ∩ {a}");
        }
    }

    #[test]
    fn a_filter_within_a_pattern() {
        let cases = [
            ("cmnd/plug1/#", "cmnd/plug1/POWER", true),
            ("cmnd/plug1/#", "cmnd/plug1/#", true),
            ("cmnd/plug1/#", "cmnd/+/POWER", false),
            ("cmnd/+/POWER", "cmnd/plug1/POWER", true),
            ("cmnd/+/POWER", "cmnd/+/POWER", true),
            ("cmnd/+/POWER", "cmnd/#", false),
            ("cmnd/plug1", "cmnd/plug1/#", false),
            ("#", "anything/at/all", true),
            ("#", "$SYS/#", false),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(covers(outer, inner), want, "{outer} ⊇ {inner}");
        }
    }
}

//! How long each string a person (or a script with the owner token) may send is, in one place.
//!
//! Every text that comes through the API is checked here before anything else reads it, so
//! that a huge or odd value never reaches the store, the gate's memory (checked on every
//! message), the log, or an error message quoting it. The limits are far above what a real
//! home needs; an error names the field, the limit, and what to do. Values are never quoted back
//! when they are too long: an error message must not be a way to make the hub echo megabytes.

use crate::api::types::{ApiError, Retention};

/// A device's name, as a person gives it (mDNS names are at most 63 bytes; people write less).
pub const DEVICE_NAME_CHARS: usize = 100;
/// A manifest's topic pattern: as long as any topic a device may use
/// (`hearth_core::topic::MAX_TOPIC_BYTES`), so that every topic a device tried can be allowed.
/// Real firmware's topics are well under 100 bytes.
pub const TOPIC_PATTERN_BYTES: usize = hearth_core::topic::MAX_TOPIC_BYTES;
/// A field path to redact (`Wifi.SSId`), checked against every message of its device.
pub const REDACTION_PATH_BYTES: usize = 256;
/// A client id to bind or pin. MQTT 3.1 allowed 23 characters; brokers in the cloud allow 128;
/// firmware uses far fewer (`DVES_A1B2C3`, `shellyplusplugs-c4dd57877294`).
pub const CLIENT_ID_BYTES: usize = 128;
/// An IP address as text: the longest IPv6 form is 45 characters.
pub const ADDRESS_BYTES: usize = 64;
/// A duration as people write it (`90m`, `7d`).
pub const DURATION_CHARS: usize = 16;
/// Retention in days: ten years, as the CLI takes it.
pub const RETENTION_DAYS: u32 = 3650;
/// What a browser says it is, kept with its session (a bounded part of its User-Agent).
pub const USER_AGENT_CHARS: usize = 200;
/// A one-time sign-in code (32 hex characters today).
pub const LOGIN_CODE_CHARS: usize = 64;
/// At most this much of a client's own input is quoted back in an error message.
pub const QUOTED_CHARS: usize = 80;
/// At most this much of a parser's explanation of a request body (which may quote the body).
pub const BODY_ERROR_CHARS: usize = 300;

/// A one-line text (a name): trimmed, 1 to `max_chars` characters, no control characters (a
/// line break in a name would forge lines in the CLI's tables and in the log).
pub fn one_line<'a>(field: &str, value: &'a str, max_chars: usize) -> Result<&'a str, ApiError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 {
        return Err(ApiError::bad_request(format!("`{field}` is empty: give it 1 to {max_chars} characters")));
    }
    if chars > max_chars {
        return Err(ApiError::bad_request(format!(
            "`{field}` is too long: at most {max_chars} characters, this one has {chars}; shorten it"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`{field}` holds a control character (a line break, a tab…); use one line of plain text"
        )));
    }
    Ok(value)
}

/// A machine text (a topic pattern, a client id, a field path): trimmed, 1 to `max_bytes` bytes
/// of UTF-8 (what MQTT and the store count), no control characters.
pub fn token<'a>(field: &str, value: &'a str, max_bytes: usize) -> Result<&'a str, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("`{field}` is empty: give it 1 to {max_bytes} bytes")));
    }
    if value.len() > max_bytes {
        return Err(ApiError::bad_request(format!(
            "`{field}` is too long: at most {max_bytes} bytes, this one has {}; shorten it",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`{field}` holds a control character (NUL, a line break, a tab…), which no device uses here; remove it"
        )));
    }
    Ok(value)
}

/// A retention a person chose: days within ten years.
pub fn retention(value: Option<Retention>) -> Result<Option<Retention>, ApiError> {
    match value {
        Some(Retention::Days(d)) if d == 0 || d > RETENTION_DAYS => Err(ApiError::bad_request(format!(
            "`retention` keeps values for 1 to {RETENTION_DAYS} days, not {d}; choose a number in that range, or `metadata` or `none`"
        ))),
        other => Ok(other),
    }
}

/// `text` as it may be quoted in an error message: cut to [`QUOTED_CHARS`] characters, with
/// control characters shown as `?`.
pub fn quoted(text: &str) -> String {
    cut(text, QUOTED_CHARS)
}

/// `text` cut to `max_chars` characters (an ellipsis marks the cut), control characters as `?`.
pub fn cut(text: &str, max_chars: usize) -> String {
    let mut shown: String = text.chars().take(max_chars).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().nth(max_chars).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_bounded_line() {
        assert_eq!(one_line("name", "  Kitchen plug ", DEVICE_NAME_CHARS).unwrap(), "Kitchen plug");
        assert_eq!(one_line("name", &"ü".repeat(DEVICE_NAME_CHARS), DEVICE_NAME_CHARS).unwrap().chars().count(), DEVICE_NAME_CHARS);
        let long = one_line("name", &"x".repeat(DEVICE_NAME_CHARS + 1), DEVICE_NAME_CHARS).unwrap_err().message;
        assert!(long.contains("`name`") && long.contains("at most 100 characters") && long.contains("101"), "{long}");
        assert!(one_line("name", "   ", DEVICE_NAME_CHARS).unwrap_err().message.contains("empty"));
        assert!(one_line("name", "Plug\nroot ALL", DEVICE_NAME_CHARS).unwrap_err().message.contains("control character"));
    }

    #[test]
    fn machine_texts_are_bounded_in_bytes_and_never_quoted_back() {
        assert_eq!(token("client_id", "DVES_A1B2C3", CLIENT_ID_BYTES).unwrap(), "DVES_A1B2C3");
        let huge = "é".repeat(100_000);
        let err = token("client_id", &huge, CLIENT_ID_BYTES).unwrap_err();
        assert!(err.message.contains("`client_id`") && err.message.contains("at most 128 bytes"), "{}", err.message);
        assert!(err.message.len() < 200, "the value is not echoed: {}", err.message.len());
        assert!(token("pattern", "a/\0/b", TOPIC_PATTERN_BYTES).is_err());
    }

    #[test]
    fn retention_days_are_bounded() {
        assert_eq!(retention(Some(Retention::Days(30))).unwrap(), Some(Retention::Days(30)));
        assert_eq!(retention(None).unwrap(), None);
        assert_eq!(retention(Some(Retention::Metadata)).unwrap(), Some(Retention::Metadata));
        for d in [0, RETENTION_DAYS + 1, u32::MAX] {
            let err = retention(Some(Retention::Days(d))).unwrap_err().message;
            assert!(err.contains("`retention`") && err.contains("3650"), "{err}");
        }
    }

    #[test]
    fn quoting_is_cut_short() {
        assert_eq!(quoted("7d"), "7d");
        assert_eq!(quoted(&"x".repeat(10_000)).chars().count(), QUOTED_CHARS + 1);
        assert_eq!(quoted("a\nb"), "a?b");
    }

    /// Each request type of the API, through the hub's own commands (what HTTP, the CLI and the
    /// desktop all call): too long is refused, naming the field and its limit.
    mod through_the_api {
        use super::super::*;
        use crate::api::types::{
            AnonymousAccess, Category, Direction, ErrorCode, RedactionRequest, RetentionRequest, RuleChoice, TopicRuleRequest,
        };

        fn refused(result: Result<impl std::fmt::Debug, ApiError>, field: &str, limit: &str) {
            let err = result.unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{}", err.message);
            assert!(err.message.contains(&format!("`{field}`")) && err.message.contains(limit), "{}", err.message);
            assert!(err.message.len() < 300, "the value is not echoed back: {} bytes", err.message.len());
        }

        #[test]
        fn device_names() {
            let (hub, _dir) = crate::testing::hub();
            let added = hub.add_device(&"n".repeat(DEVICE_NAME_CHARS), &crate::family::Caller::local_owner("cli")).unwrap();
            assert_eq!(added.device.name.chars().count(), DEVICE_NAME_CHARS);
            refused(
                hub.add_device(&"n".repeat(DEVICE_NAME_CHARS + 1), &crate::family::Caller::local_owner("cli")),
                "name",
                "100 characters",
            );
            refused(
                hub.add_device("Plug\n2024-01-01 device approved", &crate::family::Caller::local_owner("cli")),
                "name",
                "control character",
            );
        }

        #[test]
        fn topic_patterns_are_bounded_and_valid_filters() {
            let (hub, _dir) = crate::testing::hub();
            let id = hub.add_device("Plug", &crate::family::Caller::local_owner("cli")).unwrap().device.id;
            let rule = |pattern: String| TopicRuleRequest { direction: Direction::Publish, pattern, rule: RuleChoice::Allow };
            let longest = format!("tele/{}", "x".repeat(TOPIC_PATTERN_BYTES - 5));
            assert!(hub.set_topic_rule(id.as_str(), &rule(longest.clone()), &crate::family::Caller::local_owner("cli")).is_ok());
            refused(
                hub.set_topic_rule(id.as_str(), &rule(format!("{longest}x")), &crate::family::Caller::local_owner("cli")),
                "pattern",
                "1024 bytes",
            );
            refused(
                hub.set_topic_rule(id.as_str(), &rule("tele/\0/x".into()), &crate::family::Caller::local_owner("cli")),
                "pattern",
                "control character",
            );
            let invalid =
                hub.set_topic_rule(id.as_str(), &rule("tele/#/x".into()), &crate::family::Caller::local_owner("cli")).unwrap_err();
            assert!(invalid.message.contains("not a topic pattern"), "{}", invalid.message);
        }

        #[test]
        fn client_ids_and_addresses() {
            let (hub, _dir) = crate::testing::hub();
            let id = hub.add_device("Plug", &crate::family::Caller::local_owner("cli")).unwrap().device.id;
            assert!(
                hub.bind_client_id(id.as_str(), Some(&"c".repeat(CLIENT_ID_BYTES)), &crate::family::Caller::local_owner("cli")).is_ok()
            );
            refused(
                hub.bind_client_id(id.as_str(), Some(&"c".repeat(CLIENT_ID_BYTES + 1)), &crate::family::Caller::local_owner("cli")),
                "client_id",
                "128 bytes",
            );
            let pin = |client_id: String, address: Option<String>| Some(AnonymousAccess { client_id, address });
            refused(
                hub.set_anonymous(id.as_str(), pin("c".repeat(CLIENT_ID_BYTES + 1), None), &crate::family::Caller::local_owner("cli")),
                "client_id",
                "128 bytes",
            );
            refused(
                hub.set_anonymous(id.as_str(), pin("plug".into(), Some("1".repeat(100_000))), &crate::family::Caller::local_owner("cli")),
                "address",
                "64 bytes",
            );
            let not_ip = hub
                .set_anonymous(id.as_str(), pin("plug".into(), Some("printer.local".into())), &crate::family::Caller::local_owner("cli"))
                .unwrap_err();
            assert!(not_ip.message.contains("not an IP address"), "{}", not_ip.message);
        }

        #[test]
        fn redaction_paths_and_retention() {
            let (hub, _dir) = crate::testing::hub();
            let id = hub.add_device("Phone", &crate::family::Caller::local_owner("cli")).unwrap().device.id;
            let redact = |path: String| RedactionRequest { path, redact: true };
            assert!(
                hub.set_redaction(id.as_str(), &redact("x".repeat(REDACTION_PATH_BYTES)), &crate::family::Caller::local_owner("cli"))
                    .is_ok()
            );
            refused(
                hub.set_redaction(id.as_str(), &redact("x".repeat(REDACTION_PATH_BYTES + 1)), &crate::family::Caller::local_owner("cli")),
                "path",
                "256 bytes",
            );
            let keep = |days| RetentionRequest { category: Category::Location, retention: Some(Retention::Days(days)) };
            assert!(hub.set_retention(id.as_str(), &keep(RETENTION_DAYS), &crate::family::Caller::local_owner("cli")).is_ok());
            refused(
                hub.set_retention(id.as_str(), &keep(RETENTION_DAYS + 1), &crate::family::Caller::local_owner("cli")),
                "retention",
                "3650 days",
            );
        }

        #[test]
        fn ids_and_durations_are_not_echoed_in_full() {
            let (hub, _dir) = crate::testing::hub();
            let err = hub.device(&"d".repeat(1_000_000)).unwrap_err();
            assert!(err.message.contains("is not a device id") && err.message.len() < 300, "{} bytes", err.message.len());
            let err = crate::api::parse_duration(&"9".repeat(1_000_000)).unwrap_err();
            assert!(err.message.contains("not a duration") && err.message.len() < 300, "{} bytes", err.message.len());
        }
    }
}

//! Removing the fields a person chose to redact from a device's messages.
//!
//! A JSON payload is read strictly (RFC 8259) by a small scanner that records where each member
//! of an object starts and ends; a rewrite copies every byte that is not a removed member as it
//! came (numbers keep their digits, spacing and key order stay) and drops a removed member with
//! one of its commas, so the result is still JSON. Field names match ASCII-case-insensitively
//! at every level of a path (firmware varies the case) and after JSON escapes are decoded
//! (`"l\u0061t"` is `lat`); every duplicate of a matching key goes.
//!
//! Cheap firmware wraps JSON in a string (`{"msg":"{\"lat\":5}"}`): a string value that is
//! itself a JSON text is redacted too, every path applying from its top, and written back as a
//! JSON string, down to [`MAX_EMBEDDED`] strings deep.

mod json;

use json::{Fail, Json, looks_like_json};

/// What redaction made of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redacted {
    /// Nothing to remove: it held none of the fields, or is not JSON (text, a picture).
    Untouched,
    /// The new payload, and the paths removed (as the person wrote them).
    Rewritten(Vec<u8>, Vec<String>),
    /// It looks like JSON but cannot be read (cut short, nested too deep): whether it holds a
    /// redacted field cannot be told, so it must not go out.
    Unreadable,
}

/// Removes the fields at `paths` (`Wifi.SSId`, `lat`) from a JSON payload, in every element of
/// the arrays on the way (`[{"lat": ...}, ...]`).
pub fn redact(payload: &[u8], paths: &[String]) -> Redacted {
    if paths.is_empty() {
        return Redacted::Untouched;
    }
    let mut rules = Rules::new(paths);
    match rules.payload(payload) {
        Ok(Some(rewritten)) => Redacted::Rewritten(rewritten, rules.removed()),
        Ok(None) => Redacted::Untouched,
        Err(Refused) => Redacted::Unreadable,
    }
}

/// A payload that may hold a redacted field and cannot be read.
#[derive(Debug)]
struct Refused;

/// The paths a person chose, and which of them the payload held.
struct Rules<'p> {
    paths: &'p [String],
    /// The last level of each path: the name a field holding it must have.
    names: Vec<&'p str>,
    removed: Vec<bool>,
}

/// How far matching has come along one path: the rest of `paths[path]` from byte `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    path: usize,
    at: usize,
}

/// What a key means for one path.
enum Step {
    /// The key is the path's last level: the member goes.
    Remove,
    /// The key is the next level: the path goes on inside the member's value.
    Into(Cursor),
    Miss,
}

impl<'p> Rules<'p> {
    fn new(paths: &'p [String]) -> Self {
        let names = paths.iter().map(|p| p.rsplit('.').next().unwrap_or(p)).collect();
        Self { paths, names, removed: vec![false; paths.len()] }
    }

    /// The paths removed, in the order the person has them.
    fn removed(&self) -> Vec<String> {
        self.paths.iter().zip(&self.removed).filter(|(_, r)| **r).map(|(p, _)| p.clone()).collect()
    }

    /// Every path, from its first level: what applies at the top of a document.
    fn starts(&self) -> Vec<Cursor> {
        (0..self.paths.len()).map(|path| Cursor { path, at: 0 }).collect()
    }

    /// Matches one level at a time, but compares the rest of the path as text, so that a key
    /// with a dot in it (`PM2.5`, as the review shows `PMS5003.PM2.5`) matches too.
    fn step(&self, cursor: Cursor, key: &str) -> Step {
        let rest = &self.paths[cursor.path].as_bytes()[cursor.at..];
        let key = key.as_bytes();
        if rest.len() == key.len() && rest.eq_ignore_ascii_case(key) {
            Step::Remove
        } else if rest.len() > key.len() && rest[key.len()] == b'.' && rest[..key.len()].eq_ignore_ascii_case(key) {
            Step::Into(Cursor { path: cursor.path, at: cursor.at + key.len() + 1 })
        } else {
            Step::Miss
        }
    }

    /// Whether a text may hold a redacted field: one of the names is in it in some case, or an
    /// escape that could spell one.
    pub(super) fn may_hold(&self, text: &str) -> bool {
        text.contains('\\') || self.names.iter().any(|name| contains_ignoring_case(text.as_bytes(), name.as_bytes()))
    }

    /// The payload, rewritten if it held a redacted field.
    fn payload(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
        // A byte-order mark: some readers (Python's) accept it, serde_json does not.
        let (bom, body) = match payload.strip_prefix(b"\xEF\xBB\xBF") {
            Some(body) => (true, body),
            None => (false, payload),
        };
        let Ok(text) = std::str::from_utf8(body) else { return Ok(None) };
        let starts = self.starts();
        match Json::document(text, &starts, self, 0, 0) {
            Ok(None) => Ok(None),
            Ok(Some(rewritten)) => Ok(Some([if bom { &b"\xEF\xBB\xBF"[..] } else { b"" }, rewritten.as_bytes()].concat())),
            Err(Fail::Broken) if !looks_like_json(text) => Ok(None),
            Err(_) => Err(Refused),
        }
    }
}

/// Whether `needle` is in `haystack`, ASCII letters in any case.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(first) = needle.first() else { return true };
    haystack.len() >= needle.len()
        && haystack.windows(needle.len()).any(|w| w[0].eq_ignore_ascii_case(first) && w.eq_ignore_ascii_case(needle))
}

/// Shared by the tests of redaction's files.
#[cfg(test)]
mod testing {
    use super::{Redacted, redact};

    pub(crate) fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| (*p).to_owned()).collect()
    }

    /// The rewritten payload as text, and the paths removed; panics on any other outcome.
    pub(crate) fn rewritten(payload: &[u8], list: &[&str]) -> (String, Vec<String>) {
        match redact(payload, &paths(list)) {
            Redacted::Rewritten(out, removed) => (String::from_utf8_lossy(&out).into_owned(), removed),
            other => panic!("{:?} was not rewritten but {other:?}", String::from_utf8_lossy(payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::rewritten;

    const TASMOTA_STATE: &str = r#"{"Time":"2024-05-01T12:00:00","Uptime":"0T01:00:00","UptimeSec":3600,"Heap":25,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"HomeNet","BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,"Mode":"11n","RSSI":78,"Signal":-61,"LinkCount":1,"Downtime":"0T00:00:03"}}"#;

    #[test]
    fn a_tasmota_state_loses_its_ssid_and_keeps_every_other_byte() {
        let (out, removed) = rewritten(TASMOTA_STATE.as_bytes(), &["Wifi.SSId"]);
        assert_eq!(out, TASMOTA_STATE.replace(r#""SSId":"HomeNet","#, ""));
        assert_eq!(removed, ["Wifi.SSId"]);
    }

    #[test]
    fn field_names_match_in_any_case_at_every_level_and_through_escapes() {
        let (out, removed) = rewritten(br#"{"LAT":52.37,"Lat":1,"lon":4.89}"#, &["lat"]);
        assert_eq!((out.as_str(), removed), (r#"{"lon":4.89}"#, vec!["lat".to_owned()]));
        let (out, _) = rewritten(br#"{"WIFI":{"ssid":"HomeNet","RSSI":78}}"#, &["Wifi.SSId"]);
        assert_eq!(out, r#"{"WIFI":{"RSSI":78}}"#);
        let (out, _) = rewritten(br#"{"l\u0061t":52.37,"lon":4.89}"#, &["lat"]);
        assert_eq!(out, r#"{"lon":4.89}"#);
        let (out, _) = rewritten(br#"{"\u0057ifi":{"SS\u0049d":"HomeNet"}}"#, &["Wifi.SSId"]);
        assert_eq!(out, r#"{"\u0057ifi":{}}"#);
    }
}

//! One mDNS observation, parsed at the edge into typed, bounded values.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use ts_rs::TS;

/// Bounds that keep a hostile or broken responder from filling memory or the UI.
pub const MAX_TXT_ENTRIES: usize = 64;
pub const MAX_TXT_VALUE_LEN: usize = 255;
pub const MAX_NAME_LEN: usize = 255;

/// One TXT entry. Values are shown as text; bytes that are not UTF-8 are replaced, not dropped,
/// so a person still sees that the key was there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TxtEntry {
    pub key: String,
    pub value: String,
}

/// One resolved DNS-SD service instance as announced on the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Sighting {
    /// Service type without the domain, e.g. `_hap._tcp`.
    pub service_type: String,
    /// Instance name without type and domain, e.g. `shellyplus1-c4dd57877294`.
    pub instance: String,
    /// Host name without the trailing `.local.`, lower-cased.
    pub host: String,
    #[ts(type = "string[]")]
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    pub txt: Vec<TxtEntry>,
}

impl Sighting {
    /// Builds a sighting from raw parts, trimming names and bounding TXT to the limits above.
    pub fn new(
        service_type: &str,
        instance: &str,
        host: &str,
        mut addresses: Vec<IpAddr>,
        port: u16,
        txt: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        addresses.sort();
        addresses.dedup();
        let txt = txt
            .into_iter()
            .filter(|(k, _)| !k.is_empty())
            .take(MAX_TXT_ENTRIES)
            .map(|(k, v)| TxtEntry { key: bounded(&k, MAX_TXT_VALUE_LEN), value: bounded(&String::from_utf8_lossy(&v), MAX_TXT_VALUE_LEN) })
            .collect();
        Self {
            service_type: bounded(service_type.trim_end_matches('.').trim_end_matches(".local"), MAX_NAME_LEN),
            instance: bounded(instance, MAX_NAME_LEN),
            host: bounded(&host.trim_end_matches('.').trim_end_matches(".local").to_lowercase(), MAX_NAME_LEN),
            addresses,
            port,
            txt,
        }
    }

    /// The value of a TXT key, matched case-insensitively as DNS-SD keys are (RFC 6763 §6.4).
    pub fn txt(&self, key: &str) -> Option<&str> {
        self.txt.iter().find(|e| e.key.eq_ignore_ascii_case(key)).map(|e| e.value.as_str())
    }
}

/// Cuts a string to at most `max` bytes on a character boundary and removes control characters,
/// which would otherwise corrupt terminal output and logs.
pub fn bounded(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if c.is_control() { '\u{fffd}' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_odd_txt_is_bounded_not_rejected() {
        let huge = vec![b'x'; 10_000];
        let mut txt: Vec<(String, Vec<u8>)> = (0..500).map(|i| (format!("k{i}"), huge.clone())).collect();
        txt.insert(0, ("bad".into(), vec![0xff, 0xfe, b'a']));
        let s = Sighting::new("_http._tcp.local.", "weird\u{7}name ☃", "Host.local.", vec![], 80, txt);
        assert_eq!(s.txt.len(), MAX_TXT_ENTRIES);
        assert!(s.txt.iter().all(|e| e.value.len() <= MAX_TXT_VALUE_LEN));
        assert_eq!(s.txt("BAD"), Some("\u{fffd}\u{fffd}a"));
        assert_eq!(s.instance, "weird\u{fffd}name ☃");
        assert_eq!(s.service_type, "_http._tcp");
        assert_eq!(s.host, "host");
    }

    #[test]
    fn bounded_respects_char_boundaries() {
        assert_eq!(bounded("ééé", 5), "éé");
    }
}

//! Privacy controls: how long Hearth keeps what a device sends, per category of data, and which
//! fields it removes. Protective by default: camera pictures, where people are, their bodies and
//! the network's identifiers are kept as metadata only (that and when a message came, how big,
//! on which topic), never their values.

use crate::classify::Category;
/// Redaction lives in [`crate::redact`]; re-exported here, where its callers have always found it.
pub use crate::redact::{Redacted, redact};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What Hearth keeps of one category of a device's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "keep", content = "days")]
#[ts(export)]
pub enum Retention {
    /// Only that messages came (time, topic, size): not even which fields they had.
    None,
    /// Which fields, of which type; never their values.
    Metadata,
    /// Field values (examples) and payload samples too, for this many days.
    Days(u32),
}

impl Retention {
    /// Hearth's defaults, by category.
    pub fn default_for(category: Category) -> Self {
        match category {
            Category::AudioVideo | Category::Location | Category::Health | Category::Identifiers => Self::Metadata,
            Category::Presence | Category::Access | Category::Diagnostics | Category::Other => Self::Days(7),
            Category::Energy | Category::Climate => Self::Days(30),
        }
    }

    /// Whether field names are kept.
    pub fn keeps_fields(self) -> bool {
        !matches!(self, Self::None)
    }

    /// For how long values are kept, if at all.
    pub fn value_days(self) -> Option<u32> {
        match self {
            Self::Days(d) if d > 0 => Some(d),
            _ => None,
        }
    }

    /// `none`, `metadata` or `<n>d` (as the CLI takes and shows it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "metadata" => Some(Self::Metadata),
            days => days.strip_suffix('d').and_then(|n| n.parse().ok()).filter(|n| (1..=3650).contains(n)).map(Self::Days),
        }
    }

    /// The stricter of two: a payload with several categories is kept as the strictest says.
    pub fn stricter(self, other: Self) -> Self {
        let rank = |r: Self| match r {
            Self::None => (0, 0),
            Self::Metadata => (1, 0),
            Self::Days(d) => (2, d),
        };
        if rank(self) <= rank(other) { self } else { other }
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Metadata => f.write_str("metadata"),
            Self::Days(d) => write!(f, "{d}d"),
        }
    }
}

/// A device's privacy settings, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PrivacySettings {
    /// One per category, in [`Category::ALL`] order.
    pub retention: Vec<CategoryRetention>,
    /// JSON paths removed from its messages before they are stored or delivered.
    pub redact: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CategoryRetention {
    pub category: Category,
    pub retention: Retention,
    /// False while it is Hearth's default.
    pub chosen: bool,
}

impl PrivacySettings {
    pub fn retention_of(&self, category: Category) -> Retention {
        self.retention.iter().find(|r| r.category == category).map_or_else(|| Retention::default_for(category), |r| r.retention)
    }

    /// What may be kept of a message with these categories: the strictest of them.
    pub fn retention_for(&self, categories: &[Category]) -> Retention {
        categories.iter().map(|c| self.retention_of(*c)).reduce(Retention::stricter).unwrap_or(Retention::Metadata)
    }

    /// Defaults, with `chosen` overriding them.
    pub fn with_choices(chosen: &[(Category, Retention)], redact: Vec<String>) -> Self {
        let retention = Category::ALL
            .into_iter()
            .map(|category| match chosen.iter().find(|(c, _)| *c == category) {
                Some((_, r)) => CategoryRetention { category, retention: *r, chosen: true },
                None => CategoryRetention { category, retention: Retention::default_for(category), chosen: false },
            })
            .collect();
        Self { retention, redact }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_nested_and_top_level_fields_and_nothing_else() {
        let rewritten = |r: Redacted| match r {
            Redacted::Rewritten(payload, removed) => (payload, removed),
            other => panic!("not rewritten: {other:?}"),
        };
        let state = br#"{"POWER":"ON","Wifi":{"SSId":"HomeNet","RSSI":78},"lat":52.37}"#;
        let (out, removed) = rewritten(redact(state, &["Wifi.SSId".into(), "lat".into(), "absent".into()]));
        assert_eq!(removed, ["Wifi.SSId", "lat"]);
        assert_eq!(out, br#"{"POWER":"ON","Wifi":{"RSSI":78}}"#);
        assert_eq!(redact(state, &["Wifi.BSSId".into()]), Redacted::Untouched, "nothing to remove: the payload goes as it came");
        assert_eq!(redact(b"21.5", &["lat".into()]), Redacted::Untouched);
        assert_eq!(redact(b"{not json", &["lat".into()]), Redacted::Unreadable, "cannot tell: it must not go out");
        assert_eq!(redact(br#"{"lat":1,"#, &["lat".into()]), Redacted::Unreadable);
        assert_eq!(rewritten(redact(b"\xEF\xBB\xBF{\"lat\":1}", &["lat".into()])).0, b"\xEF\xBB\xBF{}", "nor does a byte-order mark");
        let (spaced, _) = rewritten(redact(b"\n  {\"lat\":1,\"lon\":2}", &["lat".into()]));
        assert_eq!(spaced, b"\n  {\"lon\":2}", "leading whitespace does not hide a field");
        let (list, removed) = rewritten(redact(br#"[{"lat":1,"id":"a"},{"lat":2,"id":"b"}]"#, &["lat".into()]));
        assert_eq!((list.as_slice(), removed), (br#"[{"id":"a"},{"id":"b"}]"#.as_slice(), vec!["lat".to_owned()]));
    }

    #[test]
    fn defaults_keep_pictures_places_and_bodies_as_metadata_only() {
        for c in [Category::AudioVideo, Category::Location, Category::Health, Category::Identifiers] {
            assert_eq!(Retention::default_for(c), Retention::Metadata, "{c:?}");
        }
        assert_eq!(Retention::default_for(Category::Energy), Retention::Days(30));
    }

    #[test]
    fn the_strictest_category_of_a_message_wins() {
        let s = PrivacySettings::with_choices(&[(Category::Climate, Retention::None)], vec![]);
        assert_eq!(s.retention_for(&[Category::Energy, Category::Diagnostics]), Retention::Days(7));
        assert_eq!(s.retention_for(&[Category::Energy, Category::Climate]), Retention::None);
        assert_eq!(s.retention_for(&[Category::Energy, Category::Location]), Retention::Metadata);
        assert!(s.retention[4].chosen && !s.retention[3].chosen);
    }

    #[test]
    fn retention_reads_and_writes_as_the_cli_shows_it() {
        for (text, r) in [("none", Retention::None), ("metadata", Retention::Metadata), ("14d", Retention::Days(14))] {
            assert_eq!(Retention::parse(text), Some(r));
            assert_eq!(r.to_string(), text);
        }
        for bad in ["", "0d", "14", "forever", "-1d", "99999d"] {
            assert_eq!(Retention::parse(bad), None, "{bad}");
        }
    }
}

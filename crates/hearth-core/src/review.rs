//! The review: what a device sends, and what the home's devices send, as the ledger answers it.
//! Plain data for the API, the CLI and the UI's charts.

use crate::classify::{Category, ValueType};
use crate::device::DeviceId;
use crate::inventory::Millis;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One device over a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeviceReview {
    pub device_id: DeviceId,
    #[ts(type = "number")]
    pub since: Millis,
    #[ts(type = "number")]
    pub until: Millis,
    /// Messages it sent, refused ones included, and their bytes.
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub refused: u64,
    #[ts(type = "number")]
    pub redacted: u64,
    /// Most sensitive first.
    pub categories: Vec<CategoryReview>,
    /// Busiest first.
    pub topics: Vec<TopicReview>,
    /// Why messages were refused, most frequent first.
    pub refusals: Vec<ReasonCount>,
    /// Messages per category per bucket, for the chart. A message carrying several kinds is
    /// under each of them, so these do not add up to the messages sent: see `totals`.
    pub buckets: Vec<Bucket>,
    /// Messages per bucket, each counted once (the chart's bars): they add up to `messages`.
    pub totals: Vec<BucketTotal>,
    #[ts(type = "number")]
    pub bucket_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CategoryReview {
    pub category: Category,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// The fields that carry it (`aenergy.total`), over all topics.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TopicReview {
    pub topic: String,
    pub content_type: String,
    pub categories: Vec<Category>,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub first_seen: Millis,
    #[ts(type = "number")]
    pub last_seen: Millis,
    /// The average time between its messages in the range, if it sent more than one.
    #[ts(type = "number | null")]
    pub every_ms: Option<u64>,
    pub fields: Vec<FieldReview>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldReview {
    pub path: String,
    pub value_type: ValueType,
    pub category: Category,
    /// The latest value, while its retention keeps values.
    pub example: Option<String>,
    #[ts(type = "number")]
    pub first_seen: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReasonCount {
    pub reason: String,
    #[ts(type = "number")]
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Bucket {
    #[ts(type = "number")]
    pub at: Millis,
    pub category: Category,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Every message a device sent in one bucket, each counted once, refused ones included (as
/// [`DeviceReview::messages`] counts them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BucketTotal {
    #[ts(type = "number")]
    pub at: Millis,
    #[ts(type = "number")]
    pub messages: u64,
}

/// Every device that sent something in a range, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HomeReview {
    #[ts(type = "number")]
    pub since: Millis,
    #[ts(type = "number")]
    pub until: Millis,
    /// Most sensitive and busiest first.
    pub devices: Vec<HomeDevice>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HomeDevice {
    pub device_id: DeviceId,
    pub name: String,
    /// Most sensitive first.
    pub categories: Vec<Category>,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Something new in what a device sends, for a person to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[ts(export)]
pub enum Change {
    /// A field it never sent on that topic before.
    NewField { device_id: DeviceId, topic: String, path: String, category: Category },
    /// A kind of data it never sent before.
    NewCategory { device_id: DeviceId, category: Category },
    /// Ten times or more its usual number of messages in the last day.
    MoreThanUsual {
        device_id: DeviceId,
        #[ts(type = "number")]
        last_day: u64,
        #[ts(type = "number")]
        usual_per_day: u64,
    },
}

impl Change {
    /// The device it is about.
    pub fn device_id(&self) -> &DeviceId {
        match self {
            Self::NewField { device_id, .. } | Self::NewCategory { device_id, .. } | Self::MoreThanUsual { device_id, .. } => device_id,
        }
    }
}

/// A bucket size that gives a chart 24 to 200 points over `range_ms`: an hour up to a week, a
/// day beyond. (Rollups are hourly, so nothing finer.)
pub fn bucket_for(range_ms: i64) -> i64 {
    const HOUR: i64 = 3_600_000;
    if range_ms <= 8 * 24 * HOUR { HOUR } else { 24 * HOUR }
}

/// One message's metadata, as an export lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExportedMessage {
    #[ts(type = "number")]
    pub at: Millis,
    pub topic: String,
    #[ts(type = "number")]
    pub bytes: u64,
    pub qos: u8,
    pub decision: String,
    pub reason: Option<String>,
    pub categories: Vec<Category>,
}

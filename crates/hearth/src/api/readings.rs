//! What a device measures now, for its page's summary ("On · 42 W"): the latest value of each
//! reading its own discovery describes, as `crate::readings` keeps them in memory.
//!
//! Shown only where what the household decided allows it, checked on every answer (a decision
//! takes effect at once, values noted before it included): nothing for a device that is not
//! approved (a new device's messages are held, a blocked one's refused), never a reading on a
//! field the household redacted for this device, and on another member's personal device only
//! to who may review it (as its controls' states).

use super::{parse_id, types::ApiError};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::device::DeviceState;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One reading and its latest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReadingView {
    /// In people's words where its kind is known ("Power", "Temperature"), otherwise the
    /// firmware's ("ENERGY Voltage"), bounded.
    pub name: String,
    /// A number, as the device wrote it (at most 24 characters).
    pub value: String,
    /// As the device describes it ("W", "°C"), bounded; none: it says none.
    pub unit: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
    /// The device behind a bridge it belongs to ([`hearth_core::self_described::ChildDevice::key`]).
    pub child: Option<String>,
    /// A kind people know (power, temperature, humidity, battery): what a summary leads with.
    pub headline: bool,
}

impl Hub {
    /// The device's readings that have a value, most telling first (power, temperature,
    /// humidity, battery, then the rest).
    pub fn readings(&self, id: &str, caller: &Caller) -> Result<Vec<ReadingView>, ApiError> {
        let id = parse_id(id)?;
        let (state, redacted) = {
            let store = self.store();
            (store.device(&id)?.device.state, store.privacy(&id)?.redact)
        };
        if state != DeviceState::Approved {
            return Ok(vec![]);
        }
        let someone_elses = self.household().personal_owner(&id).is_some_and(|m| m != caller.member);
        if someone_elses && !self.may(caller, hearth_core::family::Right::Review, &id) {
            return Ok(vec![]);
        }
        Ok(self
            .live_readings()
            .of(&id)
            .into_iter()
            .filter(|slot| !slot.reading.path.is_redacted(&redacted))
            .filter_map(|slot| {
                let (value, at) = slot.last?;
                let headline = slot.reading.is_headline();
                let r = slot.reading;
                Some(ReadingView { name: r.name, value, unit: r.unit, at, child: r.child, headline })
            })
            .collect())
    }
}

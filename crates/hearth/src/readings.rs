//! The latest value of each reading devices describe (a plug's power, a room's temperature), in
//! memory only: never written to the store, gone at a restart, dropped when a device is
//! forgotten. Filled by the recorder from publishes the gate accepted (after redaction), per the
//! device that sent them; read by `api::readings`, which also hides what a person may not see.
//!
//! Bounded whatever devices say or send: at most [`MAX_DEVICES`] devices,
//! [`readings::MAX_READINGS`] readings each and for each of a bridge's children,
//! [`readings::MAX_DEVICE_READINGS`] a device in all and [`MAX_SLOTS`] over all devices, a value of at most [`readings::MAX_VALUE_CHARS`]; a
//! message replaces a value, so a flood costs time on the recorder's thread, never memory.

use hearth_core::device::DeviceId;
use hearth_core::discovery::{Entity, Source};
use hearth_core::inventory::Millis;
use hearth_core::readings::{self, DescribedReading};
use std::collections::HashMap;
use std::sync::Mutex;

/// Devices with readings at most: a home's describing devices are far fewer.
pub const MAX_DEVICES: usize = 10_000;
/// Readings kept at most, over all devices: a bridge may have [`readings::MAX_DEVICE_READINGS`],
/// but not every one of [`MAX_DEVICES`] devices (a device's readings beyond it are not watched).
pub const MAX_SLOTS: usize = 100_000;

/// The readings a device's filed discovery describes.
pub fn described(filed: &hearth_store::Described) -> Vec<DescribedReading> {
    let entities: Vec<(Source, Entity)> = filed.entities.iter().map(|(s, e, _)| (*s, e.clone())).collect();
    readings::described_readings(&filed.devices, &entities)
}

/// One reading and its latest value with when it came; `None`: nothing readable yet, or the
/// latest message held no number where the reading is (a stale value is not shown as current).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub reading: DescribedReading,
    pub last: Option<(String, Millis)>,
}

/// A std Mutex: every use is a short walk of one device's few readings with no await held; the
/// recorder takes it once per batch.
#[derive(Debug, Default)]
pub struct Readings {
    devices: Mutex<HashMap<DeviceId, Vec<Slot>>>,
}

impl Readings {
    /// What `id` describes now (its discovery was filed, or read at start): the readings it no
    /// longer describes go, those it still does keep their value.
    pub fn watch(&self, id: &DeviceId, described: Vec<DescribedReading>) {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        if described.is_empty() {
            devices.remove(id);
            return;
        }
        if devices.len() >= MAX_DEVICES && !devices.contains_key(id) {
            return;
        }
        let old = devices.remove(id).unwrap_or_default();
        let others: usize = devices.values().map(Vec::len).sum();
        let slots: Vec<Slot> = readings::bounded(described)
            .into_iter()
            .take(MAX_SLOTS.saturating_sub(others))
            .map(|reading| {
                let same =
                    |s: &&Slot| s.reading.topic == reading.topic && s.reading.path == reading.path && s.reading.child == reading.child;
                let last = old.iter().find(same).and_then(|s| s.last.clone());
                Slot { reading, last }
            })
            .collect();
        if !slots.is_empty() {
            devices.insert(id.clone(), slots);
        }
    }

    /// A forgotten device's values go with it.
    pub fn forget(&self, id: &DeviceId) {
        self.devices.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Notes accepted publishes (device, topic, payload, when): each reading on that device and
    /// topic takes the value the message holds, or none. One lock for a batch of the recorder's;
    /// a message is read once however many readings it carries.
    pub fn note<'a>(&self, published: impl IntoIterator<Item = (&'a DeviceId, &'a str, &'a [u8], Millis)>) {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        if devices.is_empty() {
            return;
        }
        for (id, topic, payload, at) in published {
            let Some(slots) = devices.get_mut(id) else { continue };
            let on_topic: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].reading.topic == topic).collect();
            if on_topic.is_empty() {
                continue;
            }
            let paths: Vec<&readings::ValuePath> = on_topic.iter().map(|&i| &slots[i].reading.path).collect();
            let values = readings::read(&paths, payload);
            for (i, value) in on_topic.into_iter().zip(values) {
                slots[i].last = value.map(|v| (v, at));
            }
        }
    }

    /// `id`'s readings, most telling first.
    pub fn of(&self, id: &DeviceId) -> Vec<Slot> {
        self.devices.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::readings::ValuePath;

    fn reading(topic: &str, template: &str) -> DescribedReading {
        DescribedReading {
            key: template.into(),
            name: "Power".into(),
            topic: topic.into(),
            path: ValuePath::parse(Some(template)).unwrap(),
            unit: Some("W".into()),
            child: None,
            rank: 0,
        }
    }

    fn id(n: u32) -> DeviceId {
        DeviceId::parse(&format!("d-{n:012}")).unwrap()
    }

    #[test]
    fn only_the_describing_device_s_messages_on_its_topic_are_read() {
        let r = Readings::default();
        let (plug, other) = (id(1), id(2));
        r.watch(&plug, vec![reading("tele/plug/SENSOR", "{{ value_json.ENERGY.Power }}")]);
        r.note([
            (&plug, "tele/plug/SENSOR", &br#"{"ENERGY":{"Power":42}}"#[..], 5),
            // Another device on the same topic (its rules would refuse it; here it is not even read).
            (&other, "tele/plug/SENSOR", &br#"{"ENERGY":{"Power":9999}}"#[..], 6),
            (&plug, "tele/plug/STATE", &br#"{"ENERGY":{"Power":1}}"#[..], 7),
        ]);
        assert_eq!(r.of(&plug)[0].last, Some(("42".to_owned(), 5)));
        assert_eq!(r.of(&other), []);
        // A message with no number where the reading is: no value, rather than a stale one.
        r.note([(&plug, "tele/plug/SENSOR", &br#"{"ENERGY":{"Power":"hot"}}"#[..], 8)]);
        assert_eq!(r.of(&plug)[0].last, None);
    }

    #[test]
    fn a_new_description_keeps_the_values_of_readings_it_still_has_and_forgetting_drops_them() {
        let r = Readings::default();
        let plug = id(1);
        let power = reading("tele/plug/SENSOR", "{{ value_json.ENERGY.Power }}");
        r.watch(&plug, vec![power.clone()]);
        r.note([(&plug, "tele/plug/SENSOR", &br#"{"ENERGY":{"Power":42}}"#[..], 5)]);
        r.watch(&plug, vec![power, reading("tele/plug/SENSOR", "{{ value_json.ENERGY.Voltage }}")]);
        let values: Vec<_> = r.of(&plug).into_iter().map(|s| s.last.map(|(v, _)| v)).collect();
        assert_eq!(values, [Some("42".to_owned()), None]);
        r.forget(&plug);
        assert_eq!(r.of(&plug), []);
    }

    /// A flood of big messages and of ever-new devices leaves memory where the bounds say.
    #[test]
    fn a_flood_does_not_grow_memory() {
        let r = Readings::default();
        let plug = id(1);
        r.watch(&plug, vec![reading("tele/plug/SENSOR", "{{ value_json.ENERGY.Power }}")]);
        let huge = format!(r#"{{"ENERGY":{{"Power":{}}}}}"#, "9".repeat(100_000));
        for at in 0..1_000 {
            r.note([(&plug, "tele/plug/SENSOR", huge.as_bytes(), at)]);
        }
        assert_eq!(r.of(&plug)[0].last, None, "a 100 KB value is no reading");
        let many: Vec<DescribedReading> = (0..100).map(|i| reading(&format!("t/{i}"), "{{ value }}")).collect();
        r.watch(&plug, many);
        assert_eq!(r.of(&plug).len(), readings::MAX_READINGS);
        for n in 2..(MAX_DEVICES as u32 + 100) {
            r.watch(&id(n), vec![reading("t", "{{ value }}")]);
        }
        assert_eq!(r.devices.lock().unwrap().len(), MAX_DEVICES);
    }

    /// Bridges describing their whole network, over and over: the readings kept over all
    /// devices stay within [`MAX_SLOTS`].
    #[test]
    fn bridges_describing_a_thousand_readings_each_stay_within_the_overall_bound() {
        let r = Readings::default();
        let network = |n: u32| -> Vec<DescribedReading> {
            (0..readings::MAX_DEVICE_READINGS)
                .map(|i| DescribedReading {
                    child: Some(format!("0x{n}-{}", i / readings::MAX_READINGS)),
                    ..reading(&format!("t/{i}"), "{{ value }}")
                })
                .collect()
        };
        r.watch(&id(1), network(1));
        assert_eq!(r.of(&id(1)).len(), readings::MAX_DEVICE_READINGS, "a bridge's network is kept whole");
        for n in 2..(MAX_SLOTS / readings::MAX_DEVICE_READINGS + 10) as u32 {
            r.watch(&id(n), network(n));
        }
        let kept: usize = r.devices.lock().unwrap().values().map(Vec::len).sum();
        assert_eq!(kept, MAX_SLOTS);
        r.watch(&id(1), network(1));
        assert_eq!(r.of(&id(1)).len(), readings::MAX_DEVICE_READINGS, "a device described again keeps its own");
    }
}

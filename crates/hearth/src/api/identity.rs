//! Who is who, when announcements cannot decide it: a person merges two records an announcement
//! linked (or any two they know are one device), or keeps them apart; and sees the announcements
//! Hearth ignored because they contradicted themselves.

use super::{now, parse_id};
use crate::api::types::{ApiError, DeviceDetail, Event, IdentityReview, MergeChoice, MergeRequest};
use crate::family::Caller;
use crate::hub::Hub;

impl Hub {
    /// Open merge questions and ignored announcements, newest first.
    pub fn identity_review(&self) -> Result<IdentityReview, ApiError> {
        let store = self.store();
        Ok(IdentityReview { proposals: store.merge_proposals(None)?, ignored: store.identity_conflicts()? })
    }

    /// A person's answer about `id` and `request.other`. A merge keeps the older record with the
    /// stricter of every decision (a block on either survives); the broker follows at once.
    /// Returns the record kept (or `id`'s, kept apart).
    pub fn answer_merge(&self, id: &str, request: &MergeRequest, caller: &Caller) -> Result<DeviceDetail, ApiError> {
        let (id, other) = (parse_id(id)?, parse_id(&request.other)?);
        let answer = match request.answer {
            MergeChoice::Merge => hearth_store::MergeAnswer::Merge,
            MergeChoice::KeepApart => hearth_store::MergeAnswer::KeepApart,
        };
        let mut store = self.store();
        match store.answer_merge(&id, &other, answer, &caller.actor(), caller.origin, now())? {
            Some((kept, absorbed)) => {
                tracing::info!(kept = %kept.id, %absorbed, origin = caller.origin, "a person merged two records");
                self.after_merge(&store, &kept, std::slice::from_ref(&absorbed));
                self.publish(Event::DeviceRemoved { id: absorbed, merged_into: Some(kept.id.clone()) });
                self.publish(Event::DeviceChanged { device: kept.clone() });
                let mut detail = store.device(&kept.id)?;
                detail.device = self.live(detail.device);
                Ok(detail)
            }
            None => {
                tracing::info!(%id, %other, origin = caller.origin, "a person kept two records apart");
                let detail = store.device(&id)?;
                self.publish(Event::DeviceChanged { device: detail.device.clone() });
                let mut detail = detail;
                detail.device = self.live(detail.device);
                Ok(detail)
            }
        }
    }
}

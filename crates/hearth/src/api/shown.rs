//! What each member is shown of what a command answers or an event says, beyond the check of
//! the command itself: an answer to a `configure` command carries no `review`-level data
//! (what a device sent, whom it talked to) unless the caller may review the device; the
//! home-wide views count only what the caller may review; and another member's personal device
//! appears in no home-wide view or notification, even to a parent (a parent looks on the
//! device's own page, where the look is recorded).

use super::network::{HomeNetwork, NetworkView};
use super::types::{ApiError, BrokerView, DeviceDetail, Event, HomeReview, Status};
use crate::family::Caller;
use crate::hub::Hub;
use hearth_core::device::DeviceId;
use hearth_core::family::{Right, Role};
use hearth_core::network::RuleSource;

impl Hub {
    fn is_owner(&self, caller: &Caller) -> bool {
        self.household().member(&caller.member).is_some_and(|m| m.role == Role::Owner)
    }

    /// Whether the device is the household's or the caller's own (not another member's).
    fn not_someone_elses(&self, caller: &Caller, id: &DeviceId) -> bool {
        self.household().personal_owner(id).is_none_or(|m| m == caller.member)
    }

    /// Whether `caller` may review `id` and it is not another member's personal device: what
    /// home-wide views and notifications show.
    fn in_home_views(&self, caller: &Caller, id: &DeviceId) -> bool {
        self.may(caller, Right::Review, id) && self.not_someone_elses(caller, id)
    }

    /// Records a look at another member's data that an answer carries (a parent's, or a
    /// sharee's), as `Hub::check` does for the review commands.
    fn note_look(&self, caller: &Caller, id: &DeviceId, action: &str) {
        let looked = self
            .household()
            .authorize(&caller.member, Right::Review, Some(id), super::now())
            .is_some_and(|a| a.looks_at_another_members_data);
        if looked && self.audit_throttle().allows(&caller.member, &format!("look:{action}"), id.as_str(), false) {
            let recorded =
                self.store().record_audit(super::now(), &caller.actor(), caller.origin, &format!("look:{action}"), id.as_str(), false);
            if let Err(e) = recorded {
                tracing::warn!("cannot record a look in the audit: {e}");
            }
        }
    }

    /// A broker view after a `configure` command: without the review right, the decisions, the
    /// topics it tried, when and from where it connected and what its discovery describes are
    /// left out (the manifest a person set stays).
    pub fn broker_view_for(&self, caller: &Caller, mut view: BrokerView) -> BrokerView {
        if self.may(caller, Right::Review, &view.device_id) {
            self.note_look(caller, &view.device_id, "broker_view");
        } else {
            view.recent.clear();
            view.sessions.clear();
            view.connections.clear();
            view.suggestions.clear();
            view.described.clear();
            view.contested.clear();
            view.rules.retain(|r| r.status != hearth_core::manifest::RuleStatus::Learned);
        }
        view
    }

    /// A network view after a `configure` command: without the review right, the names it asked
    /// for and the rules learned from them are left out.
    pub fn network_view_for(&self, caller: &Caller, id: &str, mut view: NetworkView) -> NetworkView {
        let Ok(device) = super::parse_id(id) else { return view };
        if self.may(caller, Right::Review, &device) {
            self.note_look(caller, &device, "network_view");
        } else {
            view.last_query = None;
            view.destinations.clear();
            view.rules.retain(|r| r.source != RuleSource::Learned);
        }
        view
    }

    /// The network page, its traffic chart counting only the devices the caller may review.
    pub fn home_network_for(&self, caller: &Caller) -> Result<HomeNetwork, ApiError> {
        let mut home = self.home_network()?;
        home.traffic.retain(|t| self.in_home_views(caller, &t.device_id));
        Ok(home)
    }

    /// The home review with only the devices the caller may review: a home-wide chart counts
    /// nothing the member may not read device by device.
    pub fn home_review_for(&self, caller: &Caller, since_ms: i64) -> Result<HomeReview, ApiError> {
        let mut review = self.home_review(since_ms)?;
        review.devices.retain(|d| self.in_home_views(caller, &d.device_id));
        review.changes.retain(|c| self.in_home_views(caller, c.device_id()));
        Ok(review)
    }

    /// A device's page: the questions about merging it with another record only to those who
    /// may answer them (an owner).
    pub fn device_for(&self, caller: &Caller, id: &str) -> Result<DeviceDetail, ApiError> {
        let mut detail = self.device(id)?;
        if !self.is_owner(caller) {
            detail.merge_proposals.clear();
        }
        Ok(detail)
    }

    /// Forgets a device; another member's personal device only by an owner (the store records it
    /// as concerning that member).
    pub fn forget_for(&self, caller: &Caller, id: &str) -> Result<(), ApiError> {
        let device = super::parse_id(id)?;
        if !self.not_someone_elses(caller, &device) && !self.is_owner(caller) {
            return Err(ApiError::new(
                super::types::ErrorCode::Forbidden,
                "another member's personal device is forgotten only by an owner",
            ));
        }
        self.forget(id, caller)
    }

    /// The status line: where the hub keeps its files is the owner's business.
    pub fn status_for(&self, caller: &Caller) -> Result<Status, ApiError> {
        let mut status = self.status_counting(|d| self.may(caller, Right::View, &d.id))?;
        if !self.is_owner(caller) {
            status.data_dir = String::new();
            if let Some(ca) = status.ca.as_mut() {
                ca.file = String::new();
            }
        }
        Ok(status)
    }

    /// Whether `caller` is shown `event` (on the WebSocket, in the desktop window, as an OS
    /// notification): events about a device go to those who may view it, what it sends to those
    /// who may review it and whose it is; rights of the moment, so a revoked right stops them at
    /// once.
    pub fn shown(&self, caller: &Caller, event: &Event) -> bool {
        let device = match event {
            Event::DeviceSeen { device } | Event::DeviceChanged { device } | Event::DeviceLost { device } => &device.id,
            Event::DeviceRemoved { id, .. } | Event::BrokerChanged { id } => id,
            Event::SendsSomethingNew { change, .. } => return self.in_home_views(caller, change.device_id()),
            Event::DestinationNew { id, .. } | Event::DestinationsChanged { id } => return self.in_home_views(caller, id),
            Event::IdentityQuestion { .. } => return self.is_owner(caller),
            Event::StatusChanged | Event::RightsChanged | Event::Resync => return true,
        };
        // A removed device was viewable a moment ago; saying it is gone reveals nothing new.
        matches!(event, Event::DeviceRemoved { .. }) || self.may(caller, Right::View, device)
    }
}

//! OS notifications for what needs a person's decision: a new device, a device that starts
//! sending something new or looking up a place it never did, and an announcement saying two records a person decided about are one
//! device (Hearth joined nothing; a person answers on either device's page).

use hearth::api::types::{Change, Event, MergeProposal};
use tauri_plugin_notification::NotificationExt;

pub fn on_event(app: &tauri::AppHandle, event: &Event) {
    let (title, body) = match event {
        Event::DeviceSeen { device } => {
            let what = [device.vendor.as_deref(), device.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let body = if what.is_empty() {
                "A new device joined the network. It is quarantined until you approve or block it.".to_owned()
            } else {
                format!("{what} joined the network. It is quarantined until you approve or block it.")
            };
            (format!("New device: {}", device.name), body)
        }
        Event::SendsSomethingNew { name, change } => (format!("{name} sends something new"), something_new(change)),
        Event::DestinationNew { device_name, name, .. } => (
            format!("{device_name} looked up {name}"),
            "A place on the internet it never asked for before. Open it in Hearth, Internet section, to allow or deny it.".to_owned(),
        ),
        Event::IdentityQuestion { proposal } => {
            (format!("Are {} and {} one device?", proposal.name_a, proposal.name_b), question(proposal))
        }
        _ => return,
    };
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

fn something_new(change: &Change) -> String {
    match change {
        Change::NewField { path, topic, category, .. } => {
            format!("It started sending {path} ({}) on {topic}. Open it in Hearth to keep or redact it.", category.as_str())
        }
        Change::NewCategory { category, .. } => {
            format!("It started sending {} data. Open it in Hearth to choose how long it is kept.", category.as_str())
        }
        Change::MoreThanUsual { last_day, usual_per_day, .. } => format!("{last_day} messages in a day, against {usual_per_day} usually."),
    }
}

/// Anyone on the network can send an announcement, so the words say where it came from and that
/// nothing was joined, not that the devices are one.
fn question(proposal: &MergeProposal) -> String {
    let from = match proposal.announcement.addresses.as_slice() {
        [] => "An announcement".to_owned(),
        addresses => format!("An announcement from {}", addresses.join(", ")),
    };
    format!(
        "{from} said so. Hearth has not joined them because you made decisions about both: open either in Hearth to merge them or keep them apart."
    )
}

//! OS notifications for what needs a person's decision: a new device, and a device that starts
//! sending something new.

use hearth::api::types::{Change, Event};
use tauri_plugin_notification::NotificationExt;

pub fn on_event(app: &tauri::AppHandle, event: &Event) {
    if let Event::SendsSomethingNew { name, change } = event {
        let body = match change {
            Change::NewField { path, topic, category, .. } => {
                format!("It started sending {path} ({}) on {topic}. Open it in Hearth to keep or redact it.", category.as_str())
            }
            Change::NewCategory { category, .. } => {
                format!("It started sending {} data. Open it in Hearth to choose how long it is kept.", category.as_str())
            }
            Change::MoreThanUsual { last_day, usual_per_day, .. } => {
                format!("{last_day} messages in a day, against {usual_per_day} usually.")
            }
        };
        if let Err(e) = app.notification().builder().title(format!("{name} sends something new")).body(body).show() {
            tracing::warn!("cannot show a notification: {e}");
        }
        return;
    }
    let Event::DeviceSeen { device } = event else { return };
    let what = [device.vendor.as_deref(), device.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let body = if what.is_empty() {
        "A new device joined the network. It is quarantined until you approve or block it.".to_owned()
    } else {
        format!("{what} joined the network. It is quarantined until you approve or block it.")
    };
    if let Err(e) = app.notification().builder().title(format!("New device: {}", device.name)).body(body).show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

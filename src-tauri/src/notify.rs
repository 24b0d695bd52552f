//! OS notifications for what needs a person's decision.

use hearth::api::types::Event;
use tauri_plugin_notification::NotificationExt;

pub fn on_event(app: &tauri::AppHandle, event: &Event) {
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

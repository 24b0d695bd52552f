//! Hearth's desktop shell: a thin Tauri layer over the embedded hub.
//!
//! Map:
//! - [`run`]: starts the hub engine in-process (the same engine as `hearth serve`, so the
//!   household can also open the web UI), opens the window, the tray icon, and forwards hub
//!   events to the window and to OS notifications.
//! - `commands`: the window's one IPC command, `call`, into `hearth::api::commands`.
//! - `tray`: the tray icon and its menu.
//! - `notify`: OS notifications for what needs a person: a new device, one that sends something
//!   new, and a question about whether two records are one device.

mod commands;
mod notify;
mod tray;

use hearth::engine::{Engine, Options};
use std::sync::Mutex;
use tauri::{Emitter, Manager};

/// The engine, kept so that it can be shut down cleanly on exit.
struct EngineSlot(Mutex<Option<Engine>>);

/// Builds and runs the app. The builder is a parameter so tests can pass a mock builder.
pub fn run(builder: tauri::Builder<tauri::Wry>) {
    hearth::init_logging(u8::from(std::env::var_os("HEARTH_VERBOSE").is_some()));
    let app = builder
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![commands::call])
        .setup(|app| {
            let engine = tauri::async_runtime::block_on(Engine::start(options()?)).map_err(|e| {
                tracing::error!("{e:#}");
                // Shown in a terminal; the OS notification tells people without one.
                let _ = tauri_plugin_notification::NotificationExt::notification(app.handle())
                    .builder()
                    .title("Hearth could not start")
                    .body(format!("{e:#}"))
                    .show();
                e
            })?;
            tracing::info!(url = engine.url(), "hub running inside the desktop app");
            let hub = engine.hub.clone();
            app.manage(hub.clone());
            app.manage(EngineSlot(Mutex::new(Some(engine))));
            tray::install(app)?;
            let handle = app.handle().clone();
            let mut events = hub.subscribe();
            tauri::async_runtime::spawn(async move {
                loop {
                    let event = match events.recv().await {
                        Ok(e) => e,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => hearth::api::types::Event::Resync,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    };
                    // The window is the founding owner: shown what they may see, like any member.
                    if !hub.shown(&hearth::family::Caller::local_owner("desktop"), &event) {
                        continue;
                    }
                    notify::on_event(&handle, &event);
                    let _ = handle.emit_to("main", "hearth://event", &event);
                }
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps the hub running in the tray; Quit in the tray menu exits.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && window.app_handle().tray_by_id(tray::TRAY_ID).is_some()
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("hearth-desktop: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let slot = handle.state::<EngineSlot>();
            let engine = slot.0.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(engine) = engine {
                tauri::async_runtime::block_on(engine.shutdown());
            }
        }
    });
}

/// The data directory and listen addresses, as for `hearth serve`: `HEARTH_DATA_DIR`,
/// `HEARTH_HTTP_LISTEN` and `HEARTH_MQTT_LISTEN` override the defaults (tests use them).
fn options() -> anyhow::Result<Options> {
    let data_dir = hearth::data_dir::resolve(std::env::var_os("HEARTH_DATA_DIR").map(Into::into))?;
    let http_listen = address_from_env("HEARTH_HTTP_LISTEN", "127.0.0.1:8470")?;
    let mqtt_listen = address_from_env("HEARTH_MQTT_LISTEN", "0.0.0.0:1883")?;
    let mqtts_listen = address_from_env("HEARTH_MQTTS_LISTEN", "0.0.0.0:8883")?;
    Ok(Options {
        data_dir,
        http_listen,
        allow_plain_http: false,
        interfaces: vec![],
        no_discovery: false,
        mqtt_listen,
        mqtts_listen,
        no_broker: false,
        // The desktop app is no home's resolver unless hearth.toml says so: a laptop sleeps.
        dns_listen: None,
        dns_upstream: vec![],
        apply_firewall: false,
    })
}

fn address_from_env(name: &str, example: &str) -> anyhow::Result<Option<std::net::SocketAddr>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v.parse().map_err(|e| anyhow::anyhow!("{name}={v} is not an address like {example}: {e}"))?)),
        Err(_) => Ok(None),
    }
}

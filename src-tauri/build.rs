fn main() {
    // Declaring the app's one command makes Tauri check it against the capabilities, so the
    // window may call only what capabilities/main.json grants it. What `call` may run is decided
    // by the hub's own declaration and check (`hearth::api::commands`).
    let manifest = tauri_build::AppManifest::new().commands(&["call"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build: {e:#}");
    }
}

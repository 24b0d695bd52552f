fn main() {
    // The window shows the UI embedded from ui/dist. The hub's crate makes that folder, empty, if
    // it is missing (crates/hearth/build.rs): without this check an app built before the UI
    // would open on a blank window.
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    if !std::path::Path::new("../ui/dist/index.html").exists() {
        panic!("the web UI is not built (ui/dist/index.html is missing): run `npm ci && npm run build` in ui/ first");
    }
    // Declaring the app's one command makes Tauri check it against the capabilities, so the
    // window may call only what capabilities/main.json grants it. What `call` may run is decided
    // by the hub's own declaration and check (`hearth::api::commands`).
    let manifest = tauri_build::AppManifest::new().commands(&["call"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build: {e:#}");
    }
}

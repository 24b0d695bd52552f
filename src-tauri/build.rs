fn main() {
    // Declaring the app's commands makes Tauri check them against the capabilities, so the
    // window may call only what capabilities/main.json grants it.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "status",
        "list_devices",
        "device",
        "decide",
        "forget",
        "add_device",
        "broker_view",
        "credential",
        "set_topic_rule",
        "bind_client_id",
        "set_anonymous",
        "give_entity",
        "identity_review",
        "answer_merge",
        "review",
        "home_review",
        "privacy",
        "set_retention",
        "set_redaction",
        "export_device",
        "export_csv",
        "network_view",
        "set_internet_level",
        "set_domain",
        "allow_waiting",
        "home_network",
        "export_firewall",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build: {e:#}");
    }
}

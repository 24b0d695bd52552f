//! The committed seeds of the `config` fuzz target (`fuzz/seeds/config/`), and any crash it
//! found (kept there too), through its check: a regression test on stable.

use std::path::PathBuf;

#[test]
fn every_config_fuzz_seed_passes_its_check() {
    let dir = crate_dir().join("../../fuzz/seeds/config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    for file in files {
        eprintln!("config: {}", file.display());
        hearth::config::fuzz_check(&std::fs::read(&file).expect("a seed file"));
    }
}

/// This crate's directory as cargo names it when it runs the test, not where the test was
/// compiled: a build cache shared between checkouts must not send it to another checkout.
fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

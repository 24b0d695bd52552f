//! Every committed seed of the fuzz targets (`fuzz/seeds/<target>/`), and every crash the
//! fuzzers found (kept there too), through the same checks the targets run: a regression test
//! on stable, without cargo-fuzz or a sanitizer.

use hearth_core::fuzz_checks::TARGETS;
use std::path::PathBuf;

#[test]
fn every_fuzz_seed_passes_its_target_checks() {
    let seeds = crate_dir().join("../../fuzz/seeds");
    let mut replayed = 0;
    for (target, check) in TARGETS {
        let dir = seeds.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let mut files: Vec<_> = entries.map(|e| e.expect("a directory entry").path()).collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {target} in {}", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            // Name the file before a check panics, so a failure says which seed it was.
            eprintln!("{target}: {}", file.display());
            check(&data);
            replayed += 1;
        }
    }
    eprintln!("{replayed} seeds replayed");
}

/// This crate's directory as cargo names it when it runs the test, not where the test was
/// compiled: a build cache shared between checkouts must not send it to another checkout.
fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

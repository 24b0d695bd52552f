//! The web UI (`ui/dist`, built by Vite) and this crate's build.
//!
//! rust-embed (`src/http/ui.rs`) decides at compile time where a debug build reads the UI from at
//! run time: the folder's canonical path, or, for a folder that does not exist yet, the path as
//! written (`crates/hearth/../../ui/dist`), which no file it looks up ever starts with. So a debug
//! binary compiled before the UI was built served "this build has no web UI" for good, and
//! cargo saw no reason to compile it again. The folder is made here, empty, if it is missing:
//! the UI built later is then found. A build that embeds the files (release) is compiled again
//! when the UI changes.

fn main() {
    let dist = std::path::Path::new("../../ui/dist");
    if let Err(e) = std::fs::create_dir_all(dist) {
        println!("cargo:warning=could not make {} ({e}): a debug build will not find the web UI built later", dist.display());
    }
    // rust-embed embeds the files when debug assertions are off (its own test), else reads them.
    if std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none() {
        println!("cargo:rerun-if-changed=../../ui/dist");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}

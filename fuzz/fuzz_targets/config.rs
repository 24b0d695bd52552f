//! The `config` target: `hearth.toml` as `crates/hearth/src/config.rs` reads it, and its check
//! `config::fuzz_check`. The file is compiled here by itself (it needs only serde, toml and
//! thiserror), not through the `hearth` crate: that crate under AddressSanitizer is tokio,
//! rmqtt, axum, rustls with aws-lc and more, too heavy a build for this machine (see
//! fuzz/README.md). If config.rs ever needs `crate::` items, this stops compiling and says so.
#![no_main]

#[path = "../../crates/hearth/src/config.rs"]
#[allow(dead_code)]
mod config;

libfuzzer_sys::fuzz_target!(|data: &[u8]| config::fuzz_check(data));

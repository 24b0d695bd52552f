//! The `topic` target: the checks are `hearth_core::fuzz_checks::topic` (shared with the test that
//! replays the seeds); see fuzz/README.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hearth_core::fuzz_checks::topic(data));

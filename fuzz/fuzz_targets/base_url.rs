#![no_main]
//! Harness: `base_url` in crates/kommo-files-model/tests/fuzzing/mod.rs (its proptest twin runs under `cargo test`).

#[path = "../../crates/kommo-files-model/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::base_url(data);
});

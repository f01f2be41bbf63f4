#![no_main]
//! Harness: `upload_script` in crates/kommo-files-model/tests/fuzzing/mod.rs (its proptest twin runs under `cargo test`).

#[path = "../../crates/kommo-files-model/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::upload_script(data);
});

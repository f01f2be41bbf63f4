#![no_main]
//! Harness: `parse_response` in crates/kommo-files-model/tests/fuzzing/mod.rs (its proptest twin runs under `cargo test`).

#[path = "../../crates/kommo-files-model/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::parse_response(data);
});

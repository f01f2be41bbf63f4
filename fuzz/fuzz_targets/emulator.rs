#![no_main]
//! Harness: `raw_request` in crates/kommo-files-emulator/tests/fuzzing/mod.rs (its proptest twin
//! runs under `cargo test`). One emulator per process, started on the first input; libFuzzer's
//! panic hook aborts on a panic in any of its threads.

#[path = "../../crates/kommo-files-emulator/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::raw_request(data);
});

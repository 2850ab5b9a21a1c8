//! `cargo +nightly fuzz run vtu`: see `harness::vtu`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::vtu(data));

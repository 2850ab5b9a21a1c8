//! `cargo +nightly fuzz run step`: see `harness::step`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::step(data));

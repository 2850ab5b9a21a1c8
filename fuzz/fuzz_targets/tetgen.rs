//! `cargo +nightly fuzz run tetgen`: see `harness::tetgen`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::tetgen(data));

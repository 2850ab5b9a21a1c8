//! `cargo +nightly fuzz run scene`: see `harness::scene`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::scene(data));

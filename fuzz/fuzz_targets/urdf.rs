//! `cargo +nightly fuzz run urdf`: see `harness::urdf`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::urdf(data));

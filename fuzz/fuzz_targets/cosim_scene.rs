//! `cargo +nightly fuzz run cosim_scene`: see `harness::cosim_scene`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::cosim_scene(data));

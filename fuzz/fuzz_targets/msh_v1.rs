//! `cargo +nightly fuzz run msh_v1`: see `harness::msh_v1`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::msh_v1(data));

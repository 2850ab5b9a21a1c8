//! `cargo +nightly fuzz run msh_v22`: see `harness::msh_v22`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::msh_v22(data));

#![no_main]
// The target `idx` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("idx", data));

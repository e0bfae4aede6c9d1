#![no_main]
// The target `option_values` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("option_values", data));

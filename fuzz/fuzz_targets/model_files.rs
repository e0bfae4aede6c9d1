#![no_main]
// The target `model_files` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("model_files", data));

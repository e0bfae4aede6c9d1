#![no_main]
// The target `lwe_inference` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("lwe_inference", data));

#![no_main]
// The target `lwe_client_key` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("lwe_client_key", data));

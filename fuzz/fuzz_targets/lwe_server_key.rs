#![no_main]
// The target `lwe_server_key` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("lwe_server_key", data));

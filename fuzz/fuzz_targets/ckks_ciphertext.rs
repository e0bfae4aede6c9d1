#![no_main]
// The target `ckks_ciphertext` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("ckks_ciphertext", data));

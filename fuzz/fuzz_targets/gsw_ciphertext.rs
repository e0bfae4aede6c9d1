#![no_main]
// The target `gsw_ciphertext` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("gsw_ciphertext", data));

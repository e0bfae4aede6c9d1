#![no_main]
// The target `service_requests` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("service_requests", data));

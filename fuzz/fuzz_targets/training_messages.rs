#![no_main]
// The target `training_messages` of crates/fuzz under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| shroud_fuzz::run("training_messages", data));

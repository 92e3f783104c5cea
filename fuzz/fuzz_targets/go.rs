#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| reposmith_fuzz::go(data));

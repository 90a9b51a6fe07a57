#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keel_fuzz_checks::check_sync_message(data);
});

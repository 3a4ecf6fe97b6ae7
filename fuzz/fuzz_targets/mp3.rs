#![no_main]
// Entry point and properties: switchboard_telephony::fuzzing::mp3.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_telephony::fuzzing::mp3(data));

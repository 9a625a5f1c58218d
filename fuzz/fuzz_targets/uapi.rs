#![no_main]
// UAPI set/get parsing and round trips through format_set/format_get.
libfuzzer_sys::fuzz_target!(
    init: wg_fuzz::seeds::write_if_asked(),
    |data: &[u8]| wg_fuzz::uapi::run(data)
);

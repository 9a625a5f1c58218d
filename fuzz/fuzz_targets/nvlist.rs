#![no_main]
// nvlist unpack, SIOCSWG/SIOCGWG decoding, round trips, and set_config.
libfuzzer_sys::fuzz_target!(
    init: wg_fuzz::seeds::write_if_asked(),
    |data: &[u8]| wg_fuzz::nvlist::run(data)
);

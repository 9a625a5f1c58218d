#![no_main]
// Allowed-IPs insert/remove/lookup sequences against a linear-scan model.
libfuzzer_sys::fuzz_target!(
    init: wg_fuzz::seeds::write_if_asked(),
    |data: &[u8]| wg_fuzz::allowedips::run(data)
);

#![no_main]
// Datagram sequences into two devices that completed a handshake.
libfuzzer_sys::fuzz_target!(
    init: wg_fuzz::seeds::write_if_asked(),
    |data: &[u8]| wg_fuzz::receive::run(data)
);

//! nvlist bytes: the generic unpacker, the SIOCSWG/SIOCGWG decoders with
//! their default limits, the round trips they promise, and the device
//! applying what decoded.

use wg_core::config::{DeviceUpdate, Limits};
use wg_core::testutil::{SeededRng, T0};
use wg_core::{nvconfig, nvlist, Device};

pub fn run(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => generic(body),
        1 => set(body),
        _ => get(body),
    }
}

fn generic(body: &[u8]) {
    let Ok(l) = nvlist::unpack(body, &nvlist::UnpackLimits::default()) else {
        return;
    };
    // Anything unpacked packs again, to a buffer of the size it predicts,
    // and that unpacks to the same list.
    let packed = nvlist::pack(&l).expect("pack of an unpacked nvlist");
    assert_eq!(packed.len(), nvlist::packed_size(&l), "packed_size");
    let back = nvlist::unpack(&packed, &nvlist::UnpackLimits::default())
        .expect("unpack of a packed nvlist");
    assert!(back == l, "nvlist round trip");
}

fn set(body: &[u8]) {
    let limits = Limits::default();
    let Ok(u) = nvconfig::decode_set(body, &limits) else {
        return;
    };
    let packed = nvconfig::encode_set(&u).expect("encode_set of a decoded update");
    let back = nvconfig::decode_set(&packed, &limits).expect("decode_set of encode_set");
    assert_eq!(back, u, "SIOCSWG round trip");
    apply(&u);
}

fn get(body: &[u8]) {
    let Ok(info) = nvconfig::decode_get(body) else {
        return;
    };
    let packed = nvconfig::encode_get(&info).expect("encode_get of a decoded answer");
    let back = nvconfig::decode_get(&packed).expect("decode_get of encode_get");
    assert_eq!(back, info, "SIOCGWG round trip");
}

/// Applies `u` to a device that already has a key and a peer: it must not
/// panic, `check_config` must agree with `set_config`, and whatever the
/// device holds afterwards reads back through both encodings.
pub fn apply(u: &DeviceUpdate) {
    let dev = Device::new(Box::new(SeededRng::new(7))).expect("device");
    dev.set_config(T0, &crate::seeds::base_config())
        .expect("base configuration");
    let checked = dev.check_config(u);
    let applied = dev.set_config(T0, u);
    assert_eq!(
        checked.is_ok(),
        applied.is_ok(),
        "check_config {checked:?} but set_config {applied:?}"
    );
    for privileged in [false, true] {
        let info = dev.config(privileged).expect("config");
        let packed = nvconfig::encode_get(&info).expect("encode_get of config");
        let back = nvconfig::decode_get(&packed).expect("decode_get of config");
        assert_eq!(back, info, "config through SIOCGWG");
        let mut text = String::new();
        wg_core::uapi::format_get(&info, &mut text);
        wg_core::uapi::format_errno(0, &mut text);
        wg_core::uapi::parse_get(text.as_bytes()).expect("config through UAPI get");
    }
}

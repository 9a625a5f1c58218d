//! UAPI text: `parse_set` and `parse_get` on anything, and the round trips
//! the module promises for what they accept.

use wg_core::config::DeviceUpdate;
use wg_core::uapi;

/// A removed peer is formatted as its key and `remove=true` alone (as
/// wg(8) does), so its other fields do not survive a round trip.
pub fn normalise_removed(u: &mut DeviceUpdate) {
    for p in &mut u.peers {
        if p.remove {
            *p = wg_core::config::PeerUpdate {
                public_key: p.public_key,
                remove: true,
                update_only: p.update_only,
                ..Default::default()
            };
        }
    }
}

pub fn run(data: &[u8]) {
    // The first byte picks the parser so one corpus serves both.
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        set(body);
    } else {
        get(body);
    }
}

fn set(body: &[u8]) {
    // The daemon hands parse_set a &str: non-UTF-8 is refused before it.
    let Ok(text) = core::str::from_utf8(body) else {
        return;
    };
    let Ok(mut u) = uapi::parse_set(text) else {
        return;
    };
    let mut again = String::new();
    uapi::format_set(&u, &mut again);
    let back = uapi::parse_set(&again)
        .unwrap_or_else(|e| panic!("format_set output refused ({e:?}):\n{again}"));
    normalise_removed(&mut u);
    let mut back_n = back.clone();
    normalise_removed(&mut back_n);
    assert_eq!(back_n, u, "set round trip through:\n{again}");
    // What the daemon applies must not panic the device; errors are fine.
    crate::nvlist::apply(&back);
}

fn get(body: &[u8]) {
    let Ok(info) = uapi::parse_get(body) else {
        return;
    };
    let mut text = String::new();
    uapi::format_get(&info, &mut text);
    uapi::format_errno(0, &mut text);
    let back = uapi::parse_get(text.as_bytes())
        .unwrap_or_else(|e| panic!("format_get output refused ({e:?}):\n{text}"));
    assert_eq!(back, info, "get round trip through:\n{text}");
}

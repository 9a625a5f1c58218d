//! The device's load meter: when it answers handshakes with cookie
//! replies instead of responses, and for how long after.

use super::*;

#[test]
fn load_is_inferred_from_the_handshake_rate() {
    let mut p = Pair::new(None);
    p.sides[1].dev.set_load_threshold(3);
    // Two initiations a second is no load: B answers with a response.
    p.send_ip(0, b"x");
    let init = p.wire.pop_front().unwrap();
    let r = p.deliver(init.0, init.1, init.2.clone()).unwrap();
    assert!(matches!(r.action, Decap::Reply { len: 92 }));
    p.wire.clear();
    assert!(!p.sides[1].dev.stats(p.now).under_load);
    // A burst of the same initiation (replays, as a flood would be) within
    // one second crosses the threshold: B answers with cookie replies and
    // stays under load for one second after the last message that found
    // the rate at the threshold (Linux's last_under_load).
    for _ in 0..3 {
        let _ = p.deliver(init.0, init.1, init.2.clone());
    }
    assert!(p.sides[1].dev.stats(p.now).under_load);
    p.wire.clear();
    let r = p.deliver(init.0, init.1, init.2.clone()).unwrap();
    assert!(
        matches!(r.action, Decap::Reply { len: 64 }),
        "a cookie reply"
    );
    let last = p.now;
    p.now = last.plus(SEC - NS);
    assert!(p.sides[1].dev.stats(p.now).under_load);
    p.now = last.plus(SEC);
    assert!(!p.sides[1].dev.stats(p.now).under_load);
    p.now = p.now.plus(2 * SEC);
    assert!(!p.sides[1].dev.stats(p.now).under_load);
}

/// Issue 15, item 11: a flood that stops early in a second must not keep
/// the device under load to the end of the next whole second. 1.1 s after
/// the flood (still within the next second), a handshake message gets a
/// real answer, not a cookie reply.
#[test]
fn load_ends_one_second_after_the_flood() {
    let mut p = Pair::new(None);
    p.sides[1].dev.set_load_threshold(3);
    p.send_ip(0, b"x");
    let init = p.wire.pop_front().unwrap();
    p.wire.clear();
    // The flood: early in a whole second.
    p.now = Time::new(
        Instant::ZERO + (p.now.mono.second() + 1) * SEC + SEC / 20,
        p.now.real,
    );
    for _ in 0..4 {
        let _ = p.deliver(init.0, init.1, init.2.clone());
    }
    assert!(p.sides[1].dev.stats(p.now).under_load);
    p.wire.clear();
    p.now = p.now.plus(SEC + SEC / 10);
    assert!(
        !p.sides[1].dev.stats(p.now).under_load,
        "still under load 1.1 s after the flood"
    );
    // B initiates (its peer was re-added, say): A's response must complete
    // the handshake, not be answered with a cookie reply.
    p.send_ip(1, b"after the flood");
    let mut cookies = 0;
    while let Some((to, src, msg)) = p.wire.pop_front() {
        if to == 0 && msg.len() == 64 && msg[0] == 3 {
            cookies += 1;
        }
        let _ = p.deliver(to, src, msg);
    }
    assert_eq!(cookies, 0, "B answered with a cookie reply");
    assert!(p.sides[0]
        .delivered
        .iter()
        .any(|d| d.ends_with(b"after the flood")));
}

/// A host's deep queue (set_under_load) keeps the device under load for a
/// second after the last message handled while it was deep, as Linux's
/// last_under_load does, not only while the host says so.
#[test]
fn forced_load_outlasts_the_queue_by_one_second() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"x");
    let init = p.wire.pop_front().unwrap();
    p.wire.clear();
    p.sides[1].dev.set_under_load(true);
    let r = p.deliver(init.0, init.1, init.2.clone()).unwrap();
    assert!(
        matches!(r.action, Decap::Reply { len: 64 }),
        "a cookie reply"
    );
    let last = p.now;
    p.sides[1].dev.set_under_load(false);
    p.now = last.plus(SEC - NS);
    assert!(p.sides[1].dev.stats(p.now).under_load, "the queue drained");
    p.now = last.plus(SEC);
    assert!(!p.sides[1].dev.stats(p.now).under_load);
}

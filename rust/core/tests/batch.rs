//! Device::encapsulate_batch: a train of packets sealed with one lock hold
//! and one crypto pass per peer run gives what encapsulate gives one by one
//! (each opens at the peer, in order), with per-packet errors in place.

use std::sync::atomic::{AtomicU64, Ordering};
use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceUpdate, PeerUpdate};
use wg_core::device::{Rng, DATA_HEADROOM, DATA_TAILROOM, ENCAP_BATCH, MAX_HANDSHAKE_LEN};
use wg_core::{
    crypto, Decap, Device, Duration, Encap, Endpoint, Error, Instant, PeerAction, Time, WallTime,
};

struct Counter(AtomicU64);

impl Rng for Counter {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.fetch_add(1, Ordering::Relaxed) as u8;
        }
    }
}

fn device(own: u8, peer: u8, ep: Endpoint, peer_ip: [u8; 4]) -> Device {
    let dev = Device::new(Box::new(Counter(AtomicU64::new(own as u64)))).unwrap();
    let mut k = [own; 32];
    crypto::clamp_private_key(&mut k);
    let mut pk = [peer; 32];
    crypto::clamp_private_key(&mut pk);
    dev.set_config(
        Time::from_nanos(1, 1),
        &DeviceUpdate {
            private_key: Some(Some(k)),
            peers: vec![PeerUpdate {
                public_key: crypto::public_key(&pk),
                endpoint: Some(ep),
                allowed_ips: vec![AllowedIpChange {
                    prefix: IpPrefix::new_v4(peer_ip, 32).unwrap(),
                    remove: false,
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .unwrap();
    dev
}

fn packet(len: usize, dst: [u8; 4], fill: u8) -> Vec<u8> {
    let mut buf = vec![0u8; DATA_HEADROOM + len + DATA_TAILROOM];
    let p = &mut buf[DATA_HEADROOM..DATA_HEADROOM + len];
    p.fill(fill);
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&dst);
    buf
}

#[test]
fn batch_seals_as_single_packets_do() {
    let ea = Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 1,
    };
    let eb = Endpoint::V4 {
        addr: [192, 0, 2, 2],
        port: 2,
    };
    let a = device(1, 2, eb, [10, 0, 0, 2]);
    let b = device(2, 1, ea, [10, 0, 0, 1]);
    let pa = a.peer_ids()[0];
    let now = Time::new(
        Instant::ZERO + Duration::from_secs(10),
        WallTime::EPOCH + Duration::from_secs(1_700_000_000),
    );
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    let mut out2 = [0u8; MAX_HANDSHAKE_LEN];

    // No session yet: a batch stages, and asks for a handshake.
    let mut p = packet(100, [10, 0, 0, 2], 1);
    let mut res = [Err(Error::BufferTooSmall)];
    a.encapsulate_batch(now, &mut [(&mut p[..], 100)], &mut res);
    assert!(matches!(res[0], Ok(Encap::Staged { .. })), "{res:?}");
    let PeerAction::Send { len, .. } = a.poll_peer(pa, now, &mut out).unwrap() else {
        panic!("no initiation")
    };
    let Decap::Reply { len } = b
        .decapsulate(now, ea, &mut out[..len], &mut out2)
        .unwrap()
        .action
    else {
        panic!("no response")
    };
    a.decapsulate(now, eb, &mut out2[..len], &mut out).unwrap();

    // A train longer than one run, with a packet to nowhere and one whose
    // buffer has no tailroom among packets of the peer.
    let lens = [1420usize, 0, 64, 1, 700, 1420, 33, 1400, 9, 1420, 300];
    let mut bufs: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| packet(len.max(20), [10, 0, 0, 2], i as u8))
        .collect();
    bufs[3] = packet(20, [10, 0, 0, 9], 3);
    bufs[6].truncate(DATA_HEADROOM + 33);
    let plain = bufs.clone();
    let mut pkts: Vec<(&mut [u8], usize)> = bufs
        .iter_mut()
        .zip(lens)
        .map(|(b, len)| (&mut b[..], len.max(20)))
        .collect();
    let mut res = vec![Err(Error::BufferTooSmall); pkts.len()];
    for (p, r) in pkts
        .chunks_mut(ENCAP_BATCH)
        .zip(res.chunks_mut(ENCAP_BATCH))
    {
        a.encapsulate_batch(now, p, r);
    }
    drop(pkts);
    let mut delivered = 0;
    for (i, r) in res.iter().enumerate() {
        match i {
            3 => assert_eq!(*r, Err(Error::NoRoute)),
            6 => assert_eq!(*r, Err(Error::BufferTooSmall)),
            _ => {
                let Ok(Encap::Send { len, endpoint, .. }) = *r else {
                    panic!("packet {i}: {r:?}")
                };
                assert_eq!(endpoint, eb);
                let d = b
                    .decapsulate(now, ea, &mut bufs[i][..len], &mut out)
                    .unwrap();
                let Decap::Tunnel { offset, len } = d.action else {
                    panic!("packet {i} not delivered: {d:?}")
                };
                let n = lens[i].max(20);
                assert_eq!(len, n);
                assert_eq!(
                    &bufs[i][offset..offset + len],
                    &plain[i][DATA_HEADROOM..DATA_HEADROOM + n]
                );
                delivered += 1;
            }
        }
    }
    assert_eq!(delivered, lens.len() - 2);
    // And a single packet after the batch takes the next counter: it opens.
    let mut p = packet(500, [10, 0, 0, 2], 0x77);
    let Encap::Send { len, .. } = a.encapsulate(now, &mut p, 500).unwrap() else {
        panic!("not sent")
    };
    assert!(matches!(
        b.decapsulate(now, ea, &mut p[..len], &mut out)
            .unwrap()
            .action,
        Decap::Tunnel { .. }
    ));
}

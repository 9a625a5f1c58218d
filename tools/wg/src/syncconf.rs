//! `wg syncconf`: turns a setconf-style update into one that brings the
//! running interface to the file's state without replacing peers that
//! stay, so their sessions survive. Peers only the interface has are
//! removed by name, and a preshared key or keepalive the file no longer
//! gives is cleared (wireguard-tools does the last two since 1.0.20250521).

use std::collections::BTreeSet;
use std::io;

use wg_core::config::{DeviceInfo, DeviceUpdate, Key, PeerUpdate};

/// Rewrites `file` (parsed with setconf semantics) against the running
/// configuration, fetched with `current` only when the file has peers.
pub fn sync_update(
    file: &mut DeviceUpdate,
    current: impl FnOnce() -> io::Result<DeviceInfo>,
) -> io::Result<()> {
    // With no peers in the file, replacing all peers is already right.
    if file.peers.is_empty() {
        return Ok(());
    }
    let running = current()?;
    if running.peers.is_empty() {
        return Ok(());
    }
    file.replace_peers = false;

    let in_file: BTreeSet<Key> = file.peers.iter().map(|p| p.public_key).collect();
    for peer in &mut file.peers {
        let Some(live) = running
            .peers
            .iter()
            .find(|r| r.public_key == peer.public_key)
        else {
            continue;
        };
        if peer.preshared_key.is_none() && live.preshared_key.is_some() {
            peer.preshared_key = Some(None);
        }
        if peer.persistent_keepalive.is_none() && live.persistent_keepalive != 0 {
            peer.persistent_keepalive = Some(0);
        }
    }

    let mut gone: Vec<Key> = running
        .peers
        .iter()
        .map(|p| p.public_key)
        .filter(|k| !in_file.contains(k))
        .collect();
    // Removals go first, as in wg, so a full interface has room again
    // before the file's new peers are added; and in wg's order (highest
    // key first), because a backend may hand freed slots to new peers and
    // so let this order decide the order `show` lists them in.
    gone.sort_unstable_by(|a, b| b.cmp(a));
    gone.dedup();
    let removals = gone.into_iter().map(|public_key| PeerUpdate {
        public_key,
        remove: true,
        ..PeerUpdate::default()
    });
    let kept = std::mem::take(&mut file.peers);
    file.peers = removals.chain(kept).collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wg_core::config::PeerInfo;

    fn live(byte: u8, psk: bool, keepalive: u16) -> PeerInfo {
        PeerInfo {
            public_key: [byte; 32],
            preshared_key: psk.then_some([9; 32]),
            endpoint: None,
            last_handshake: (0, 0),
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: keepalive,
            allowed_ips: Vec::new(),
        }
    }

    fn device(peers: Vec<PeerInfo>) -> DeviceInfo {
        DeviceInfo {
            private_key: None,
            public_key: None,
            listen_port: 0,
            user_cookie: 0,
            peers,
        }
    }

    fn wanted(byte: u8) -> PeerUpdate {
        PeerUpdate {
            public_key: [byte; 32],
            replace_allowed_ips: true,
            ..PeerUpdate::default()
        }
    }

    fn setconf(peers: Vec<PeerUpdate>) -> DeviceUpdate {
        DeviceUpdate {
            private_key: Some(None),
            listen_port: Some(0),
            user_cookie: Some(0),
            replace_peers: true,
            peers,
        }
    }

    #[test]
    fn no_peers_in_file_means_replace_all_without_asking() {
        let mut u = setconf(vec![]);
        sync_update(&mut u, || panic!("must not fetch")).unwrap();
        assert_eq!(u, setconf(vec![]));
    }

    #[test]
    fn no_running_peers_keeps_setconf() {
        let mut u = setconf(vec![wanted(1)]);
        sync_update(&mut u, || Ok(device(vec![]))).unwrap();
        assert_eq!(u, setconf(vec![wanted(1)]));
    }

    #[test]
    fn peers_missing_from_the_file_are_removed() {
        let mut u = setconf(vec![wanted(2), wanted(1)]);
        sync_update(&mut u, || {
            Ok(device(vec![
                live(3, false, 0),
                live(1, false, 0),
                live(0, false, 0),
            ]))
        })
        .unwrap();
        assert!(!u.replace_peers);
        assert_eq!(u.private_key, Some(None));
        let summary: Vec<(u8, bool)> = u
            .peers
            .iter()
            .map(|p| (p.public_key[0], p.remove))
            .collect();
        assert_eq!(summary, [(3, true), (0, true), (2, false), (1, false)]);
        assert!(u.peers[..2]
            .iter()
            .all(|p| !p.replace_allowed_ips && p.allowed_ips.is_empty()));
        // Peers that stay are not touched beyond what the file says.
        assert_eq!(u.peers[3], wanted(1));
    }

    #[test]
    fn dropped_psk_and_keepalive_are_cleared() {
        let mut with_both = wanted(2);
        with_both.preshared_key = Some(Some([5; 32]));
        with_both.persistent_keepalive = Some(10);
        let mut u = setconf(vec![wanted(1), with_both.clone(), wanted(4)]);
        sync_update(&mut u, || {
            Ok(device(vec![
                live(1, true, 25),
                live(2, true, 25),
                live(4, false, 0),
            ]))
        })
        .unwrap();
        assert_eq!(u.peers[0].preshared_key, Some(None));
        assert_eq!(u.peers[0].persistent_keepalive, Some(0));
        assert_eq!(u.peers[1], with_both);
        assert_eq!(u.peers[2], wanted(4));
    }

    #[test]
    fn fetch_errors_pass_through() {
        let mut u = setconf(vec![wanted(1)]);
        let e =
            sync_update(&mut u, || Err(io::Error::from_raw_os_error(libc::ENODEV))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }
}

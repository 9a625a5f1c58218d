//! The arguments of `wg set <interface> ...`: interface settings, then
//! any number of `peer <key>` groups, each with its own settings. Keys are
//! read from files so they never appear in the process list.

use std::fs::File;
use std::io::{self, Read, Seek};

use wg_core::config::{DeviceUpdate, PeerUpdate};

use crate::cmd_util::error_text;
use crate::config_file::{is_space, values, Ctx, ParseError, Parsed};
use crate::keys::{self, Key, KEY_B64_LEN};

/// Reads a key file: one base64 key, optionally followed by whitespace.
/// An empty file (such as /dev/null) gives the all-zero key, which clears.
pub fn read_key_file(path: &[u8]) -> Parsed<Key> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let mut file =
        File::open(path).map_err(|e| ParseError::new(format!("fopen: {}", error_text(&e))))?;
    key_from_file(&mut file)
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn key_from_file(file: &mut (impl Read + Seek)) -> Parsed<Key> {
    let mut text = [0u8; KEY_B64_LEN];
    match read_full(file, &mut text) {
        Ok(n) if n == KEY_B64_LEN => {}
        // Nothing at all, from something seekable: an empty file.
        Ok(0) if matches!(file.stream_position(), Ok(0)) => return Ok([0; 32]),
        _ => return Err(ParseError::new("Invalid length key in key file")),
    }
    let mut rest = Vec::new();
    let read_rest = file.read_to_end(&mut rest);
    if let Some(&c) = rest.iter().find(|&&c| !is_space(c)) {
        let mut msg = b"Found trailing character in key file: `".to_vec();
        msg.push(c);
        msg.push(b'\'');
        return Err(ParseError::new(msg));
    }
    if let Err(e) = read_rest {
        return Err(ParseError::new(format!("getc: {}", error_text(&e))));
    }
    // A NUL inside ends the key text early, as for the C string wg uses.
    let text = text.split(|&c| c == 0).next().unwrap_or_default();
    values::key(text)
}

fn no_zero(key: Key) -> Option<Key> {
    (!keys::is_zero(&key)).then_some(key)
}

fn invalid(arg: &[u8]) -> ParseError {
    let mut msg = b"Invalid argument: ".to_vec();
    msg.extend_from_slice(arg);
    ParseError::new(msg)
}

/// Parses everything after the interface name.
pub fn parse(ctx: &mut Ctx, args: &[Vec<u8>]) -> Parsed<DeviceUpdate> {
    let mut update = DeviceUpdate::default();
    let result = parse_into(ctx, args, &mut update);
    if result.is_err() {
        update.zeroize_secrets();
    }
    result.map(|()| update)
}

fn parse_into(ctx: &mut Ctx, args: &[Vec<u8>], update: &mut DeviceUpdate) -> Parsed<()> {
    let mut rest = args;
    while let Some((word, after)) = rest.split_first() {
        let value = after.first().map(Vec::as_slice);
        let in_peer = !update.peers.is_empty();
        let mut used_value = true;
        match (word.as_slice(), value) {
            (b"listen-port", Some(v)) if !in_peer => {
                update.listen_port = Some(values::port(ctx, v)?)
            }
            (b"fwmark", Some(v)) if !in_peer => update.user_cookie = Some(values::fwmark(v)?),
            (b"private-key", Some(v)) if !in_peer => {
                update.private_key = Some(no_zero(read_key_file(v)?))
            }
            (b"peer", Some(v)) => {
                let public_key = values::key(v)?;
                update.peers.push(PeerUpdate {
                    public_key,
                    ..PeerUpdate::default()
                });
            }
            (b"remove", _) if in_peer => {
                used_value = false;
                if let Some(p) = update.peers.last_mut() {
                    p.remove = true;
                }
            }
            (b"endpoint", Some(v)) if in_peer => {
                let ep = values::endpoint(ctx, v)?;
                if let Some(p) = update.peers.last_mut() {
                    p.endpoint = Some(ep);
                }
            }
            (b"allowed-ips", Some(v)) if in_peer => {
                // Unlike the other values, this one may be spaced out.
                let compact: Vec<u8> = v.iter().copied().filter(|&c| !is_space(c)).collect();
                let more = values::allowed_ips(ctx, &compact)?;
                if let Some(p) = update.peers.last_mut() {
                    p.replace_allowed_ips = true;
                    p.allowed_ips.extend(more);
                }
            }
            (b"persistent-keepalive", Some(v)) if in_peer => {
                let secs = values::persistent_keepalive(v)?;
                if let Some(p) = update.peers.last_mut() {
                    p.persistent_keepalive = Some(secs);
                }
            }
            (b"preshared-key", Some(v)) if in_peer => {
                let key = no_zero(read_key_file(v)?);
                if let Some(p) = update.peers.last_mut() {
                    p.preshared_key = Some(key);
                }
            }
            _ => return Err(invalid(word)),
        }
        rest = if used_value { &after[1..] } else { after };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::values::tests::{with_ctx, Scripted};
    use std::io::Cursor;
    use wg_core::endpoint::Endpoint;

    const K1: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
    const K2: &str = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn run(list: &[&str]) -> (Parsed<DeviceUpdate>, String) {
        let mut r = Scripted::default();
        with_ctx(&mut r, |c| parse(c, &args(list)))
    }

    fn err(list: &[&str]) -> String {
        String::from_utf8_lossy(&run(list).0.unwrap_err().message).into_owned()
    }

    fn key(s: &str) -> Key {
        keys::from_base64(s.as_bytes()).unwrap()
    }

    struct TempFile(std::path::PathBuf);
    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            let path =
                std::env::temp_dir().join(format!("wg-set-args-{}-{name}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
        fn arg(&self) -> String {
            self.0.to_string_lossy().into_owned()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn interface_and_peers() {
        let psk = TempFile::new("psk", format!("{K2}\n").as_bytes());
        let (got, warn) = run(&[
            "listen-port",
            "51820",
            "fwmark",
            "0x20",
            "private-key",
            "/dev/null",
            "peer",
            K1,
            "endpoint",
            "192.0.2.1:7",
            "allowed-ips",
            "10.0.0.0/8, 10.1.0.0/16",
            "allowed-ips",
            "fd00::/8",
            "persistent-keepalive",
            "off",
            "preshared-key",
            &psk.arg(),
            "peer",
            K2,
            "remove",
        ]);
        let u = got.unwrap();
        assert_eq!(warn, "");
        assert_eq!(u.listen_port, Some(51820));
        assert_eq!(u.user_cookie, Some(32));
        assert_eq!(u.private_key, Some(None));
        assert!(!u.replace_peers);
        let p = &u.peers[0];
        assert_eq!(p.public_key, key(K1));
        assert_eq!(
            p.endpoint,
            Some(Endpoint::V4 {
                addr: [192, 0, 2, 1],
                port: 7
            })
        );
        assert!(p.replace_allowed_ips);
        assert_eq!(p.allowed_ips.len(), 3);
        assert_eq!(p.persistent_keepalive, Some(0));
        assert_eq!(p.preshared_key, Some(Some(key(K2))));
        assert!(!p.remove);
        let q = &u.peers[1];
        assert!(q.remove);
        assert!(!q.replace_allowed_ips);
        assert_eq!(q.preshared_key, None);
    }

    #[test]
    fn empty_allowed_ips_clear_them() {
        let u = run(&["peer", K1, "allowed-ips", ""]).0.unwrap();
        assert!(u.peers[0].replace_allowed_ips);
        assert!(u.peers[0].allowed_ips.is_empty());
        let u = run(&[]).0.unwrap();
        assert_eq!(u, DeviceUpdate::default());
    }

    #[test]
    fn argument_order_and_arity() {
        assert_eq!(err(&["listen-port"]), "Invalid argument: listen-port");
        assert_eq!(err(&["peer"]), "Invalid argument: peer");
        assert_eq!(err(&["remove"]), "Invalid argument: remove");
        assert_eq!(
            err(&["endpoint", "1.2.3.4:5"]),
            "Invalid argument: endpoint"
        );
        assert_eq!(
            err(&["peer", K1, "listen-port", "5"]),
            "Invalid argument: listen-port"
        );
        assert_eq!(
            err(&["peer", K1, "fwmark", "5"]),
            "Invalid argument: fwmark"
        );
        assert_eq!(
            err(&["peer", K1, "private-key", "/dev/null"]),
            "Invalid argument: private-key"
        );
        assert_eq!(err(&["peer", K1, "endpoint"]), "Invalid argument: endpoint");
        assert_eq!(err(&["Listen-Port", "5"]), "Invalid argument: Listen-Port");
        assert_eq!(err(&["peer", K1, "bogus"]), "Invalid argument: bogus");
        assert_eq!(
            err(&["peer", "abc"]),
            "Key is not the correct length or format: `abc'"
        );
        assert_eq!(err(&["listen-port", ""]), "Unable to parse empty port");
        assert_eq!(
            err(&["fwmark", ""]),
            "Fwmark is neither 0/off nor 0-0xffffffff: `'"
        );
        assert_eq!(
            err(&["peer", K1, "persistent-keepalive", ""]),
            "Persistent keepalive interval is neither 0/off nor 1-65535: `'"
        );
        assert_eq!(
            err(&["peer", K1, "endpoint", ""]),
            "Unable to parse empty endpoint"
        );
        // Only allowed-ips loses its spaces; an endpoint keeps them.
        assert_eq!(
            err(&["peer", K1, "endpoint", "1.2.3.4: 5x"]),
            "Servname not supported for ai_socktype: `1.2.3.4: 5x'"
        );
        // `remove` after a peer takes no value.
        let u = run(&["peer", K1, "remove", "peer", K2]).0.unwrap();
        assert!(u.peers[0].remove && !u.peers[1].remove);
    }

    #[test]
    fn key_files() {
        let good = TempFile::new("good", format!("{K1}\n \t\n").as_bytes());
        assert_eq!(read_key_file(good.arg().as_bytes()), Ok(key(K1)));
        let bare = TempFile::new("bare", K1.as_bytes());
        assert_eq!(read_key_file(bare.arg().as_bytes()), Ok(key(K1)));
        let empty = TempFile::new("empty", b"");
        assert_eq!(read_key_file(empty.arg().as_bytes()), Ok([0; 32]));
        assert_eq!(read_key_file(b"/dev/null"), Ok([0; 32]));

        let msg = |contents: &[u8]| -> String {
            let f = TempFile::new("bad", contents);
            String::from_utf8_lossy(&read_key_file(f.arg().as_bytes()).unwrap_err().message)
                .into_owned()
        };
        assert_eq!(msg(b"\n"), "Invalid length key in key file");
        assert_eq!(msg(&K1.as_bytes()[..43]), "Invalid length key in key file");
        assert_eq!(
            msg(format!("{K1}\nx").as_bytes()),
            "Found trailing character in key file: `x'"
        );
        assert_eq!(
            msg(format!("{K1}\0").as_bytes()),
            "Found trailing character in key file: `\0'"
        );
        assert_eq!(
            msg(format!(" {}", &K1[..43]).as_bytes()),
            format!("Key is not the correct length or format: ` {}'", &K1[..43])
        );
        assert_eq!(
            msg(format!("{}\0{}", &K1[..10], &K1[11..]).as_bytes()),
            format!("Key is not the correct length or format: `{}'", &K1[..10])
        );
        assert_eq!(
            String::from_utf8_lossy(&read_key_file(b"/nonexistent/key").unwrap_err().message),
            "fopen: No such file or directory"
        );
        let dir = std::env::temp_dir();
        assert_eq!(
            String::from_utf8_lossy(
                &read_key_file(dir.to_string_lossy().as_bytes())
                    .unwrap_err()
                    .message
            ),
            "Invalid length key in key file"
        );
    }

    #[test]
    fn an_empty_stream_that_cannot_seek_is_not_empty_file() {
        struct Pipe;
        impl Read for Pipe {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Ok(0)
            }
        }
        impl Seek for Pipe {
            fn seek(&mut self, _: io::SeekFrom) -> io::Result<u64> {
                Err(io::Error::from_raw_os_error(libc::ESPIPE))
            }
        }
        assert_eq!(
            key_from_file(&mut Pipe).unwrap_err().message,
            b"Invalid length key in key file"
        );
        assert_eq!(key_from_file(&mut Cursor::new(Vec::new())), Ok([0; 32]));
    }

    #[test]
    fn zero_keys_clear() {
        let zero = TempFile::new("zero", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let u = run(&[
            "private-key",
            &zero.arg(),
            "peer",
            K1,
            "preshared-key",
            "/dev/null",
        ])
        .0
        .unwrap();
        assert_eq!(u.private_key, Some(None));
        assert_eq!(u.peers[0].preshared_key, Some(None));
    }
}

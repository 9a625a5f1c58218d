//! The configuration file `wg setconf`, `addconf` and `syncconf` read:
//! `[Interface]` and `[Peer]` sections of `Key = value` lines, with
//! wireguard-tools' grammar. Every whitespace character on a line is
//! dropped before it is read (so `Allowed IPs` is `AllowedIPs`), `#` starts
//! a comment, section and key names ignore ASCII case, and a line is never
//! continued onto the next.

pub mod resolve;
pub mod values;

use std::io::BufRead;

use wg_core::config::{DeviceUpdate, PeerUpdate};

pub use values::{Ctx, ParseError, Parsed};

use crate::cmd_util::quoted;

/// wg's notion of whitespace: space, \t, \n, \v, \f, \r.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

/// Reads a configuration one line at a time into the update it asks for.
pub struct ConfigParser {
    update: DeviceUpdate,
    section: Section,
    /// Whether each peer so far has had its PublicKey line.
    peer_has_key: Vec<bool>,
}

/// Why a whole file was refused; the caller adds wg's closing line.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A line was wrong ("Configuration parsing error" follows).
    Line(ParseError),
    /// The file as a whole was wrong ("Invalid configuration" follows).
    Incomplete(Vec<u8>),
    /// The file could not be read to its end (a directory, an I/O error):
    /// the errno.
    Read(i32),
}

impl ConfigParser {
    /// `append` is addconf: only what the file names changes. Otherwise the
    /// file is the whole configuration: the interface's private key, port
    /// and fwmark are reset unless given, and peers not in it go away.
    pub fn new(append: bool) -> Self {
        let mut update = DeviceUpdate::default();
        if !append {
            update.replace_peers = true;
            update.private_key = Some(None);
            update.listen_port = Some(0);
            update.user_cookie = Some(0);
        }
        ConfigParser {
            update,
            section: Section::None,
            peer_has_key: Vec::new(),
        }
    }

    /// One line as read from the file, newline included or not.
    pub fn line(&mut self, ctx: &mut Ctx, raw: &[u8]) -> Parsed<()> {
        // The C tool sees a line as a string, so it ends at a NUL.
        let raw = raw.split(|&c| c == 0).next().unwrap_or_default();
        let content = raw.split(|&c| c == b'#').next().unwrap_or_default();
        let line: Vec<u8> = content.iter().copied().filter(|&c| !is_space(c)).collect();
        if line.is_empty() {
            return Ok(());
        }
        self.statement(ctx, &line)
    }

    fn statement(&mut self, ctx: &mut Ctx, line: &[u8]) -> Parsed<()> {
        if line.eq_ignore_ascii_case(b"[Interface]") {
            self.section = Section::Interface;
            return Ok(());
        }
        if line.eq_ignore_ascii_case(b"[Peer]") {
            self.section = Section::Peer;
            self.update.peers.push(PeerUpdate {
                replace_allowed_ips: true,
                ..PeerUpdate::default()
            });
            self.peer_has_key.push(false);
            return Ok(());
        }
        let unrecognized = || ParseError::new(quoted("Line unrecognized", line));
        // A key matches only with a non-empty value after its `=`.
        let value_of = |key: &[u8]| -> Option<&[u8]> {
            let with_eq = [key, b"="].concat();
            (line.len() > with_eq.len() && line[..with_eq.len()].eq_ignore_ascii_case(&with_eq))
                .then(|| &line[with_eq.len()..])
        };
        match self.section {
            Section::Interface => {
                if let Some(v) = value_of(b"ListenPort") {
                    self.update.listen_port = Some(values::port(ctx, v)?);
                } else if let Some(v) = value_of(b"FwMark") {
                    self.update.user_cookie = Some(values::fwmark(v)?);
                } else if let Some(v) = value_of(b"PrivateKey") {
                    let key = values::key(v)?;
                    self.update.private_key = Some((!crate::keys::is_zero(&key)).then_some(key));
                } else {
                    return Err(unrecognized());
                }
            }
            Section::Peer => {
                let (Some(peer), Some(has_key)) =
                    (self.update.peers.last_mut(), self.peer_has_key.last_mut())
                else {
                    return Err(unrecognized());
                };
                if let Some(v) = value_of(b"Endpoint") {
                    peer.endpoint = Some(values::endpoint(ctx, v)?);
                } else if let Some(v) = value_of(b"PublicKey") {
                    peer.public_key = values::key(v)?;
                    *has_key = true;
                } else if let Some(v) = value_of(b"AllowedIPs") {
                    let more = values::allowed_ips(ctx, v)?;
                    peer.allowed_ips.extend(more);
                } else if let Some(v) = value_of(b"PersistentKeepalive") {
                    peer.persistent_keepalive = Some(values::persistent_keepalive(v)?);
                } else if let Some(v) = value_of(b"PresharedKey") {
                    let key = values::key(v)?;
                    peer.preshared_key = Some((!crate::keys::is_zero(&key)).then_some(key));
                } else {
                    return Err(unrecognized());
                }
            }
            Section::None => return Err(unrecognized()),
        }
        Ok(())
    }

    /// The update, once every peer has a public key.
    pub fn finish(mut self) -> Result<DeviceUpdate, Vec<u8>> {
        if self.peer_has_key.iter().any(|has| !has) {
            self.update.zeroize_secrets();
            return Err(b"A peer is missing a public key".to_vec());
        }
        Ok(std::mem::take(&mut self.update))
    }

    /// Drops what was parsed so far without leaving keys in memory.
    pub fn abandon(mut self) {
        self.update.zeroize_secrets();
    }
}

/// Reads a whole file. A read error is an error: wg takes it for the end
/// of the file, so `wg setconf wg0 /etc/wireguard/` would apply an empty
/// configuration and drop every peer.
pub fn parse(
    ctx: &mut Ctx,
    input: &mut dyn BufRead,
    append: bool,
) -> Result<DeviceUpdate, ConfigError> {
    let mut parser = ConfigParser::new(append);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                parser.abandon();
                return Err(ConfigError::Read(e.raw_os_error().unwrap_or(libc::EIO)));
            }
        }
        if let Err(e) = parser.line(ctx, &buf) {
            parser.abandon();
            return Err(ConfigError::Line(e));
        }
    }
    parser.finish().map_err(ConfigError::Incomplete)
}

#[cfg(test)]
mod tests {
    use super::values::tests::{with_ctx, Scripted};
    use super::*;
    use wg_core::allowedips::IpPrefix;
    use wg_core::endpoint::Endpoint;

    const K1: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
    const K2: &str = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
    const PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";

    fn key(s: &str) -> [u8; 32] {
        crate::keys::from_base64(s.as_bytes()).unwrap()
    }

    fn parse_str(text: &str, append: bool) -> (Result<DeviceUpdate, ConfigError>, String) {
        let mut r = Scripted::default();
        with_ctx(&mut r, |c| parse(c, &mut text.as_bytes(), append))
    }

    #[test]
    fn a_read_error_is_not_the_end_of_the_file() {
        // What reading a directory gives: nothing applied, an error.
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(libc::EISDIR))
            }
        }
        let mut r = Scripted::default();
        let (res, _) = with_ctx(&mut r, |c| {
            parse(c, &mut std::io::BufReader::new(Failing), false)
        });
        match res {
            Err(ConfigError::Read(e)) => assert_eq!(e, libc::EISDIR),
            other => panic!("expected a read error, got {:?}", other.map(|_| ())),
        }
    }

    fn line_error(text: &str) -> String {
        match parse_str(text, false).0 {
            Err(ConfigError::Line(e)) => String::from_utf8_lossy(&e.message).into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_file() {
        let text = format!(
            "# a comment\n\
             [Interface]\n\
             PrivateKey = {PRIV}\n\
             ListenPort = 51820\n\
             FwMark = 0x10\n\
             \n\
             [Peer]\n\
             PublicKey = {K1}   # trailing comment\n\
             PresharedKey = {K2}\n\
             AllowedIPs = 10.0.0.0/24, fd00::/64\n\
             AllowedIPs = 10.9.0.1\n\
             Endpoint = 192.0.2.7:51820\n\
             PersistentKeepalive = 25\n\
             [peer]\n\
             publickey={K2}\r\n"
        );
        let (got, warn) = parse_str(&text, false);
        let u = got.unwrap();
        assert_eq!(warn, "");
        assert_eq!(u.private_key, Some(Some(key(PRIV))));
        assert_eq!(u.listen_port, Some(51820));
        assert_eq!(u.user_cookie, Some(16));
        assert!(u.replace_peers);
        assert_eq!(u.peers.len(), 2);
        let p = &u.peers[0];
        assert_eq!(p.public_key, key(K1));
        assert_eq!(p.preshared_key, Some(Some(key(K2))));
        assert!(p.replace_allowed_ips);
        assert!(!p.remove && !p.update_only);
        let prefixes: Vec<_> = p.allowed_ips.iter().map(|a| a.prefix).collect();
        assert_eq!(
            prefixes,
            [
                IpPrefix::new_v4([10, 0, 0, 0], 24).unwrap(),
                IpPrefix::new_v6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 64).unwrap(),
                IpPrefix::new_v4([10, 9, 0, 1], 32).unwrap(),
            ]
        );
        assert_eq!(
            p.endpoint,
            Some(Endpoint::V4 {
                addr: [192, 0, 2, 7],
                port: 51820
            })
        );
        assert_eq!(p.persistent_keepalive, Some(25));
        let q = &u.peers[1];
        assert_eq!(q.public_key, key(K2));
        assert!(q.replace_allowed_ips);
        assert_eq!(q.allowed_ips, []);
        assert_eq!(
            (q.endpoint, q.persistent_keepalive, q.preshared_key),
            (None, None, None)
        );
    }

    #[test]
    fn setconf_resets_what_the_file_omits() {
        let u = parse_str("", false).0.unwrap();
        assert_eq!(u.private_key, Some(None));
        assert_eq!(u.listen_port, Some(0));
        assert_eq!(u.user_cookie, Some(0));
        assert!(u.replace_peers);
        assert!(u.peers.is_empty());
    }

    #[test]
    fn addconf_changes_only_what_the_file_names() {
        let u = parse_str("", true).0.unwrap();
        assert_eq!(u, DeviceUpdate::default());
        let u = parse_str(
            &format!("[Interface]\nListenPort=1\n[Peer]\nPublicKey={K1}\n"),
            true,
        )
        .0
        .unwrap();
        assert_eq!(u.private_key, None);
        assert_eq!(u.user_cookie, None);
        assert_eq!(u.listen_port, Some(1));
        assert!(!u.replace_peers);
        // A [Peer] section still replaces that peer's allowed IPs.
        assert!(u.peers[0].replace_allowed_ips);
    }

    #[test]
    fn whitespace_case_and_comments() {
        let text = format!(
            "  [ InTeRfAcE ]  \n\tprivate key\t=\t{PRIV}\n LISTEN PORT = 5 1 # 9\n\
             [PEER]\nPublic\x0bKey\x0c={K1}\nallowedips=10.0.0.1/3 2,\n  # AllowedIPs = x\n"
        );
        // The trailing comma is an empty entry, which wg refuses.
        let mut r = Scripted::default();
        let (got, _) = with_ctx(&mut r, |c| parse(c, &mut text.as_bytes(), false));
        match got {
            Err(ConfigError::Line(e)) => assert_eq!(e.message, b"Unable to parse IP address: `'"),
            other => panic!("{other:?}"),
        }
        let fixed = text.replace("3 2,", "3 2");
        let u = parse_str(&fixed, false).0.unwrap();
        assert_eq!(u.listen_port, Some(51));
        assert_eq!(u.peers[0].allowed_ips.len(), 1);
        assert_eq!(u.private_key, Some(Some(key(PRIV))));
    }

    #[test]
    fn a_nul_ends_the_line() {
        let text = format!("[Interface]\nListenPort=7\0garbage\n[Peer]\0x\nPublicKey={K1}");
        let u = parse_str(&text, false).0.unwrap();
        assert_eq!(u.listen_port, Some(7));
        assert_eq!(u.peers.len(), 1);
    }

    #[test]
    fn zero_keys_mean_none() {
        let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let text = format!(
            "[Interface]\nPrivateKey={zero}\n[Peer]\nPublicKey={K1}\nPresharedKey={zero}\n"
        );
        let u = parse_str(&text, true).0.unwrap();
        assert_eq!(u.private_key, Some(None));
        assert_eq!(u.peers[0].preshared_key, Some(None));
    }

    #[test]
    fn keepalive_off_and_fwmark_off() {
        let text =
            format!("[Interface]\nFwMark=off\n[Peer]\nPublicKey={K1}\nPersistentKeepalive=off\n");
        let u = parse_str(&text, true).0.unwrap();
        assert_eq!(u.user_cookie, Some(0));
        assert_eq!(u.peers[0].persistent_keepalive, Some(0));
    }

    #[test]
    fn unrecognized_lines() {
        assert_eq!(
            line_error("ListenPort = 1\n"),
            "Line unrecognized: `ListenPort=1'"
        );
        assert_eq!(
            line_error("[Interface]\nPublicKey = x\n"),
            "Line unrecognized: `PublicKey=x'"
        );
        assert_eq!(
            line_error("[Peer]\nListenPort = 1\n"),
            "Line unrecognized: `ListenPort=1'"
        );
        assert_eq!(
            line_error("[Interface]\nListenPort =\n"),
            "Line unrecognized: `ListenPort='"
        );
        assert_eq!(
            line_error("[Peer]\nAllowedIPs = \n"),
            "Line unrecognized: `AllowedIPs='"
        );
        assert_eq!(
            line_error("[Interface]\nListenPort\n"),
            "Line unrecognized: `ListenPort'"
        );
        assert_eq!(
            line_error("[Interface]\nListenPort:1\n"),
            "Line unrecognized: `ListenPort:1'"
        );
        assert_eq!(
            line_error("[Interfaces]\n"),
            "Line unrecognized: `[Interfaces]'"
        );
        assert_eq!(
            line_error("[Interface]\nDNS = 1.1.1.1\n"),
            "Line unrecognized: `DNS=1.1.1.1'"
        );
        assert_eq!(
            line_error("[Interface]\nListenPorts=1\n"),
            "Line unrecognized: `ListenPorts=1'"
        );
    }

    #[test]
    fn value_errors_stop_the_file() {
        assert_eq!(
            line_error("[Interface]\nPrivateKey = abc\n"),
            "Key is not the correct length or format: `abc'"
        );
        assert_eq!(
            line_error("[Interface]\nFwMark = 1x\n"),
            "Fwmark is neither 0/off nor 0-0xffffffff: `1x'"
        );
        assert_eq!(
            line_error("[Interface]\nListenPort = nope\n"),
            "Servname not supported for ai_socktype: `nope'"
        );
        assert_eq!(
            line_error("[Peer]\nEndpoint = 1.2.3.4\n"),
            "Unable to find port of endpoint: `1.2.3.4'"
        );
        assert_eq!(
            line_error("[Peer]\nPersistentKeepalive = 1 0 0 0 0 0\n"),
            "Persistent keepalive interval is neither 0/off nor 1-65535: `100000'"
        );
        assert_eq!(
            line_error("[Peer]\nAllowedIPs = 1.2.3.4/40\n"),
            "AllowedIP is not in the correct format: `1.2.3.4/40'"
        );
        assert_eq!(
            line_error(&format!("[Peer]\nPresharedKey = {}\n", &K1[..43])),
            format!("Key is not the correct length or format: `{}'", &K1[..43])
        );
    }

    #[test]
    fn later_lines_are_not_read_after_an_error() {
        let mut r = Scripted::default();
        let text = "[Interface]\nFwMark=x\n[Peer]\nAllowedIPs=10.1.1.1/8\n";
        let (_, warn) = with_ctx(&mut r, |c| parse(c, &mut text.as_bytes(), false));
        assert_eq!(warn, "");
    }

    #[test]
    fn peers_need_public_keys() {
        for text in [
            "[Peer]\n",
            "[Peer]\nAllowedIPs=10.0.0.1\n",
            &format!("[Peer]\nPublicKey={K1}\n[Peer]\n"),
        ] {
            assert_eq!(
                parse_str(text, false).0,
                Err(ConfigError::Incomplete(
                    b"A peer is missing a public key".to_vec()
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn later_lines_override_earlier_ones() {
        let text = format!("[Interface]\nListenPort=1\nListenPort=2\n[Interface]\nFwMark=3\n[Peer]\nPublicKey={K2}\nPublicKey={K1}\n");
        let u = parse_str(&text, false).0.unwrap();
        assert_eq!(u.listen_port, Some(2));
        assert_eq!(u.user_cookie, Some(3));
        assert_eq!(u.peers[0].public_key, key(K1));
    }

    #[test]
    fn warnings_do_not_fail_the_file() {
        let text = format!("[Peer]\nPublicKey={K1}\nAllowedIPs=10.0.0.1/24\n");
        let (got, warn) = parse_str(&text, false);
        assert!(got.is_ok());
        assert_eq!(
            warn,
            "Warning: AllowedIP has nonzero host part: 10.0.0.1/24\n"
        );
    }

    #[test]
    fn non_utf8_lines_are_quoted_raw() {
        let mut r = Scripted::default();
        let text = b"[Interface]\nX=\xff\xfe\n";
        let (got, _) = with_ctx(&mut r, |c| parse(c, &mut &text[..], false));
        match got {
            Err(ConfigError::Line(e)) => assert_eq!(e.message, b"Line unrecognized: `X=\xff\xfe'"),
            other => panic!("{other:?}"),
        }
    }

    /// Any bytes at all: an answer or an error, never a panic.
    #[test]
    fn arbitrary_lines_never_panic() {
        use super::resolve::{LookupError, Resolver};
        struct Offline;
        impl Resolver for Offline {
            fn lookup(
                &mut self,
                _: Option<&[u8]>,
                _: &[u8],
            ) -> Result<Option<Endpoint>, LookupError> {
                Err(LookupError {
                    permanent: true,
                    text: "offline".into(),
                })
            }
            fn sleep(&mut self, _: std::time::Duration) {}
            fn retries_setting(&self) -> Option<Vec<u8>> {
                None
            }
        }
        let pieces: &[&[u8]] = &[
            b"[Interface]",
            b"[Peer]",
            b"PrivateKey",
            b"PublicKey",
            b"PresharedKey",
            b"ListenPort",
            b"FwMark",
            b"AllowedIPs",
            b"Endpoint",
            b"PersistentKeepalive",
            b"=",
            b"==",
            b"#",
            b" ",
            b"\t",
            b"\0",
            b"\xff",
            b"/",
            b",",
            b":",
            b"[",
            b"]",
            b"0x",
            b"off",
            b"65535",
            b"10.0.0.1",
            b"::",
            b"%",
            b"-",
            K1.as_bytes(),
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut diag = Vec::new();
        let mut resolver = Offline;
        let mut ctx = Ctx {
            diag: &mut diag,
            resolver: &mut resolver,
        };
        let mut outcomes = [0usize; 2];
        for _ in 0..5000 {
            let mut parser = ConfigParser::new(next() % 2 == 0);
            for _ in 0..(next() % 6) {
                let mut line = Vec::new();
                for _ in 0..(next() % 8) {
                    line.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
                }
                outcomes[usize::from(parser.line(&mut ctx, &line).is_ok())] += 1;
            }
            let _ = parser.finish();
        }
        // Both kinds of outcome happen, so the input is not all rejected.
        assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
    }
}

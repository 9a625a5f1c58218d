//! `wg genkey`, `wg genpsk` and `wg pubkey`: key material on stdout.

use std::io::{self, Read, Write};

use crate::cmd_util::{eprint_bytes, perror};
use crate::config_file::is_space;
use crate::keys::{self, KEY_B64_LEN};

fn usage(prog: &[u8], cmd: &[u8]) -> i32 {
    let mut msg = b"Usage: ".to_vec();
    msg.extend_from_slice(prog);
    msg.push(b' ');
    msg.extend_from_slice(cmd);
    msg.push(b'\n');
    eprint_bytes(&msg);
    1
}

fn print_line(text: &str) {
    // As with puts(3), a failed write is not reported.
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// A key written into a regular file that others may read is at risk.
fn stdout_is_world_accessible_file() -> bool {
    // SAFETY: fstat only writes into the zeroed stat buffer we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: STDOUT_FILENO is a plain descriptor number; &mut st is valid.
    let ok = unsafe { libc::fstat(libc::STDOUT_FILENO, &mut st) } == 0;
    ok && (st.st_mode & libc::S_IFMT) == libc::S_IFREG && (st.st_mode & libc::S_IRWXO) != 0
}

/// `genkey` (clamped for X25519) and `genpsk` (32 plain random bytes).
pub fn genkey(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let Some(cmd) = args.first() else {
        return 1;
    };
    if args.len() != 1 {
        return usage(prog, cmd);
    }
    if stdout_is_world_accessible_file() {
        eprint_bytes(b"Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n");
    }
    let mut key = match keys::random_key() {
        Ok(k) => k,
        Err(e) => {
            perror("getrandom", &e);
            return 1;
        }
    };
    if cmd.as_slice() == b"genkey" {
        wg_core::crypto::clamp_private_key(&mut key);
    }
    print_line(&keys::to_base64(&key));
    key.fill(0);
    0
}

/// Reads exactly what wg's pubkey reads: 44 bytes, then only whitespace
/// or NULs up to the end of input.
fn read_private_key(input: &mut impl Read) -> Result<[u8; 32], &'static str> {
    const BAD_KEY: &str = "Key is not the correct length or format";
    let mut text = [0u8; KEY_B64_LEN];
    let mut filled = 0;
    while filled < text.len() {
        match input.read(&mut text[filled..]) {
            Ok(0) => return Err(BAD_KEY),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(BAD_KEY),
        }
    }
    let mut chunk = [0u8; 512];
    loop {
        match input.read(&mut chunk) {
            // A read error ends input, as EOF does for getc(3).
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if chunk[..n].iter().any(|&c| c != 0 && !is_space(c)) {
                    text.fill(0);
                    return Err("Trailing characters found after key");
                }
            }
        }
    }
    let body = text.split(|&c| c == 0).next().unwrap_or_default();
    let key = keys::from_base64(body).ok_or(BAD_KEY);
    text.fill(0);
    key
}

pub fn pubkey(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let Some(cmd) = args.first() else {
        return 1;
    };
    if args.len() != 1 {
        return usage(prog, cmd);
    }
    match read_private_key(&mut io::stdin().lock()) {
        Ok(mut private) => {
            let public = wg_core::crypto::public_key(&private);
            private.fill(0);
            print_line(&keys::to_base64(&public));
            0
        }
        Err(what) => {
            let mut msg = prog.to_vec();
            msg.extend_from_slice(b": ");
            msg.extend_from_slice(what.as_bytes());
            msg.push(b'\n');
            eprint_bytes(&msg);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";

    fn read(input: &[u8]) -> Result<[u8; 32], &'static str> {
        read_private_key(&mut &input[..])
    }

    #[test]
    fn private_key_input() {
        let key = keys::from_base64(PRIV.as_bytes()).unwrap();
        assert_eq!(read(PRIV.as_bytes()), Ok(key));
        assert_eq!(read(format!("{PRIV}\n\r\t \0\n").as_bytes()), Ok(key));
        assert_eq!(
            read(format!("{PRIV}\nx").as_bytes()),
            Err("Trailing characters found after key")
        );
        assert_eq!(
            read(format!(" {PRIV}").as_bytes()),
            Err("Trailing characters found after key")
        );
        assert_eq!(
            read(&PRIV.as_bytes()[..43]),
            Err("Key is not the correct length or format")
        );
        assert_eq!(read(b""), Err("Key is not the correct length or format"));
        assert_eq!(
            read(format!(" {}", &PRIV[..43]).as_bytes()),
            Err("Key is not the correct length or format")
        );
    }
}

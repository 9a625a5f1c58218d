//! `wg set`, `wg setconf`, `wg addconf` and `wg syncconf`: parse
//! everything first, then change the interface in one request.

use std::fs::File;
use std::io::{self, BufReader};

use wg_core::config::DeviceUpdate;

use crate::cmd_util::{eprint_bytes, perror};
use crate::config_file::resolve::SystemResolver;
use crate::config_file::{self, ConfigError, Ctx, ParseError};
use crate::{ipc, set_args, syncconf};

/// Interface names are cut to what fits in the kernel's IFNAMSIZ (16).
fn interface_name(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(15)];
    String::from_utf8_lossy(cut).into_owned()
}

fn usage(prog: &[u8], cmd: &[u8], rest: &str) -> i32 {
    let mut msg = b"Usage: ".to_vec();
    msg.extend_from_slice(prog);
    msg.push(b' ');
    msg.extend_from_slice(cmd);
    msg.extend_from_slice(rest.as_bytes());
    msg.push(b'\n');
    eprint_bytes(&msg);
    1
}

fn report(err: &ParseError) {
    let mut msg = err.message.clone();
    msg.push(b'\n');
    eprint_bytes(&msg);
}

fn apply(name: &str, mut update: DeviceUpdate) -> i32 {
    let result = ipc::set_device(name, &update);
    update.zeroize_secrets();
    match result {
        Ok(()) => 0,
        Err(e) => {
            perror("Unable to modify interface", &e);
            1
        }
    }
}

const SET_USAGE: &str = " <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] [peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...";

/// `args[0]` is "set".
pub fn set(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let (Some(cmd), Some(iface)) = (args.first(), args.get(1)) else {
        return usage(prog, b"set", SET_USAGE);
    };
    if args.len() < 3 {
        return usage(prog, cmd, SET_USAGE);
    }
    let mut stderr = io::stderr();
    let mut resolver = SystemResolver;
    let mut ctx = Ctx {
        diag: &mut stderr,
        resolver: &mut resolver,
    };
    match set_args::parse(&mut ctx, &args[2..]) {
        Ok(update) => apply(&interface_name(iface), update),
        Err(e) => {
            report(&e);
            1
        }
    }
}

/// `args[0]` is "setconf", "addconf" or "syncconf".
pub fn setconf(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let cmd = args.first().map(Vec::as_slice).unwrap_or(b"setconf");
    let [_, iface, path] = args else {
        return usage(prog, cmd, " <interface> <configuration filename>");
    };
    let file = {
        use std::os::unix::ffi::OsStrExt;
        File::open(std::ffi::OsStr::from_bytes(path))
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            perror("fopen", &e);
            return 1;
        }
    };
    let mut stderr = io::stderr();
    let mut resolver = SystemResolver;
    let mut ctx = Ctx {
        diag: &mut stderr,
        resolver: &mut resolver,
    };
    let append = cmd == b"addconf";
    let mut update = match config_file::parse(&mut ctx, &mut BufReader::new(file), append) {
        Ok(u) => u,
        Err(ConfigError::Line(e)) => {
            report(&e);
            if !e.exit_now {
                eprint_bytes(b"Configuration parsing error\n");
            }
            return 1;
        }
        Err(ConfigError::Read(errno)) => {
            perror("fread", &io::Error::from_raw_os_error(errno));
            return 1;
        }
        Err(ConfigError::Incomplete(msg)) => {
            report(&ParseError::new(msg));
            eprint_bytes(b"Invalid configuration\n");
            return 1;
        }
    };
    let name = interface_name(iface);
    if cmd == b"syncconf" {
        if let Err(e) = syncconf::sync_update(&mut update, || ipc::get_device(&name)) {
            update.zeroize_secrets();
            perror("Unable to retrieve current interface configuration", &e);
            return 1;
        }
    }
    apply(&name, update)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_like_ifnamsiz() {
        assert_eq!(interface_name(b"wg0"), "wg0");
        assert_eq!(interface_name(b"abcdefghijklmnopq"), "abcdefghijklmno");
    }
}

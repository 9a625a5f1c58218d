//! `wg`: configures WireGuard interfaces, with the grammar, output and exit
//! codes of wireguard-tools' wg(8).

mod cmd_genkey;
mod cmd_set;
mod cmd_util;
mod config_file;
mod ipc;
mod keys;
mod set_args;
mod show;
mod showconf;
mod syncconf;
mod terminal;

use std::io::Write;
use std::os::unix::ffi::OsStringExt;

use cmd_util::eprint_bytes;

/// Our own version line; scripts that need wireguard-tools' exact one
/// should not be reading this tool's.
const VERSION_LINE: &str = concat!(
    "wg (if_wg in Rust) v",
    env!("CARGO_PKG_VERSION"),
    " - a wireguard-tools 1.0.20210914 compatible wg(8)"
);

type Run = fn(&[u8], &[Vec<u8>]) -> i32;

/// The subcommands in the order `wg help` lists them.
const SUBCOMMANDS: &[(&str, Run, &str)] = &[
    (
        "show",
        run_show,
        "Shows the current configuration and device information",
    ),
    (
        "showconf",
        run_showconf,
        "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
    ),
    (
        "set",
        cmd_set::set,
        "Change the current configuration, add peers, remove peers, or change peers",
    ),
    (
        "setconf",
        cmd_set::setconf,
        "Applies a configuration file to a WireGuard interface",
    ),
    (
        "addconf",
        cmd_set::setconf,
        "Appends a configuration file to a WireGuard interface",
    ),
    (
        "syncconf",
        cmd_set::setconf,
        "Synchronizes a configuration file to a WireGuard interface",
    ),
    (
        "genkey",
        cmd_genkey::genkey,
        "Generates a new private key and writes it to stdout",
    ),
    (
        "genpsk",
        cmd_genkey::genkey,
        "Generates a new preshared key and writes it to stdout",
    ),
    (
        "pubkey",
        cmd_genkey::pubkey,
        "Reads a private key from stdin and writes a public key to stdout",
    ),
];

fn usage(prog: &[u8]) -> Vec<u8> {
    let mut out = b"Usage: ".to_vec();
    out.extend_from_slice(prog);
    out.extend_from_slice(b" <cmd> [<args>]\n\nAvailable subcommands:\n");
    for (name, _, what) in SUBCOMMANDS {
        out.extend_from_slice(format!("  {name}: {what}\n").as_bytes());
    }
    out.extend_from_slice(b"You may pass `--help' to any of these subcommands to view usage.\n");
    out
}

/// show and showconf take text arguments.
fn as_strings(prog: &[u8], args: &[Vec<u8>]) -> (String, Vec<String>) {
    let prog = String::from_utf8_lossy(prog).into_owned();
    let args = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (prog, args)
}

fn run_show(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let (prog, args) = as_strings(prog, args);
    show::run(&prog, &args)
}

fn run_showconf(prog: &[u8], args: &[Vec<u8>]) -> i32 {
    let (prog, args) = as_strings(prog, args);
    showconf::run(&prog, &args)
}

fn print_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// The whole command line, program name first.
fn dispatch(argv: &[Vec<u8>]) -> i32 {
    let prog = argv.first().map(Vec::as_slice).unwrap_or(b"wg");
    let args = argv.get(1..).unwrap_or_default();
    match args {
        [] => return run_show(prog, &[b"show".to_vec()]),
        [only] if matches!(only.as_slice(), b"-v" | b"--version" | b"version") => {
            print_stdout(format!("{VERSION_LINE}\n").as_bytes());
            return 0;
        }
        [only] if matches!(only.as_slice(), b"-h" | b"--help" | b"help") => {
            print_stdout(&usage(prog));
            return 0;
        }
        _ => {}
    }
    let cmd = &args[0];
    if let Some((_, run, _)) = SUBCOMMANDS
        .iter()
        .find(|(name, _, _)| name.as_bytes() == cmd.as_slice())
    {
        return run(prog, args);
    }
    let mut msg = b"Invalid subcommand: `".to_vec();
    msg.extend_from_slice(cmd);
    msg.extend_from_slice(b"'\n");
    msg.extend_from_slice(&usage(prog));
    eprint_bytes(&msg);
    1
}

fn main() {
    // Like the C tool, die quietly when a reader goes away (`wg | head`)
    // instead of reporting EPIPE on every later write.
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread exists; no handler code is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let argv: Vec<Vec<u8>> = std::env::args_os().map(OsStringExt::into_vec).collect();
    std::process::exit(dispatch(&argv));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lists_every_subcommand_in_order() {
        let text = String::from_utf8(usage(b"/sbin/wg")).unwrap();
        assert!(
            text.starts_with("Usage: /sbin/wg <cmd> [<args>]\n\nAvailable subcommands:\n  show: ")
        );
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  "))
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(
            names,
            [
                "show", "showconf", "set", "setconf", "addconf", "syncconf", "genkey", "genpsk",
                "pubkey"
            ]
        );
        assert!(text.ends_with("to view usage.\n"));
    }

    #[test]
    fn unknown_subcommands_fail() {
        let argv: Vec<Vec<u8>> = vec![b"wg".to_vec(), b"frobnicate".to_vec()];
        assert_eq!(dispatch(&argv), 1);
        let argv: Vec<Vec<u8>> = vec![b"wg".to_vec(), b"help".to_vec(), b"x".to_vec()];
        assert_eq!(dispatch(&argv), 1);
    }
}

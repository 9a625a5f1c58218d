//! `wg show`: lists interfaces, pretty or in the tab-separated forms that
//! scripts read, with wg(8)'s arguments, messages and exit codes.

pub(crate) mod common;
pub(crate) mod text;

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ipc;
use common::strerror;
use text::{Field, Style};

fn usage(prog: &str, command: &str) {
    eprintln!(
        "Usage: {prog} {command} {{ <interface> | all | interfaces }} [public-key | private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump]"
    );
}

fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn style() -> Style {
    Style {
        color: crate::terminal::color_wanted(),
        show_keys: std::env::var_os("WG_HIDE_KEYS").is_some_and(|v| v == "never"),
    }
}

/// Writes to stdout as it goes, so that on a terminal the output and the
/// per-interface error messages interleave as wg(8)'s do. Write errors are
/// ignored, as printf's are.
fn emit(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// What one interface's output is, once the arguments are understood.
enum Form {
    Pretty(Style),
    Field(Field),
}

fn render(name: &str, dev: &ipc::DeviceInfo, form: &Form, with_interface: bool) -> String {
    match form {
        Form::Pretty(style) => text::pretty(name, dev, now(), style),
        Form::Field(f) => text::field(name, dev, *f, with_interface),
    }
}

/// The field argument, or None after reporting it as wg(8) does.
fn parse_field(prog: &str, command: &str, word: &str) -> Option<Field> {
    let f = Field::parse(word);
    if f.is_none() {
        eprintln!("Invalid parameter: `{word}'");
        usage(prog, command);
    }
    f
}

fn show_all(prog: &str, command: &str, field_word: Option<&str>) -> i32 {
    let names = match ipc::list_devices() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("Unable to list interfaces: {}", strerror(&e));
            return 1;
        }
    };
    // Failure unless at least one interface could be shown; no interface
    // at all is success.
    let mut ret = i32::from(!names.is_empty());
    for (i, name) in names.iter().enumerate() {
        let dev = match ipc::get_device(name) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("Unable to access interface {name}: {}", strerror(&e));
                continue;
            }
        };
        match field_word {
            Some(word) => {
                // wg(8) checks the word only once it has a device to print.
                let Some(f) = parse_field(prog, command, word) else {
                    return 1;
                };
                emit(&render(name, &dev, &Form::Field(f), true));
            }
            None => {
                let mut out = render(name, &dev, &Form::Pretty(style()), true);
                if i + 1 < names.len() {
                    out.push('\n');
                }
                emit(&out);
            }
        }
        ret = 0;
    }
    ret
}

fn show_interfaces() -> i32 {
    match ipc::list_devices() {
        Ok(names) => {
            if !names.is_empty() {
                emit(&format!("{}\n", names.join(" ")));
            }
            0
        }
        Err(e) => {
            eprintln!("Unable to list interfaces: {}", strerror(&e));
            1
        }
    }
}

fn show_one(prog: &str, command: &str, name: &str, field_word: Option<&str>) -> i32 {
    let dev = match ipc::get_device(name) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Unable to access interface: {}", strerror(&e));
            return 1;
        }
    };
    let form = match field_word {
        Some(word) => match parse_field(prog, command, word) {
            Some(f) => Form::Field(f),
            None => return 1,
        },
        None => Form::Pretty(style()),
    };
    emit(&render(name, &dev, &form, false));
    0
}

/// `wg show [ <interface> | all | interfaces ] [<field>]`; args[0] is the
/// subcommand's own name.
pub fn run(prog: &str, args: &[String]) -> i32 {
    let command = args.first().map_or("show", String::as_str);
    if args.len() > 3 {
        usage(prog, command);
        return 1;
    }
    let target = args.get(1).map(String::as_str);
    let field_word = args.get(2).map(String::as_str);
    match target {
        None | Some("all") => show_all(prog, command, field_word),
        Some("interfaces") => {
            if args.len() > 2 {
                usage(prog, command);
                return 1;
            }
            show_interfaces()
        }
        Some("-h" | "--help" | "help") if args.len() == 2 => {
            usage(prog, command);
            0
        }
        Some(name) => show_one(prog, command, name, field_word),
    }
}

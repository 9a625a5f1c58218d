//! Logging to stderr, with wireguard-go's WG_LOG_LEVEL (error, verbose,
//! silent; default error). A detached daemon's stderr is /dev/null.

use std::fmt::Arguments;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

pub fn set_level_from_env() {
    let l = match std::env::var("WG_LOG_LEVEL").as_deref() {
        Ok("verbose") | Ok("debug") => 3,
        Ok("silent") => 0,
        _ => 1,
    };
    LEVEL.store(l, Ordering::Relaxed);
}

fn emit(level: u8, tag: &str, args: Arguments<'_>) {
    if LEVEL.load(Ordering::Relaxed) >= level {
        eprintln!("wgd: {tag}{args}");
    }
}

pub fn error(args: Arguments<'_>) {
    emit(1, "ERROR: ", args);
}

pub fn info(args: Arguments<'_>) {
    emit(2, "", args);
}

pub fn debug(args: Arguments<'_>) {
    emit(3, "DEBUG: ", args);
}

//! What every subcommand needs to report like the C tool: raw bytes on
//! stderr (arguments and file contents need not be UTF-8) and errno text
//! without Rust's " (os error N)" suffix.

use std::io::{self, Write};

/// The C library's text for an error: `strerror(errno)` for OS errors.
pub fn error_text(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
        None => text,
    }
}

/// Writes to stderr and ignores failure: a diagnostic that cannot be
/// shown must not turn into a second error.
pub fn eprint_bytes(bytes: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(bytes);
    let _ = err.flush();
}

/// `perror(what)`.
pub fn perror(what: &str, err: &io::Error) {
    eprint_bytes(format!("{what}: {}\n", error_text(err)).as_bytes());
}

/// `"<prefix>`<value>'"` with the value's bytes as they are.
pub fn quoted(prefix: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + value.len() + 6);
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(b": `");
    out.extend_from_slice(value);
    out.extend_from_slice(b"'");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_like_strerror() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(error_text(&e), "No such file or directory");
        let e = io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(error_text(&e), "No such device");
        let e = io::Error::other("plain");
        assert_eq!(error_text(&e), "plain");
    }

    #[test]
    fn quoting_keeps_raw_bytes() {
        assert_eq!(quoted("Bad", b"a\xffb"), b"Bad: `a\xffb'".to_vec());
    }
}

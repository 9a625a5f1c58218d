//! Coloured terminal output as wg(8) does it: the pretty `wg show` text is
//! always composed with ANSI escapes, and when colour is off each written
//! piece has its escape sequences cut out, so the plain text is exactly the
//! coloured text minus the escapes.

use std::io::IsTerminal;

pub const RESET: &str = "\x1b[0m";
pub const BOLD: &str = "\x1b[1m";
pub const FG_RED: &str = "\x1b[31m";
pub const FG_GREEN: &str = "\x1b[32m";
pub const FG_YELLOW: &str = "\x1b[33m";
pub const FG_CYAN: &str = "\x1b[36m";

/// Whether colour is wanted: `WG_COLOR_MODE=always` or `never` decide,
/// anything else (or nothing) means "when stdout is a terminal".
pub fn color_wanted() -> bool {
    decide_color(
        std::env::var_os("WG_COLOR_MODE").as_deref(),
        std::io::stdout().is_terminal(),
    )
}

fn decide_color(mode: Option<&std::ffi::OsStr>, stdout_is_tty: bool) -> bool {
    match mode.and_then(|m| m.to_str()) {
        Some("always") => true,
        Some("never") => false,
        _ => stdout_is_tty,
    }
}

/// Removes every `ESC [ ... <letter>` sequence from one written piece.
///
/// This follows wg(8)'s filter exactly, quirks included, because the pieces
/// carry user data (interface names): a sequence that starts in the last two
/// bytes of a piece is kept, and one with no closing letter swallows the
/// rest of the piece.
pub fn strip_ansi(piece: &str) -> String {
    let bytes = piece.as_bytes();
    let len = bytes.len();
    let mut dropped = vec![false; len];
    let mut i = 0;
    while i + 2 < len {
        if !dropped[i] && bytes[i] == 0x1b && bytes[i + 1] == b'[' {
            let mut j = i;
            while j < len {
                dropped[j] = true;
                if j >= i + 2 && bytes[j].is_ascii_alphabetic() {
                    break;
                }
                j += 1;
            }
        }
        i += 1;
    }
    let kept: Vec<u8> = bytes
        .iter()
        .zip(&dropped)
        .filter(|(_, &d)| !d)
        .map(|(&b, _)| b)
        .collect();
    // The cut always starts at ESC and ends at an ASCII letter (or the
    // end), so whole characters go and the rest stays valid UTF-8.
    String::from_utf8(kept).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Collects the pieces of coloured text, filtering each one when colour is
/// off.
pub struct Term {
    color: bool,
    out: String,
}

impl Term {
    pub fn new(color: bool) -> Self {
        Term {
            color,
            out: String::new(),
        }
    }

    /// Appends one piece; pieces are filtered separately, as wg(8) filters
    /// each of its terminal writes.
    pub fn put(&mut self, piece: &str) {
        if self.color {
            self.out.push_str(piece);
        } else {
            self.out.push_str(&strip_ansi(piece));
        }
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn color_mode_from_environment() {
        assert!(decide_color(Some(OsStr::new("always")), false));
        assert!(!decide_color(Some(OsStr::new("never")), true));
        assert!(decide_color(Some(OsStr::new("auto")), true));
        assert!(!decide_color(Some(OsStr::new("Always")), false));
        assert!(!decide_color(None, false));
        assert!(decide_color(None, true));
    }

    #[test]
    fn strips_sequences() {
        assert_eq!(strip_ansi("\x1b[0m"), "");
        assert_eq!(
            strip_ansi("\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n"),
            "interface: wg0\n"
        );
        assert_eq!(strip_ansi("1 \x1b[36msecond\x1b[0m ago"), "1 second ago");
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi(""), "");
    }

    #[test]
    fn strip_quirks() {
        // An escape starting in the last two bytes stays.
        assert_eq!(strip_ansi("ab\x1b["), "ab\x1b[");
        assert_eq!(strip_ansi("\x1b["), "\x1b[");
        // No closing letter: the rest of the piece goes.
        assert_eq!(strip_ansi("a\x1b[12;"), "a");
        // Multibyte text inside a sequence goes with it, and text after stays.
        assert_eq!(strip_ansi("x\x1b[é1mé"), "xé");
    }

    #[test]
    fn term_filters_per_piece() {
        let mut t = Term::new(false);
        t.put("\x1b[1mA\x1b[0m");
        t.put("B\x1b[");
        t.put("0mC");
        assert_eq!(t.into_string(), "AB\x1b[0mC");
        let mut t = Term::new(true);
        t.put("\x1b[1mA\x1b[0m");
        assert_eq!(t.into_string(), "\x1b[1mA\x1b[0m");
    }
}

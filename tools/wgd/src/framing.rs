//! UAPI request framing (wireguard-go's ipc protocol): a request is
//! `get=1\n\n`, or `set=1\n` followed by `key=value\n` lines up to a blank
//! line (or the end of the stream). Each is answered, ending in
//! `errno=N\n\n`, and the connection stays open for the next.

use std::io::{self, BufRead, Read};

/// Largest set body accepted (large configurations are megabytes).
pub const MAX_BODY: usize = 512 << 20;
/// Longest line accepted.
const MAX_LINE: u64 = 1 << 16;

#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Get,
    /// The lines after `set=1`, without the terminating blank line.
    Set(String),
    /// A malformed request; the connection cannot be resynchronised.
    Bad,
    /// A set whose body could not be read: a line too long (errno EIO, as
    /// wireguard-go answers its scanner's error) or not UTF-8 (EINVAL).
    /// Answered, then the connection closes.
    Failed(i64),
}

const EIO: i64 = -5;
const EINVAL: i64 = -22;

/// Why a line could not be read as a line of text.
enum LineError {
    TooLong,
    NotUtf8,
    Io(io::Error),
}

/// Reads one line into `line` (cleared first), at most MAX_LINE bytes.
/// Returns the byte count; 0 at the end of the stream.
fn read_line<R: BufRead>(r: &mut R, line: &mut String) -> Result<usize, LineError> {
    line.clear();
    let mut bytes = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut bytes)
        .map_err(LineError::Io)?;
    if n as u64 == MAX_LINE && bytes.last() != Some(&b'\n') {
        return Err(LineError::TooLong);
    }
    match String::from_utf8(bytes) {
        Ok(s) => {
            *line = s;
            Ok(n)
        }
        Err(_) => Err(LineError::NotUtf8),
    }
}

/// Reads the next request; None when the peer closed the connection.
pub fn read_request<R: BufRead>(r: &mut R, line: &mut String) -> io::Result<Option<Request>> {
    match read_line(r, line) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(LineError::Io(e)) => return Err(e),
        Err(_) => return Ok(Some(Request::Bad)),
    }
    match line.as_str() {
        "get=1\n" => Ok(Some(match read_line(r, line) {
            Ok(1) if line == "\n" => Request::Get,
            Err(LineError::Io(e)) => return Err(e),
            _ => Request::Bad,
        })),
        "set=1\n" => {
            let mut body = String::new();
            loop {
                let n = match read_line(r, line) {
                    Ok(n) => n,
                    Err(LineError::Io(e)) => return Err(e),
                    Err(LineError::TooLong) => return Ok(Some(Request::Failed(EIO))),
                    Err(LineError::NotUtf8) => return Ok(Some(Request::Failed(EINVAL))),
                };
                if n == 0 || line == "\n" {
                    break;
                }
                if body.len() + n > MAX_BODY {
                    return Ok(Some(Request::Bad));
                }
                body.push_str(line);
            }
            Ok(Some(Request::Set(body)))
        }
        _ => Ok(Some(Request::Bad)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all(input: &str) -> Vec<Request> {
        let mut r = Cursor::new(input.as_bytes());
        let mut line = String::new();
        let mut v = Vec::new();
        while let Some(req) = read_request(&mut r, &mut line).unwrap() {
            let bad = req == Request::Bad;
            v.push(req);
            if bad {
                break;
            }
        }
        v
    }

    #[test]
    fn get_and_set_in_one_connection() {
        let reqs = all("get=1\n\nset=1\nlisten_port=1\nfwmark=0\n\nget=1\n\n");
        assert_eq!(
            reqs,
            vec![
                Request::Get,
                Request::Set("listen_port=1\nfwmark=0\n".into()),
                Request::Get
            ]
        );
    }

    #[test]
    fn set_ended_by_eof() {
        assert_eq!(
            all("set=1\nlisten_port=5"),
            vec![Request::Set("listen_port=5".into())]
        );
        assert_eq!(all("set=1\n\n"), vec![Request::Set(String::new())]);
    }

    #[test]
    fn bad_requests() {
        assert_eq!(all("get=1\nx\n"), vec![Request::Bad]);
        assert_eq!(all("get=2\n\n"), vec![Request::Bad]);
        assert_eq!(all("hello\n"), vec![Request::Bad]);
        assert!(all("").is_empty());
    }

    #[test]
    fn unreadable_set_bodies_are_answered() {
        let long = format!("set=1\nprivate_key={}\n\n", "a".repeat(1 << 17));
        let mut r = Cursor::new(long.into_bytes());
        let mut line = String::new();
        assert_eq!(
            read_request(&mut r, &mut line).unwrap(),
            Some(Request::Failed(EIO))
        );
        let mut r = Cursor::new(b"set=1\nprivate_key=\xff\xfe\n\n".to_vec());
        assert_eq!(
            read_request(&mut r, &mut line).unwrap(),
            Some(Request::Failed(EINVAL))
        );
    }
}

//! hyper answers a request head whose `Content-Length` is 2^64-2 or 2^64-1 with
//! "431 Request Header Fields Too Large" (its `Parse::TooLarge`, which it also uses for
//! heads that are really too large), and the host never sees the request. The value is
//! a well-formed length no upload can have, so the answer is 413 (issue 19).
//!
//! [`LengthSpy`] watches the bytes of request heads for such a header and, if it saw
//! one, rewrites the status line of hyper's automatic 431 in place: same length, so the
//! byte counts hyper sees stay true.

/// What hyper writes for `Parse::TooLarge`, and what is written instead.
const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n";
const MENDED: &[u8] = b"HTTP/1.1 413 Content Too Large (body length)\r\n";

/// Lengths hyper cannot represent: it keeps these two values for "chunked" and
/// "until close".
const UNREPRESENTABLE: u64 = u64::MAX - 1;

const HEADER: &[u8] = b"\ncontent-length:";

#[derive(Debug, Default)]
pub struct LengthSpy {
    state: Scan,
    /// An unrepresentable length was announced on this connection.
    seen: bool,
    /// How much of the mended status line has been written.
    written: usize,
}

#[derive(Debug, Clone, Copy)]
enum Scan {
    /// This many bytes of [`HEADER`] matched.
    Name(usize),
    Space,
    Digits(Option<u64>),
}

impl Default for Scan {
    fn default() -> Self {
        Self::Name(0)
    }
}

impl LengthSpy {
    /// Looks at bytes read while a request head may be arriving.
    pub fn read(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let restart = Scan::Name(usize::from(b == b'\n'));
            self.state = match self.state {
                Scan::Name(n) if b.to_ascii_lowercase() == HEADER[n] => {
                    if n + 1 == HEADER.len() {
                        Scan::Space
                    } else {
                        Scan::Name(n + 1)
                    }
                }
                Scan::Name(_) => restart,
                Scan::Space if b == b' ' || b == b'\t' => Scan::Space,
                Scan::Space | Scan::Digits(_) if b.is_ascii_digit() => {
                    let value = match self.state {
                        Scan::Digits(v) => v,
                        _ => Some(0),
                    };
                    Scan::Digits(
                        value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(b - b'0'))),
                    )
                }
                Scan::Digits(value) => {
                    // Longer numbers fail hyper's own parsing, with a 400.
                    self.seen |= value.is_some_and(|v| v >= UNREPRESENTABLE);
                    restart
                }
                Scan::Space => restart,
            };
        }
    }

    /// Whether writes must go through [`Self::mend`]: an unrepresentable length was
    /// seen and the mended status line is not written yet.
    pub fn mending(&self) -> bool {
        self.seen && self.written < MENDED.len()
    }

    /// `buf` with the status line mended, if it is hyper's 431 for such a length.
    pub fn mend(&self, buf: &[u8]) -> Option<Vec<u8>> {
        if !self.mending() {
            return None;
        }
        let rest = &HYPER_431[self.written..];
        let n = rest.len().min(buf.len());
        if buf[..n] != rest[..n] {
            return None;
        }
        let mut mended = buf.to_vec();
        mended[..n].copy_from_slice(&MENDED[self.written..self.written + n]);
        Some(mended)
    }

    /// Notes that `n` bytes of the last [`Self::mend`]ed buffer were written.
    pub fn wrote(&mut self, n: usize) {
        self.written += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spy(head: &[u8]) -> LengthSpy {
        let mut spy = LengthSpy::default();
        // Byte by byte: heads come in pieces.
        for b in head.chunks(3) {
            spy.read(b);
        }
        spy
    }

    #[test]
    fn only_unrepresentable_lengths_are_noticed() {
        for value in [
            "18446744073709551615",
            "18446744073709551614",
            "0018446744073709551615",
        ] {
            let head = format!("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length:  {value}\r\n\r\n");
            assert!(spy(head.as_bytes()).seen, "{value}");
        }
        for value in ["18446744073709551613", "184467440737095516150", "5"] {
            let head = format!("PUT /x HTTP/1.1\r\ncontent-length: {value}\r\n\r\n");
            assert!(!spy(head.as_bytes()).seen, "{value}");
        }
        assert!(!spy(b"PUT /x HTTP/1.1\r\nX-Content-Length: 18446744073709551615\r\n\r\n").seen);
    }

    #[test]
    fn the_431_status_line_is_mended_in_place_even_across_writes() {
        assert_eq!(HYPER_431.len(), MENDED.len());
        let mut spy = spy(b"PUT / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n");
        let response = [HYPER_431, b"connection: close\r\n\r\n"].concat();
        let first = spy.mend(&response[..10]).unwrap();
        assert_eq!(first, &MENDED[..10]);
        spy.wrote(10);
        let rest = spy.mend(&response[10..]).unwrap();
        assert_eq!(
            [first, rest].concat(),
            [MENDED, b"connection: close\r\n\r\n"].concat()
        );
        spy.wrote(response.len() - 10);
        assert!(spy.mend(HYPER_431).is_none());
    }

    #[test]
    fn other_responses_are_left_alone() {
        let seen = spy(b"PUT / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n");
        assert!(seen.mend(b"HTTP/1.1 201 Created\r\n").is_none());
        assert!(LengthSpy::default().mend(HYPER_431).is_none());
    }
}

//! Incremental parser for client requests: RESP multibulk (`*2\r\n$3\r\nGET\r\n...`)
//! and inline commands (`GET key\r\n`, as typed into telnet).
//!
//! The parser never copies multibulk arguments: it records `(start, end)` spans
//! into the connection's read buffer. Inline commands need unescaping, so their
//! arguments are written into a scratch buffer and the spans point there.
//! Parsing is resumable: when a request is split across reads, the parser keeps
//! what it learnt (argument count, spans so far) and continues where it stopped,
//! so a huge request arriving in many reads is scanned once, not once per read.
//!
//! Limits and error texts follow Redis 7.0 (`networking.c`): the error is the
//! reply to send, after which the connection must be closed.

use crate::util::args::split_args_into;

/// Longest inline request, or multibulk/bulk count line, Redis accepts (64 KiB).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Where a parsed request's argument bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Spans index the read buffer passed to [`RequestParser::parse`].
    Buffer,
    /// Spans index [`RequestParser::inline_scratch`].
    Inline,
}

/// Result of one [`RequestParser::parse`] call.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request is ready; `consumed` bytes of the buffer belong to it.
    /// Its arguments are in [`RequestParser::spans`] (may be empty: an empty
    /// inline line or `*0`, which execute nothing).
    Request { consumed: usize, source: Source },
    /// More bytes are needed. `want` is a hint of how many bytes the buffer
    /// should hold in total to make progress (0 if unknown).
    Incomplete { want: usize },
    /// A protocol error: reply with this error (without `-`/CRLF) and close.
    Error(&'static str),
}

/// Limits that depend on configuration and client state.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// True while the client must still authenticate: Redis then refuses
    /// large multibulk counts and bulk lengths.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// Resumable request parser; one per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    spans: Vec<(u32, u32)>,
    inline: Vec<u8>,
    /// Multibulk in progress: arguments still expected (0 = none in progress).
    remaining: usize,
    /// Offset in the buffer where parsing resumes.
    pos: usize,
    /// Length of the bulk whose header was parsed (-1 = none).
    bulk_len: i64,
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser {
            bulk_len: -1,
            ..Default::default()
        }
    }

    /// Argument spans of the last complete request.
    #[inline]
    pub fn spans(&self) -> &[(u32, u32)] {
        &self.spans
    }

    /// Scratch buffer holding the unescaped arguments of an inline request.
    #[inline]
    pub fn inline_scratch(&self) -> &[u8] {
        &self.inline
    }

    /// True when part of a request has been consumed and more is awaited.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Parse the next request from `buf` (which starts at the first byte of
    /// the request; the caller removes consumed bytes between requests).
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if self.remaining == 0 {
            self.spans.clear();
            self.pos = 0;
            self.bulk_len = -1;
            if buf.is_empty() {
                return Parsed::Incomplete { want: 0 };
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            // Multibulk count line.
            let Some(cr) = find_line_end(b'\r', buf) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Parsed::Error("Protocol error: too big mbulk count string");
                }
                return Parsed::Incomplete { want: 0 };
            };
            if cr + 2 > buf.len() {
                return Parsed::Incomplete { want: 0 };
            }
            let count = match parse_len(&buf[1..cr]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Parsed::Error("Protocol error: invalid multibulk length"),
            };
            if count > 10 && limits.unauthenticated {
                return Parsed::Error("Protocol error: unauthenticated multibulk length");
            }
            self.pos = cr + 2;
            if count <= 0 {
                return Parsed::Request {
                    consumed: self.pos,
                    source: Source::Buffer,
                };
            }
            self.remaining = count as usize;
            self.spans.reserve(self.remaining.min(1024));
        }
        self.parse_bulks(buf, limits)
    }

    fn parse_bulks(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        while self.remaining > 0 {
            if self.bulk_len < 0 {
                let rest = &buf[self.pos..];
                if let Some((len, cr)) = quick_len(rest)
                    && cr + 2 <= rest.len()
                    && (len as u64) <= limits.max_bulk_len
                    && (len <= 16384 || !limits.unauthenticated)
                {
                    // The common well-formed header, read in one pass.
                    self.pos += cr + 2;
                    self.bulk_len = len;
                } else {
                    let Some(cr) = find_line_end(b'\r', rest) else {
                        if rest.len() > INLINE_MAX_SIZE {
                            return self.fail("Protocol error: too big bulk count string");
                        }
                        return Parsed::Incomplete { want: 0 };
                    };
                    if cr + 2 > rest.len() {
                        return Parsed::Incomplete { want: 0 };
                    }
                    if rest[0] != b'$' {
                        return self.fail(expected_dollar_error(rest[0]));
                    }
                    let len = match parse_len(&rest[1..cr]) {
                        Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n,
                        _ => return self.fail("Protocol error: invalid bulk length"),
                    };
                    if len > 16384 && limits.unauthenticated {
                        return self.fail("Protocol error: unauthenticated bulk length");
                    }
                    self.pos += cr + 2;
                    self.bulk_len = len;
                }
            }
            let len = self.bulk_len as usize;
            if buf.len() - self.pos < len + 2 {
                return Parsed::Incomplete {
                    want: self.pos + len + 2,
                };
            }
            self.spans.push((self.pos as u32, (self.pos + len) as u32));
            self.pos += len + 2;
            self.bulk_len = -1;
            self.remaining -= 1;
        }
        Parsed::Request {
            consumed: self.pos,
            source: Source::Buffer,
        }
    }

    fn fail(&mut self, msg: &'static str) -> Parsed {
        self.remaining = 0;
        self.bulk_len = -1;
        Parsed::Error(msg)
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Parsed {
        let Some(nl) = find_line_end(b'\n', buf) else {
            if buf.len() > INLINE_MAX_SIZE {
                return Parsed::Error("Protocol error: too big inline request");
            }
            return Parsed::Incomplete { want: 0 };
        };
        let mut end = nl;
        if end > 0 && buf[end - 1] == b'\r' {
            end -= 1;
        }
        self.inline.clear();
        if !split_args_into(&buf[..end], &mut self.inline, &mut self.spans) {
            return Parsed::Error("Protocol error: unbalanced quotes in request");
        }
        Parsed::Request {
            consumed: nl + 1,
            source: Source::Inline,
        }
    }
}

/// Position of the first `byte`, searching only before the first NUL: Redis
/// looks for line ends with `strchr`, so a NUL hides the rest of the buffer
/// and such a line never completes (until the size limit turns it into an
/// error).
/// A bulk header `$<digits>\r` that Redis's parsing accepts as is (digits
/// without sign or leading zero, at most 18 of them): its length and the
/// offset of the `\r`. `None` sends the line through the general path,
/// which gives the same answer or the right error.
#[inline]
fn quick_len(line: &[u8]) -> Option<(i64, usize)> {
    if line.first() != Some(&b'$') {
        return None;
    }
    let mut v: i64 = 0;
    let mut i = 1;
    loop {
        let c = *line.get(i)?;
        if c.is_ascii_digit() {
            if i > 18 || (i == 2 && line[1] == b'0') {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
            i += 1;
        } else if c == b'\r' && i > 1 {
            return Some((v, i));
        } else {
            return None;
        }
    }
}

#[inline]
fn find_line_end(byte: u8, buf: &[u8]) -> Option<usize> {
    // Count lines (`*3`, `$16`) are a few bytes: a plain scan of the
    // first ones beats setting up a vectorised search.
    for (i, &c) in buf.iter().take(16).enumerate() {
        if c == byte {
            return Some(i);
        }
        if c == 0 {
            return None;
        }
    }
    if buf.len() <= 16 {
        return None;
    }
    match memchr::memchr2(byte, 0, &buf[16..]).map(|i| i + 16) {
        Some(i) if buf[i] == byte => Some(i),
        _ => None,
    }
}

fn expected_dollar_error(got: u8) -> &'static str {
    match got {
        b' '..=b'~' => EXPECTED_DOLLAR[(got - b' ') as usize],
        _ => "Protocol error: expected '$', got '?'",
    }
}

macro_rules! expected_table {
    ($($c:literal)*) => {
        [$(concat!("Protocol error: expected '$', got '", $c, "'"),)*]
    };
}

/// Error texts for every printable byte, so the hot path never allocates.
static EXPECTED_DOLLAR: [&str; 95] = expected_table!(
    " " "!" "\"" "#" "$" "%" "&" "'" "(" ")" "*" "+" "," "-" "." "/"
    "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" ":" ";" "<" "=" ">" "?"
    "@" "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O"
    "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "[" "\\" "]" "^" "_"
    "`" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o"
    "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "{" "|" "}" "~"
);

/// Parse a length as Redis's string2ll does (strict decimal, optional `-`).
use crate::util::num::parse_i64 as parse_len;

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(p: &RequestParser, buf: &[u8], src: Source) -> Vec<Vec<u8>> {
        let base = match src {
            Source::Buffer => buf,
            Source::Inline => p.inline_scratch(),
        };
        p.spans()
            .iter()
            .map(|&(s, e)| base[s as usize..e as usize].to_vec())
            .collect()
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, &'static str> {
        let mut p = RequestParser::new();
        let mut out = vec![];
        let mut at = 0;
        loop {
            match p.parse(&input[at..], Limits::default()) {
                Parsed::Request { consumed, source } => {
                    out.push(args_of(&p, &input[at..], source));
                    at += consumed;
                }
                Parsed::Incomplete { .. } => return Ok(out),
                Parsed::Error(e) => return Err(e),
            }
        }
    }

    #[test]
    fn multibulk() {
        let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(
            r,
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn inline_quoting() {
        let r = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert_eq!(
            r,
            vec![vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]]
        );
        assert_eq!(
            parse_all(b"set \"abc\r\n"),
            Err("Protocol error: unbalanced quotes in request")
        );
        assert_eq!(
            parse_all(b"set \"a\"b\r\n"),
            Err("Protocol error: unbalanced quotes in request")
        );
        assert_eq!(parse_all(b"\r\n").unwrap(), vec![Vec::<Vec<u8>>::new()]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err("Protocol error: invalid multibulk length")
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n"),
            Err("Protocol error: expected '$', got 'f'")
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err("Protocol error: invalid bulk length")
        );
        assert!(parse_all(b"*-1\r\n").unwrap()[0].is_empty());
    }

    #[test]
    fn nul_hides_the_line_end_as_in_redis() {
        let mut p = RequestParser::new();
        let l = Limits::default();
        assert!(matches!(
            p.parse(b"SET a\0b c\r\n", l),
            Parsed::Incomplete { .. }
        ));
        assert!(matches!(p.parse(b"*1\0\r\n", l), Parsed::Incomplete { .. }));
        let mut big = b"GET a\0\r\n".to_vec();
        big.resize(INLINE_MAX_SIZE + 10, b'x');
        assert_eq!(
            p.parse(&big, l),
            Parsed::Error("Protocol error: too big inline request")
        );
        // Inside a bulk payload a NUL is just data.
        assert_eq!(
            parse_all(b"*2\r\n$3\r\nGET\r\n$3\r\na\0b\r\n").unwrap(),
            vec![vec![b"GET".to_vec(), b"a\0b".to_vec()]]
        );
    }

    #[test]
    fn split_at_every_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n";
        for cut in 0..input.len() {
            let mut p = RequestParser::new();
            assert!(matches!(
                p.parse(&input[..cut], Limits::default()),
                Parsed::Incomplete { .. }
            ));
            match p.parse(input, Limits::default()) {
                Parsed::Request { consumed, source } => {
                    assert_eq!(consumed, input.len());
                    assert_eq!(args_of(&p, input, source).len(), 3);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn encode(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
            let mut out = vec![];
            for args in cmds {
                out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
                for a in args {
                    out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    out.extend_from_slice(a);
                    out.extend_from_slice(b"\r\n");
                }
            }
            out
        }

        /// Feeds `input` in chunks cut at `cuts`, the way reads deliver it,
        /// removing consumed bytes between requests as a connection does.
        fn parse_in_chunks(
            input: &[u8],
            cuts: &[usize],
            complete: bool,
        ) -> Result<Vec<Vec<Vec<u8>>>, &'static str> {
            let mut p = RequestParser::new();
            let mut buf: Vec<u8> = vec![];
            let mut out = vec![];
            let mut fed = 0;
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            bounds.push(input.len());
            bounds.sort();
            for end in bounds {
                buf.extend_from_slice(&input[fed..end.max(fed)]);
                fed = end.max(fed);
                loop {
                    match p.parse(&buf, Limits::default()) {
                        Parsed::Request { consumed, source } => {
                            out.push(args_of(&p, &buf, source));
                            buf.drain(..consumed);
                        }
                        Parsed::Incomplete { .. } => break,
                        Parsed::Error(e) => return Err(e),
                    }
                }
            }
            if complete {
                assert!(buf.is_empty() && !p.in_progress());
            }
            Ok(out)
        }

        proptest! {
            #[test]
            fn multibulk_round_trip_at_any_split(
                cmds in prop::collection::vec(
                    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
                cuts in prop::collection::vec(any::<usize>(), 0..12),
            ) {
                let input = encode(&cmds);
                prop_assert_eq!(parse_in_chunks(&input, &cuts, true).unwrap(), cmds);
            }

            #[test]
            fn inline_round_trip_at_any_split(
                cmds in prop::collection::vec(
                    prop::collection::vec("[a-zA-Z0-9:_]{1,12}", 1..6), 1..8),
                cuts in prop::collection::vec(any::<usize>(), 0..12),
            ) {
                let mut input = vec![];
                for c in &cmds {
                    input.extend_from_slice(c.join(" ").as_bytes());
                    input.extend_from_slice(b"\r\n");
                }
                let want: Vec<Vec<Vec<u8>>> = cmds
                    .iter()
                    .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
                    .collect();
                prop_assert_eq!(parse_in_chunks(&input, &cuts, true).unwrap(), want);
            }

            #[test]
            fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300),
                                           cuts in prop::collection::vec(any::<usize>(), 0..6)) {
                let _ = parse_in_chunks(&input, &cuts, false).or_else(|e| {
                    prop_assert!(e.starts_with("Protocol error: "));
                    Ok::<_, TestCaseError>(vec![])
                });
            }
        }
    }
}

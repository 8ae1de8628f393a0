//! The reply writer: encodes every kind of reply into a connection's output
//! buffer, in RESP2 or RESP3 as the client negotiated with `HELLO`.
//!
//! Handlers call one method per reply element; nothing is allocated besides
//! the output buffer's own growth. RESP3-only types degrade to what Redis
//! sends a RESP2 client (maps become flat arrays, doubles bulk strings,
//! booleans integers, nulls `$-1`/`*-1`). The writer also counts error replies
//! and keeps the last error's code (its first word) for `INFO errorstats`.

use crate::util::float::fmt_double;

/// Initial capacity of a reply buffer, like Redis's 16 KB static reply
/// buffer (`PROTO_REPLY_CHUNK_BYTES`).
pub const REPLY_CHUNK: usize = 16 * 1024;

/// A reply buffer whose capacity grew beyond this is reallocated at
/// [`REPLY_CHUNK`] once it has been written out.
pub const SHRINK_ABOVE: usize = 1024 * 1024;

/// Protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    V2,
    V3,
}

/// A reply under construction for one connection.
#[derive(Debug)]
pub struct Reply {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written to the socket: a partial
    /// write advances this instead of moving the rest of a big buffer.
    sent: usize,
    resp: Resp,
    errors: u64,
    last_error_code: [u8; 32],
    last_error_len: usize,
    /// Reused buffer for formatting doubles, so a double reply never allocates.
    scratch: Vec<u8>,
}

/// Position of an aggregate header whose length was not known when it was
/// started; see [`Reply::begin_deferred`].
#[must_use]
pub struct Deferred {
    at: usize,
    kind: u8,
}

impl Reply {
    pub fn new(resp: Resp) -> Self {
        Reply {
            buf: Vec::with_capacity(REPLY_CHUNK),
            sent: 0,
            resp,
            errors: 0,
            last_error_code: [0; 32],
            last_error_len: 0,
            scratch: Vec::with_capacity(32),
        }
    }

    #[inline]
    pub fn resp(&self) -> Resp {
        self.resp
    }

    pub fn set_resp(&mut self, resp: Resp) {
        self.resp = resp;
    }

    /// The encoded bytes waiting to be written.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Bytes waiting to be written.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.len() == self.sent
    }

    /// Drop the first `n` bytes (they were written to the socket). Amortised
    /// O(n): the unsent rest moves to the front only once it is at most as
    /// long as what was sent. A buffer that grew past [`SHRINK_ABOVE`] for a
    /// big reply gives its memory back once everything is written.
    pub fn consume(&mut self, n: usize) {
        self.sent += n;
        if self.sent >= self.buf.len() {
            self.buf.clear();
            self.sent = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf = Vec::with_capacity(REPLY_CHUNK);
            }
        } else if self.sent >= self.buf.len() - self.sent {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Forget everything written after `len` (e.g. a reply to suppress).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.sent + len);
    }

    /// Number of error replies written so far.
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// Code of the last error reply (`ERR`, `WRONGTYPE`, …).
    pub fn last_error_code(&self) -> &[u8] {
        &self.last_error_code[..self.last_error_len]
    }

    #[inline]
    fn line(&mut self, prefix: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.push(prefix);
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends frames already encoded (Pub/Sub messages from a mailbox).
    pub fn raw(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.buf);
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply (`+text`). Newlines in `s` are replaced by spaces, as
    /// Redis does, so the reply stays one line.
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.push_line_safe(s);
    }

    /// An error reply; `msg` is the text without `-`, e.g. `ERR syntax error`.
    pub fn error(&mut self, msg: &[u8]) {
        self.errors += 1;
        let code_end = memchr::memchr(b' ', msg).unwrap_or(msg.len()).min(32);
        self.last_error_code[..code_end].copy_from_slice(&msg[..code_end]);
        self.last_error_len = code_end;
        self.buf.push(b'-');
        self.push_line_safe(msg);
    }

    /// Shorthand for `error` with a `str`.
    pub fn err(&mut self, msg: &str) {
        self.error(msg.as_bytes());
    }

    fn push_line_safe(&mut self, s: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(s);
        for c in &mut self.buf[start..] {
            if *c == b'\r' || *c == b'\n' {
                *c = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, s: &[u8]) {
        let n = s.len();
        // One capacity check for the whole element; the header of a short
        // one (the common case: many per LRANGE/SMEMBERS reply) is a
        // fixed-size store rather than an itoa call and a memcpy.
        self.buf.reserve(n + 24);
        if n < 10 {
            self.buf
                .extend_from_slice(&[b'$', b'0' + n as u8, b'\r', b'\n']);
        } else if n < 100 {
            let (t, u) = (b'0' + (n / 10) as u8, b'0' + (n % 10) as u8);
            self.buf.extend_from_slice(&[b'$', t, u, b'\r', b'\n']);
        } else {
            self.line(b'$', n as i64);
        }
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (what `GET` answers for an int value).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null of a missing value: `$-1` (RESP2) or `_` (RESP3).
    #[inline]
    pub fn null(&mut self) {
        match self.resp {
            Resp::V2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Resp::V3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null of a missing aggregate: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        match self.resp {
            Resp::V2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Resp::V3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map of `len` pairs (`%` in RESP3, a flat array of 2×len in RESP2).
    pub fn map(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.line(b'*', 2 * len as i64),
            Resp::V3 => self.line(b'%', len as i64),
        }
    }

    /// A set (`~` in RESP3, an array in RESP2).
    pub fn set(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.line(b'*', len as i64),
            Resp::V3 => self.line(b'~', len as i64),
        }
    }

    /// An out-of-band push (`>` in RESP3, an array in RESP2).
    pub fn push(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.line(b'*', len as i64),
            Resp::V3 => self.line(b'>', len as i64),
        }
    }

    /// A double (`,` in RESP3, a bulk string in RESP2), formatted as Redis.
    pub fn double(&mut self, f: f64) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        fmt_double(f, &mut text);
        match self.resp {
            Resp::V2 => self.bulk(&text),
            Resp::V3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(&text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
        self.scratch = text;
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        match (self.resp, b) {
            (Resp::V2, true) => self.buf.extend_from_slice(b":1\r\n"),
            (Resp::V2, false) => self.buf.extend_from_slice(b":0\r\n"),
            (Resp::V3, true) => self.buf.extend_from_slice(b"#t\r\n"),
            (Resp::V3, false) => self.buf.extend_from_slice(b"#f\r\n"),
        }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, s: &[u8]) {
        match self.resp {
            Resp::V2 => self.bulk(s),
            Resp::V3 => {
                self.line(b'=', s.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(s);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Starts an array whose length is set later with [`Reply::end_deferred`].
    pub fn begin_deferred(&mut self) -> Deferred {
        Deferred {
            at: self.buf.len(),
            kind: b'*',
        }
    }

    /// Starts a map whose pair count is set later with [`Reply::end_deferred`].
    pub fn begin_deferred_map(&mut self) -> Deferred {
        Deferred {
            at: self.buf.len(),
            kind: b'%',
        }
    }

    /// Writes the header of a deferred aggregate now that `len` elements (or
    /// pairs, for a map) follow it.
    pub fn end_deferred(&mut self, d: Deferred, len: usize) {
        let (prefix, n) = match (d.kind, self.resp) {
            (b'%', Resp::V2) => (b'*', 2 * len),
            (k, _) => (k, len),
        };
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n).as_bytes();
        let header = [&[prefix][..], digits, b"\r\n"];
        let header_len: usize = header.iter().map(|p| p.len()).sum();
        // Open a gap at `at` and copy the header into it, without a temporary.
        let old_len = self.buf.len();
        self.buf.resize(old_len + header_len, 0);
        self.buf.copy_within(d.at..old_len, d.at + header_len);
        let mut at = d.at;
        for part in header {
            self.buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_consume_from_the_front_and_big_buffers_shrink() {
        let mut r = Reply::new(Resp::V2);
        r.bulk(&vec![b'x'; 3 * SHRINK_ABOVE]);
        let all = r.bytes().to_vec();
        let mut written = Vec::new();
        // Uneven partial writes, with a reply appended and one suppressed
        // (truncate to a mark) in between.
        let mut step = 1;
        while r.len() > all.len() / 2 {
            let n = step.min(r.len());
            written.extend_from_slice(&r.bytes()[..n]);
            r.consume(n);
            step = step * 3 + 7;
        }
        let mark = r.len();
        r.simple(b"DROPPED");
        r.truncate(mark);
        r.int(42);
        while !r.is_empty() {
            let n = 100_000.min(r.len());
            written.extend_from_slice(&r.bytes()[..n]);
            r.consume(n);
        }
        let mut expected = all;
        expected.extend_from_slice(b":42\r\n");
        assert_eq!(written, expected);
        assert!(r.buf.capacity() <= SHRINK_ABOVE, "shrunk once written");
        r.ok();
        assert_eq!(r.bytes(), b"+OK\r\n");
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        let mut r = Reply::new(Resp::V2);
        r.ok();
        r.int(-5);
        r.bulk(b"hi");
        r.null();
        r.null_array();
        r.map(1);
        r.boolean(true);
        r.double(0.1);
        assert_eq!(
            r.bytes(),
            b"+OK\r\n:-5\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n$19\r\n0.10000000000000001\r\n"
        );
        let mut r = Reply::new(Resp::V3);
        r.null();
        r.map(1);
        r.set(2);
        r.boolean(false);
        r.double(1e21);
        r.verbatim(b"ab");
        r.double(2.5);
        assert_eq!(
            r.bytes(),
            b"_\r\n%1\r\n~2\r\n#f\r\n,1e+21\r\n=6\r\ntxt:ab\r\n,2.5\r\n"
        );
    }

    #[test]
    fn errors_are_counted_and_kept_on_one_line() {
        let mut r = Reply::new(Resp::V2);
        r.err("WRONGTYPE Operation against a key\r\nholding");
        assert_eq!(
            r.bytes(),
            b"-WRONGTYPE Operation against a key  holding\r\n"
        );
        assert_eq!(r.error_count(), 1);
        assert_eq!(r.last_error_code(), b"WRONGTYPE");
    }

    #[test]
    fn deferred_lengths() {
        for resp in [Resp::V2, Resp::V3] {
            let mut r = Reply::new(resp);
            r.int(1);
            let d = r.begin_deferred_map();
            r.bulk(b"k");
            r.int(2);
            r.end_deferred(d, 1);
            let want: &[u8] = match resp {
                Resp::V2 => b":1\r\n*2\r\n$1\r\nk\r\n:2\r\n",
                Resp::V3 => b":1\r\n%1\r\n$1\r\nk\r\n:2\r\n",
            };
            assert_eq!(r.bytes(), want);
            r.consume(4);
            assert_eq!(&r.bytes()[..2], &want[4..6]);
        }
    }

    mod roundtrip {
        //! Property: whatever tree of replies is written, a RESP reader
        //! (ember-cli's, written independently) decodes the same tree, in
        //! RESP3 and in RESP2 with its degradations; deferred headers give
        //! the same bytes as headers written up front.
        use super::super::{Reply, Resp};
        use crate::cli::resp::{Reply as Decoded, read_reply};
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Node {
            Status(Vec<u8>),
            Error(Vec<u8>),
            Int(i64),
            Bulk(Vec<u8>),
            Null,
            Bool(bool),
            Array(Vec<Node>),
            Set(Vec<Node>),
            Map(Vec<(Node, Node)>),
        }

        fn node() -> impl Strategy<Value = Node> {
            let line = proptest::collection::vec(b'!'..=b'~', 1..12);
            let leaf = prop_oneof![
                line.clone().prop_map(Node::Status),
                line.prop_map(|mut l| {
                    l.splice(0..0, b"ERR ".iter().copied());
                    Node::Error(l)
                }),
                any::<i64>().prop_map(Node::Int),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Node::Bulk),
                Just(Node::Null),
                any::<bool>().prop_map(Node::Bool),
            ];
            leaf.prop_recursive(3, 40, 5, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..5).prop_map(Node::Array),
                    proptest::collection::vec(inner.clone(), 0..5).prop_map(Node::Set),
                    proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Node::Map),
                ]
            })
        }

        fn write(r: &mut Reply, n: &Node, deferred: bool) {
            match n {
                Node::Status(s) => r.simple(s),
                Node::Error(e) => r.error(e),
                Node::Int(i) => r.int(*i),
                Node::Bulk(b) => r.bulk(b),
                Node::Null => r.null(),
                Node::Bool(b) => r.boolean(*b),
                Node::Array(items) | Node::Set(items) => {
                    // Sets have no deferred form.
                    let d = if deferred && matches!(n, Node::Array(_)) {
                        Some(r.begin_deferred())
                    } else {
                        if matches!(n, Node::Set(_)) {
                            r.set(items.len());
                        } else {
                            r.array(items.len());
                        }
                        None
                    };
                    for it in items {
                        write(r, it, deferred);
                    }
                    if let Some(d) = d {
                        r.end_deferred(d, items.len());
                    }
                }
                Node::Map(pairs) => {
                    let d = if deferred {
                        Some(r.begin_deferred_map())
                    } else {
                        r.map(pairs.len());
                        None
                    };
                    for (k, v) in pairs {
                        write(r, k, deferred);
                        write(r, v, deferred);
                    }
                    if let Some(d) = d {
                        r.end_deferred(d, pairs.len());
                    }
                }
            }
        }

        /// What the reader must see for `n` under `resp`.
        fn expect(n: &Node, resp: Resp) -> Decoded {
            let v3 = resp == Resp::V3;
            match n {
                Node::Status(s) => Decoded::Status(s.clone()),
                Node::Error(e) => Decoded::Error(e.clone()),
                Node::Int(i) => Decoded::Integer(*i),
                Node::Bulk(b) => Decoded::Bulk(b.clone()),
                Node::Null => Decoded::Nil,
                Node::Bool(b) if v3 => Decoded::Bool(*b),
                Node::Bool(b) => Decoded::Integer(*b as i64),
                Node::Array(items) => {
                    Decoded::Array(items.iter().map(|i| expect(i, resp)).collect())
                }
                Node::Set(items) => {
                    let v = items.iter().map(|i| expect(i, resp)).collect();
                    if v3 {
                        Decoded::Set(v)
                    } else {
                        Decoded::Array(v)
                    }
                }
                Node::Map(pairs) if v3 => Decoded::Map(
                    pairs
                        .iter()
                        .map(|(k, v)| (expect(k, resp), expect(v, resp)))
                        .collect(),
                ),
                Node::Map(pairs) => Decoded::Array(
                    pairs
                        .iter()
                        .flat_map(|(k, v)| [expect(k, resp), expect(v, resp)])
                        .collect(),
                ),
            }
        }

        proptest! {
            #[test]
            fn written_replies_decode_to_the_same_tree(n in node(), v3 in any::<bool>()) {
                let resp = if v3 { Resp::V3 } else { Resp::V2 };
                let mut direct = Reply::new(resp);
                write(&mut direct, &n, false);
                let mut deferred = Reply::new(resp);
                write(&mut deferred, &n, true);
                prop_assert_eq!(direct.bytes(), deferred.bytes());
                let mut input = direct.bytes();
                let decoded = read_reply(&mut input).unwrap();
                prop_assert_eq!(decoded, expect(&n, resp));
                prop_assert!(input.is_empty());
            }
        }
    }
}

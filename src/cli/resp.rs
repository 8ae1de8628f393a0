//! The client's own small RESP2/RESP3 codec: encodes commands as arrays of
//! bulk strings and reads one reply at a time from a buffered stream.
//!
//! It is deliberately independent of the server's protocol module so the
//! client can be developed and tested against any Redis-compatible server.

use std::io::{self, BufRead, Write};

/// One reply as the client sees it. RESP2 null bulk strings and null arrays
/// and the RESP3 null all become [`Reply::Nil`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+...`: a simple status such as `OK`.
    Status(Vec<u8>),
    /// `-...` or `!...`: an error reply (the text includes the error code).
    Error(Vec<u8>),
    /// `:...`
    Integer(i64),
    /// `$...`: a binary-safe bulk string.
    Bulk(Vec<u8>),
    /// `=...`: a verbatim string; the three-letter format is kept apart.
    Verbatim(String, Vec<u8>),
    /// `$-1`, `*-1` or `_`.
    Nil,
    /// `,...`: kept as the server's text so it prints unchanged.
    Double(String),
    /// `#t` / `#f`
    Bool(bool),
    /// `(...`: kept as text.
    BigNumber(String),
    /// `*...`
    Array(Vec<Reply>),
    /// `~...`
    Set(Vec<Reply>),
    /// `%...`: key/value pairs in server order.
    Map(Vec<(Reply, Reply)>),
    /// `>...`: out-of-band data such as pub/sub messages under RESP3.
    Push(Vec<Reply>),
}

impl Reply {
    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The bytes of a string-like reply (status, bulk, verbatim, error).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Status(b) | Reply::Bulk(b) | Reply::Error(b) | Reply::Verbatim(_, b) => Some(b),
            _ => None,
        }
    }

    /// The reply as text, lossily, when it is string-like.
    pub fn as_text(&self) -> Option<String> {
        self.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Integers, and strings holding an integer, as `i64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            other => other.as_text().and_then(|s| s.trim().parse().ok()),
        }
    }

    /// The elements of an array, set or push reply; a map is flattened into
    /// key, value, key, value.
    pub fn into_items(self) -> Option<Vec<Reply>> {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => Some(v),
            Reply::Map(pairs) => Some(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
            _ => None,
        }
    }
}

/// Encodes one command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Writes one encoded command.
pub fn write_command<W: Write, A: AsRef<[u8]>>(w: &mut W, args: &[A]) -> io::Result<()> {
    w.write_all(&encode_command(args))?;
    w.flush()
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Protocol error: {}", what.into()),
    )
}

/// Reads one line without its CRLF. End of stream before any byte is
/// reported as `UnexpectedEof`.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by server",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

fn parse_len(line: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| protocol_error(format!("bad length {:?}", String::from_utf8_lossy(line))))
}

fn read_exact_crlf<R: BufRead>(r: &mut R, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len + 2];
    r.read_exact(&mut buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by server")
        } else {
            e
        }
    })?;
    if &buf[len..] != b"\r\n" {
        return Err(protocol_error("bulk string not terminated by CRLF"));
    }
    buf.truncate(len);
    Ok(buf)
}

fn read_items<R: BufRead>(r: &mut R, count: usize) -> io::Result<Vec<Reply>> {
    let mut items = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        items.push(read_reply(r)?);
    }
    Ok(items)
}

/// Reads one complete reply. Attributes (`|`) are read and dropped.
pub fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    loop {
        let line = read_line(r)?;
        let Some((&kind, rest)) = line.split_first() else {
            return Err(protocol_error("empty line"));
        };
        let text = || String::from_utf8_lossy(rest).into_owned();
        let reply = match kind {
            b'+' => Reply::Status(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Integer(parse_len(rest)?),
            b'$' | b'!' | b'=' => {
                let len = parse_len(rest)?;
                if len < 0 {
                    Reply::Nil
                } else {
                    let body = read_exact_crlf(r, len as usize)?;
                    match kind {
                        b'$' => Reply::Bulk(body),
                        b'!' => Reply::Error(body),
                        _ => {
                            if body.len() >= 4 && body[3] == b':' {
                                let fmt = String::from_utf8_lossy(&body[..3]).into_owned();
                                Reply::Verbatim(fmt, body[4..].to_vec())
                            } else {
                                Reply::Verbatim(String::new(), body)
                            }
                        }
                    }
                }
            }
            b'*' | b'~' | b'>' => {
                let len = parse_len(rest)?;
                if len < 0 {
                    Reply::Nil
                } else {
                    let items = read_items(r, len as usize)?;
                    match kind {
                        b'*' => Reply::Array(items),
                        b'~' => Reply::Set(items),
                        _ => Reply::Push(items),
                    }
                }
            }
            b'%' | b'|' => {
                let len = parse_len(rest)?;
                let mut pairs = Vec::with_capacity((len.max(0) as usize).min(1 << 16));
                for _ in 0..len.max(0) {
                    let k = read_reply(r)?;
                    let v = read_reply(r)?;
                    pairs.push((k, v));
                }
                if kind == b'|' {
                    // Attributes annotate the reply that follows; skip them.
                    continue;
                }
                Reply::Map(pairs)
            }
            b'_' => Reply::Nil,
            b',' => Reply::Double(text()),
            b'#' => match rest {
                b"t" => Reply::Bool(true),
                b"f" => Reply::Bool(false),
                _ => return Err(protocol_error(format!("bad boolean {:?}", text()))),
            },
            b'(' => Reply::BigNumber(text()),
            other => {
                return Err(protocol_error(format!(
                    "unexpected reply type byte {:?}",
                    other as char
                )));
            }
        };
        return Ok(reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Reply {
        read_reply(&mut &input[..]).unwrap()
    }

    #[test]
    fn encodes_commands() {
        assert_eq!(
            encode_command(&["SET", "k", ""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn reads_resp2_and_resp3() {
        assert_eq!(parse(b"+OK\r\n"), Reply::Status(b"OK".to_vec()));
        assert_eq!(parse(b"-ERR x\r\n"), Reply::Error(b"ERR x".to_vec()));
        assert_eq!(parse(b":-7\r\n"), Reply::Integer(-7));
        assert_eq!(parse(b"$3\r\na\r\n\r\n"), Reply::Bulk(b"a\r\n".to_vec()));
        assert_eq!(parse(b"$-1\r\n"), Reply::Nil);
        assert_eq!(parse(b"*-1\r\n"), Reply::Nil);
        assert_eq!(parse(b"_\r\n"), Reply::Nil);
        assert_eq!(parse(b"#t\r\n"), Reply::Bool(true));
        assert_eq!(parse(b",1.5\r\n"), Reply::Double("1.5".into()));
        assert_eq!(parse(b"(123\r\n"), Reply::BigNumber("123".into()));
        assert_eq!(
            parse(b"=8\r\ntxt:abcd\r\n"),
            Reply::Verbatim("txt".into(), b"abcd".to_vec())
        );
        assert_eq!(parse(b"!3\r\nERR\r\n"), Reply::Error(b"ERR".to_vec()));
        assert_eq!(
            parse(b"%1\r\n+a\r\n*2\r\n:1\r\n~0\r\n"),
            Reply::Map(vec![(
                Reply::Status(b"a".to_vec()),
                Reply::Array(vec![Reply::Integer(1), Reply::Set(vec![])])
            )])
        );
        assert_eq!(parse(b"|1\r\n+k\r\n+v\r\n:5\r\n"), Reply::Integer(5));
        assert_eq!(
            parse(b">2\r\n+message\r\n$1\r\nx\r\n"),
            Reply::Push(vec![
                Reply::Status(b"message".to_vec()),
                Reply::Bulk(b"x".to_vec())
            ])
        );
    }

    #[test]
    fn truncated_input_is_eof() {
        let err = read_reply(&mut &b"$5\r\nab"[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = read_reply(&mut &b""[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

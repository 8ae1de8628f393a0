//! Turns replies into text the way `redis-cli` prints them: the annotated
//! terminal form (`(integer) 1`, numbered nested arrays), the raw form used
//! when output is piped, and CSV.

use super::resp::Reply;

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Annotated, human form (the default on a terminal).
    Standard,
    /// Bare values, one per line (the default when piped).
    Raw,
    /// Comma separated values.
    Csv,
}

/// Delimiters used by the raw form (`-d` and `-D`).
#[derive(Debug, Clone)]
pub struct RawDelims {
    /// Between the elements of an aggregate reply.
    pub item: Vec<u8>,
    /// After each whole reply.
    pub reply: Vec<u8>,
}

impl Default for RawDelims {
    fn default() -> Self {
        RawDelims {
            item: b"\n".to_vec(),
            reply: b"\n".to_vec(),
        }
    }
}

/// Appends `bytes` as a double-quoted string with C-style escapes for
/// quotes, backslashes, control characters and non-ASCII bytes.
pub fn quote_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// The quoted form of `bytes` as a string.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    quote_into(&mut out, bytes);
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats a whole reply in the given mode, including the trailing newline.
pub fn format_reply(reply: &Reply, mode: OutputMode, delims: &RawDelims) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        OutputMode::Standard => standard(&mut out, reply, 0),
        OutputMode::Raw => {
            raw(&mut out, reply, delims);
            out.extend_from_slice(&delims.reply);
        }
        OutputMode::Csv => {
            csv(&mut out, reply);
            out.push(b'\n');
        }
    }
    out
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The annotated form. `indent` is the column at which nested lines of this
/// reply start; the first line is written where the cursor already is.
fn standard(out: &mut Vec<u8>, reply: &Reply, indent: usize) {
    match reply {
        Reply::Status(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Reply::Error(s) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Reply::Double(d) => out.extend_from_slice(format!("(double) {d}\n").as_bytes()),
        Reply::BigNumber(d) => out.extend_from_slice(format!("(big number) {d}\n").as_bytes()),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Reply::Nil => out.extend_from_slice(b"(nil)\n"),
        Reply::Bulk(s) => {
            quote_into(out, s);
            out.push(b'\n');
        }
        Reply::Verbatim(_, s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) if items.is_empty() => {
            let name: &[u8] = match reply {
                Reply::Set(_) => b"(empty set)\n",
                Reply::Push(_) => b"(empty push)\n",
                _ => b"(empty array)\n",
            };
            out.extend_from_slice(name);
        }
        Reply::Map(pairs) if pairs.is_empty() => out.extend_from_slice(b"(empty hash)\n"),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            let mark = if matches!(reply, Reply::Set(_)) {
                '~'
            } else {
                ')'
            };
            let width = digits(items.len());
            let child = indent + width + 2;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.resize(out.len() + indent, b' ');
                }
                out.extend_from_slice(format!("{:>width$}{mark} ", i + 1).as_bytes());
                standard(out, item, child);
            }
        }
        Reply::Map(pairs) => {
            let width = digits(pairs.len());
            let child = indent + width + 2;
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.resize(out.len() + indent, b' ');
                }
                out.extend_from_slice(format!("{:>width$}# ", i + 1).as_bytes());
                standard(out, key, child);
                out.pop(); // the key's newline
                out.extend_from_slice(b" => ");
                let mut value_text = Vec::new();
                standard(&mut value_text, value, child);
                // A value spanning several lines starts on its own line.
                if value_text[..value_text.len() - 1].contains(&b'\n') {
                    out.push(b'\n');
                    out.resize(out.len() + child, b' ');
                }
                out.extend_from_slice(&value_text);
            }
        }
    }
}

fn raw(out: &mut Vec<u8>, reply: &Reply, delims: &RawDelims) {
    match reply {
        Reply::Status(s) | Reply::Bulk(s) | Reply::Verbatim(_, s) => out.extend_from_slice(s),
        Reply::Error(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(d) | Reply::BigNumber(d) => out.extend_from_slice(d.as_bytes()),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Nil => {}
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(&delims.item);
                }
                raw(out, item, delims);
            }
        }
        Reply::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(&delims.item);
                }
                raw(out, key, delims);
                out.push(b' ');
                raw(out, value, delims);
            }
        }
    }
}

fn csv(out: &mut Vec<u8>, reply: &Reply) {
    match reply {
        Reply::Status(s) | Reply::Bulk(s) | Reply::Verbatim(_, s) => quote_into(out, s),
        Reply::Error(s) => {
            out.extend_from_slice(b"ERROR,");
            quote_into(out, s);
        }
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(d) | Reply::BigNumber(d) => out.extend_from_slice(d.as_bytes()),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Reply::Nil => out.extend_from_slice(b"NULL"),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv(out, item);
            }
        }
        Reply::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv(out, key);
                out.push(b',');
                csv(out, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    fn std_text(r: &Reply) -> String {
        String::from_utf8(format_reply(r, OutputMode::Standard, &RawDelims::default())).unwrap()
    }

    #[test]
    fn quotes_like_redis_cli() {
        assert_eq!(quote(b"a\x01b\"c\\\n\t\xff"), r#""a\x01b\"c\\\n\t\xff""#);
    }

    #[test]
    fn nested_arrays_are_numbered_and_indented() {
        let mut items: Vec<Reply> = (1..=10).map(Reply::Integer).collect();
        items.push(Reply::Array(vec![bulk("a"), Reply::Array(vec![])]));
        let text = std_text(&Reply::Array(items));
        assert!(text.starts_with(" 1) (integer) 1\n"));
        assert!(text.ends_with("10) (integer) 10\n11) 1) \"a\"\n    2) (empty array)\n"));
    }

    #[test]
    fn maps_put_multiline_values_on_a_new_line() {
        let inner = Reply::Map(vec![
            (bulk("x"), Reply::Integer(1)),
            (bulk("y"), Reply::Nil),
        ]);
        let r = Reply::Map(vec![
            (bulk("k"), inner),
            (bulk("s"), Reply::Set(vec![Reply::Status(b"one".to_vec())])),
        ]);
        assert_eq!(
            std_text(&r),
            "1# \"k\" => \n   1# \"x\" => (integer) 1\n   2# \"y\" => (nil)\n2# \"s\" => 1~ one\n"
        );
    }

    #[test]
    fn raw_and_csv_forms() {
        let r = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![]),
            bulk("x"),
            Reply::Error(b"E1 bad".to_vec()),
        ]);
        let d = RawDelims::default();
        assert_eq!(format_reply(&r, OutputMode::Raw, &d), b"1\n\nx\nE1 bad\n\n");
        assert_eq!(
            format_reply(&r, OutputMode::Csv, &d),
            b"1,,\"x\",ERROR,\"E1 bad\"\n"
        );
        let m = Reply::Map(vec![(bulk("f"), bulk("v"))]);
        assert_eq!(format_reply(&m, OutputMode::Raw, &d), b"f v\n");
        assert_eq!(format_reply(&Reply::Nil, OutputMode::Csv, &d), b"NULL\n");
    }
}

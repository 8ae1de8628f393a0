//! Splits a REPL line into arguments: words separated by blanks, double
//! quotes with C-style escapes (`\n`, `\x41`, `\"`), single quotes where only
//! `\'` is special.

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits `line` into arguments. Unbalanced quotes, or a closing quote
/// followed directly by another character, are an error.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, SplitError> {
    let b = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let Some(&c) = b.get(i) else {
                    return Err(SplitError);
                };
                if c == b'\\'
                    && b.get(i + 1) == Some(&b'x')
                    && let (Some(h), Some(l)) = (
                        b.get(i + 2).and_then(|&x| hex(x)),
                        b.get(i + 3).and_then(|&x| hex(x)),
                    )
                {
                    cur.push(h * 16 + l);
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < b.len() {
                    cur.push(match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    i += 1;
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return Err(SplitError);
                    }
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_single {
                let Some(&c) = b.get(i) else {
                    return Err(SplitError);
                };
                if c == b'\\' && b.get(i + 1) == Some(&b'\'') {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    i += 1;
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return Err(SplitError);
                    }
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                match b.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split_args(line)
            .unwrap()
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(s("  set  k v "), ["set", "k", "v"]);
        assert_eq!(s(r#"set "a b" "x\x41\ny""#), ["set", "a b", "xA\ny"]);
        assert_eq!(s(r#"set 'it\'s' '\n'"#), ["set", "it's", "\\n"]);
        assert_eq!(s(r#"set "" ''"#), ["set", "", ""]);
        assert_eq!(s("ab\"cd\""), ["abcd"]);
        assert!(s("").is_empty());
    }

    #[test]
    fn rejects_bad_quoting() {
        assert_eq!(split_args(r#"set "abc"#), Err(SplitError));
        assert_eq!(split_args(r#"set "a"b"#), Err(SplitError));
        assert_eq!(split_args("set 'a"), Err(SplitError));
    }
}

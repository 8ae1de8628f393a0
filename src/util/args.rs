//! Splitting a line into arguments with Redis's quoting rules (its
//! `sdssplitargs`), shared by inline requests, `redis.conf` lines and the
//! `ember-cli` REPL, so the three can never disagree.

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | b'\x0b' | b'\x0c')
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Split a line into arguments with Redis's quoting rules (sdssplitargs):
/// double quotes with `\n \r \t \b \a \xHH` escapes, single quotes with `\'`,
/// and a closing quote must be followed by a space or the end of the line.
/// Unescaped arguments are appended to `out`, their spans to `spans`.
/// Returns false on unbalanced quotes.
pub fn split_args_into(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<(u32, u32)>) -> bool {
    // Redis splits a C string: a NUL byte ends the line wherever it is.
    let line = &line[..memchr::memchr(0, line).unwrap_or(line.len())];
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    out.push(hex_val(line[i + 2]).unwrap() * 16 + hex_val(line[i + 3]).unwrap());
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
            }
            i += 1;
        }
        spans.push((start as u32, out.len() as u32));
    }
}

/// Allocating form of [`split_args_into`]: one `Vec` per argument, `None`
/// on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut spans = Vec::new();
    if !split_args_into(line, &mut out, &mut spans) {
        return None;
    }
    Some(
        spans
            .iter()
            .map(|&(s, e)| out[s as usize..e as usize].to_vec())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::split_args;

    #[test]
    fn quoting_rules() {
        let v = |s: &str| split_args(s.as_bytes());
        assert_eq!(
            v(r#"set "a b" 'c\'d' "\x41\n" x"#).unwrap(),
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec(),
                b"x".to_vec()
            ]
        );
        assert_eq!(v(r#""" ''"#).unwrap(), vec![Vec::<u8>::new(), vec![]]);
        assert_eq!(v("  \t ").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(v(r#"set "abc"#), None);
        assert_eq!(v(r#"set "a"b"#), None);
        assert_eq!(v("set 'a"), None);
        assert_eq!(v("set 'a'b"), None);
        // A NUL ends the line, as in a C string; inside quotes that leaves
        // them unbalanced.
        assert_eq!(
            v("get a\0b c").unwrap(),
            vec![b"get".to_vec(), b"a".to_vec()]
        );
        assert_eq!(v("get \"a\0b\""), None);
    }
}

//! Text level of `redis.conf`: splitting a line into arguments (double
//! quotes with escapes, single quotes), splitting multi-argument values on
//! spaces, and turning `redis-server` style argv into extra config lines.

use super::value::repr;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Split one line into arguments the way Redis does. `None` means the
/// quotes are unbalanced (or a closing quote is not followed by a space).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    cur.push(hex_val(line[i + 2]).unwrap() * 16 + hex_val(line[i + 3]).unwrap());
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

/// Split a value on single spaces, keeping empty pieces; an empty value
/// gives no pieces (how multi-argument values are split).
pub fn split_spaces(v: &[u8]) -> Vec<Vec<u8>> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(|&c| c == b' ').map(<[u8]>::to_vec).collect()
}

/// Command line of `redis-server` (without the program name), split into
/// the config file (`Some("-")` means stdin only), whether stdin is read,
/// and the extra config text built from `--name value...` options.
pub struct CommandLine {
    pub file: Option<String>,
    pub stdin: bool,
    pub options: String,
}

/// Interpret argv as `redis-server` does.
pub fn parse_command_line(args: &[String]) -> CommandLine {
    let mut file = None;
    let mut stdin = false;
    let mut options = String::new();
    let mut j = 0;
    if let Some(first) = args.first()
        && !first.starts_with('-')
    {
        file = Some(first.clone());
        j = 1;
    }
    let mut last_has_value = true;
    let argc = args.len();
    while j < argc {
        let a = &args[j];
        let is_last = j + 1 == argc;
        if a == "-" && (j == 0 || is_last) {
            stdin = true;
        } else if last_has_value && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            let pieces = split_args(a.as_bytes()).map_or(0, |p| p.len());
            if pieces == 1 {
                last_has_value = false;
                let is_save = a.eq_ignore_ascii_case("--save");
                if is_save && !is_last && args[j + 1].starts_with("--") {
                    options.push_str("\"\"");
                    last_has_value = true;
                } else if is_save && is_last {
                    options.push_str("\"\"");
                }
            } else {
                last_has_value = true;
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            last_has_value = true;
        }
        j += 1;
    }
    CommandLine {
        file,
        stdin,
        options,
    }
}

/// Trim a config line as Redis does before parsing it.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let is_trim = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|c| !is_trim(c)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|c| !is_trim(c))
        .map_or(start, |e| e + 1);
    &line[start..end.max(start)]
}

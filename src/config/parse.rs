//! Text level of `redis.conf`: splitting a line into arguments (double
//! quotes with escapes, single quotes), splitting multi-argument values on
//! spaces, and turning `redis-server` style argv into extra config lines.

use super::value::repr;

pub use crate::util::args::split_args;

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

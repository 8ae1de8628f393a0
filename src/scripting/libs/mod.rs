//! The C libraries Redis 7.0 links into its Lua interpreter, written again
//! in Rust: `cjson` (lua-cjson 2.1.0), `bit` (LuaBitOp), `struct` (Roberto
//! Ierusalimschy's struct library as Redis patched it) and `cmsgpack`.
//!
//! Each `register` function builds the library's table; the sandbox makes
//! them read-only globals. Errors these functions raise must look like the
//! C ones: a plain Lua string (no position, as `luaL_error` from a C
//! function gives), `bad argument #n to 'name' (...)` for argument checks.
//! They travel through mlua as runtime errors whose message starts with
//! [`PLAIN`]; the sandbox turns them back into strings (see `error_text`).

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod lstruct;

use mlua::{Lua, MultiValue, Table, Value};

/// Marks an error message to be raised as a plain Lua string.
pub const PLAIN: char = '\u{2}';

/// Registry name of Lua's own `next` (the sandbox's global one is a
/// wrapper).
const RAW_NEXT: &str = "ember.libs.next";

/// Lua's `next`, to walk a table from a key without holding its pairs.
pub fn raw_next(lua: &Lua) -> mlua::Result<mlua::Function> {
    match lua.named_registry_value::<Option<mlua::Function>>(RAW_NEXT)? {
        Some(f) => Ok(f),
        None => {
            let f: mlua::Function = lua.globals().raw_get("next")?;
            lua.set_named_registry_value(RAW_NEXT, &f)?;
            Ok(f)
        }
    }
}

/// Builds every library into `libs` (name -> table). Must run before the
/// sandbox replaces the globals.
pub fn register(lua: &Lua, libs: &Table) -> mlua::Result<()> {
    raw_next(lua)?;
    libs.set("cjson", cjson::new_module(lua)?)?;
    libs.set("bit", bit::module(lua)?)?;
    libs.set("struct", lstruct::module(lua)?)?;
    libs.set("cmsgpack", cmsgpack::module(lua)?)?;
    Ok(())
}

/// An error raised as the plain string `msg` prefixed with the caller's
/// position (`user_script:3: `) when the caller is Lua code, as
/// `luaL_error` does (called through `pcall`, there is no position).
pub fn error(lua: &Lua, msg: impl AsRef<str>) -> mlua::Error {
    let place = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source();
            if src.what == "C" {
                return None;
            }
            Some(format!(
                "{}:{line}: ",
                src.short_src.as_deref().unwrap_or("?")
            ))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::RuntimeError(format!("{PLAIN}{place}{}", msg.as_ref()))
}

/// An error raised as the plain string `msg`, without a position (what
/// the Lua core raises from inside a C function).
pub fn raw_error(msg: impl AsRef<str>) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{PLAIN}{}", msg.as_ref()))
}

/// `luaL_argerror`: `bad argument #n to 'name' (msg)`, the name being the
/// one the caller used for the running function (`?` if none).
pub fn arg_error(lua: &Lua, mut n: usize, msg: &str) -> mlua::Error {
    let (name, what) = lua
        .inspect_stack(0, |d| {
            let names = d.names();
            (
                names.name.map(|s| s.into_owned()),
                names.name_what.unwrap_or(""),
            )
        })
        .unwrap_or((None, ""));
    if what == "method" {
        n = n.saturating_sub(1);
        if n == 0 {
            return error(
                lua,
                format!(
                    "calling '{}' on bad self ({msg})",
                    name.as_deref().unwrap_or("?")
                ),
            );
        }
    }
    error(
        lua,
        format!(
            "bad argument #{n} to '{}' ({msg})",
            name.as_deref().unwrap_or("?")
        ),
    )
}

/// Lua's name of a value's type (`lua_typename`); `no value` for a
/// missing argument.
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        _ => "userdata",
    }
}

/// `luaL_typerror`: `bad argument #n to 'f' (<want> expected, got <type>)`.
pub fn type_error(lua: &Lua, args: &MultiValue, n: usize, want: &str) -> mlua::Error {
    let got = type_name(args.get(n - 1));
    arg_error(lua, n, &format!("{want} expected, got {got}"))
}

/// `lua_tonumber`: a number, or a string Lua converts to one.
pub fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => str_to_number(&s.as_bytes()),
        _ => None,
    }
}

/// Lua 5.1's `luaO_str2d`: `strtod` (or `strtoul` for `0x` numbers),
/// surrounding whitespace allowed, nothing else.
pub fn str_to_number(s: &[u8]) -> Option<f64> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = s.iter().position(|&c| !is_space(c))?;
    let (mut value, mut end) = strtod(s, start)?;
    if matches!(s.get(end), Some(b'x' | b'X')) {
        // strtoul in base 16 (strtod stopped at the 'x' of "0x").
        let mut p = start;
        let neg = match s.get(p) {
            Some(b'-') => {
                p += 1;
                true
            }
            Some(b'+') => {
                p += 1;
                false
            }
            _ => false,
        };
        if s.get(p) != Some(&b'0') || !matches!(s.get(p + 1), Some(b'x' | b'X')) {
            return None;
        }
        p += 2;
        let digits_start = p;
        let mut acc: u64 = 0;
        while let Some(d) = s.get(p).and_then(|&c| (c as char).to_digit(16)) {
            acc = acc.saturating_mul(16).saturating_add(d as u64);
            p += 1;
        }
        if p == digits_start {
            return None;
        }
        let acc = if neg { acc.wrapping_neg() } else { acc };
        value = acc as f64;
        end = p;
    }
    if s[end..].iter().all(|&c| is_space(c)) {
        Some(value)
    } else {
        None
    }
}

/// `luaL_checknumber`.
pub fn check_number(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<f64> {
    match args.get(n - 1).and_then(to_number) {
        Some(f) => Ok(f),
        None => Err(type_error(lua, args, n, "number")),
    }
}

/// `luaL_checkinteger` (`lua_Integer` is `ptrdiff_t`: the double is
/// truncated).
pub fn check_integer(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<i64> {
    check_number(lua, args, n).map(|f| f as i64)
}

/// `luaL_checklstring`: a string, or a number converted as Lua does.
pub fn check_bytes(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<Vec<u8>> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => Ok(lua
            .coerce_string(v.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        _ => Err(type_error(lua, args, n, "string")),
    }
}

/// C's `strtod` from `s[start..]` (no leading whitespace skipping): the
/// value and the end of what it read, `None` when nothing is a number.
/// Reads decimal numbers, `inf`/`infinity`/`nan` (any case) and hex
/// floats, as glibc does.
pub fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = start;
    let neg = match at(p) {
        b'-' => {
            p += 1;
            true
        }
        b'+' => {
            p += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let starts_with = |p: usize, word: &[u8]| {
        word.iter()
            .enumerate()
            .all(|(i, &w)| at(p + i).eq_ignore_ascii_case(&w))
    };
    if starts_with(p, b"inf") {
        let end = if starts_with(p, b"infinity") {
            p + 8
        } else {
            p + 3
        };
        return Some((sign * f64::INFINITY, end));
    }
    if starts_with(p, b"nan") {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        return Some((f64::NAN.copysign(sign), end));
    }
    if at(p) == b'0'
        && matches!(at(p + 1), b'x' | b'X')
        && (at(p + 2).is_ascii_hexdigit() || (at(p + 2) == b'.' && at(p + 3).is_ascii_hexdigit()))
    {
        let mut q = p + 2;
        let mut mant = 0f64;
        let mut exp: i32 = 0;
        while at(q).is_ascii_hexdigit() {
            mant = mant * 16.0 + (at(q) as char).to_digit(16).unwrap_or(0) as f64;
            q += 1;
        }
        if at(q) == b'.' {
            q += 1;
            while at(q).is_ascii_hexdigit() {
                mant = mant * 16.0 + (at(q) as char).to_digit(16).unwrap_or(0) as f64;
                exp -= 4;
                q += 1;
            }
        }
        if matches!(at(q), b'p' | b'P') {
            let mut r = q + 1;
            let eneg = match at(r) {
                b'-' => {
                    r += 1;
                    true
                }
                b'+' => {
                    r += 1;
                    false
                }
                _ => false,
            };
            if at(r).is_ascii_digit() {
                let mut e: i32 = 0;
                while at(r).is_ascii_digit() {
                    e = e.saturating_mul(10).saturating_add((at(r) - b'0') as i32);
                    r += 1;
                }
                exp = exp.saturating_add(if eneg { -e } else { e });
                q = r;
            }
        }
        let v = if mant == 0.0 {
            0.0
        } else {
            mant * 2f64.powi(exp)
        };
        return Some((sign * v, q));
    }
    // Decimal: digits, optional fraction, optional exponent.
    let mut q = p;
    let mut text = String::new();
    while at(q).is_ascii_digit() {
        text.push(at(q) as char);
        q += 1;
    }
    let int_digits = text.len();
    let mut frac_digits = 0;
    if at(q) == b'.' {
        let mut r = q + 1;
        let mut frac = String::new();
        while at(r).is_ascii_digit() {
            frac.push(at(r) as char);
            r += 1;
        }
        frac_digits = frac.len();
        if int_digits + frac_digits > 0 {
            text.push('.');
            text.push_str(&frac);
            q = r;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if text.starts_with('.') {
        text.insert(0, '0');
    }
    if matches!(at(q), b'e' | b'E') {
        let mut r = q + 1;
        let mut exp = String::from("e");
        if matches!(at(r), b'-' | b'+') {
            exp.push(at(r) as char);
            r += 1;
        }
        if at(r).is_ascii_digit() {
            while at(r).is_ascii_digit() {
                exp.push(at(r) as char);
                r += 1;
            }
            text.push_str(&exp);
            q = r;
        }
    }
    let v: f64 = text.parse().ok()?;
    Some((sign * v, q))
}

/// C's `%.<prec>g` of a finite or infinite double (`inf`, `nan` as glibc).
pub fn fmt_g(f: f64, prec: usize, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let prec = prec.max(1);
    if f.is_nan() {
        out.extend_from_slice(if f.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    let a = f.abs();
    if a.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    if a == 0.0 {
        out.push(b'0');
        return;
    }
    // Rounded to `prec` significant digits: "d.ddde<exp>".
    let sci = format!("{:.*e}", prec - 1, a);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let digits: Vec<u8> = mant.bytes().filter(|c| c.is_ascii_digit()).collect();
    if exp < -4 || exp >= prec as i32 {
        let mut d = digits.len();
        while d > 1 && digits[d - 1] == b'0' {
            d -= 1;
        }
        out.push(digits[0]);
        if d > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..d]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else {
        // Fixed notation with prec - 1 - exp decimals, zeros trimmed.
        let mut text = Vec::new();
        if exp >= 0 {
            let int_len = exp as usize + 1;
            text.extend_from_slice(&digits[..int_len.min(digits.len())]);
            text.resize(text.len() + int_len.saturating_sub(digits.len()), b'0');
            if digits.len() > int_len {
                text.push(b'.');
                text.extend_from_slice(&digits[int_len..]);
            }
        } else {
            text.extend_from_slice(b"0.");
            text.resize(text.len() + (-exp - 1) as usize, b'0');
            text.extend_from_slice(&digits);
        }
        if text.contains(&b'.') {
            while text.last() == Some(&b'0') {
                text.pop();
            }
            if text.last() == Some(&b'.') {
                text.pop();
            }
        }
        out.extend_from_slice(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(f: f64, p: usize) -> String {
        let mut v = Vec::new();
        fmt_g(f, p, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn fmt_g_matches_printf() {
        assert_eq!(g(1.0, 14), "1");
        assert_eq!(g(0.1, 14), "0.1");
        assert_eq!(g(1.5, 14), "1.5");
        assert_eq!(g(-0.0, 14), "-0");
        assert_eq!(g(1e20, 14), "1e+20");
        assert_eq!(g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(g(12345678901234.0, 14), "12345678901234");
        assert_eq!(g(0.0001, 14), "0.0001");
        assert_eq!(g(0.00001, 14), "1e-05");
        assert_eq!(g(1.23456, 3), "1.23");
        assert_eq!(g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(g(100.0, 1), "1e+02");
        assert_eq!(g(f64::INFINITY, 14), "inf");
    }

    #[test]
    fn strtod_forms() {
        assert_eq!(strtod(b"12abc", 0), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3,", 0), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e", 0), Some((1.0, 1)));
        assert_eq!(strtod(b"0x1F", 0), Some((31.0, 4)));
        assert_eq!(strtod(b"0x", 0), Some((0.0, 1)));
        assert_eq!(strtod(b"Infinity", 0), Some((f64::INFINITY, 8)));
        assert_eq!(strtod(b"-", 0), None);
        assert_eq!(strtod(b".5", 0), Some((0.5, 2)));
        assert_eq!(strtod(b"5.", 0), Some((5.0, 2)));
        assert_eq!(str_to_number(b" 0x10 "), Some(16.0));
        assert_eq!(str_to_number(b"1e2"), Some(100.0));
        assert_eq!(str_to_number(b"abc"), None);
    }
}

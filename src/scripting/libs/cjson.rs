//! `cjson`: lua-cjson 2.1.0 as Redis 7.0 bundles it, byte for byte on
//! output: numbers with `%.14g` (the configured precision), `/` and
//! control characters escaped as lua-cjson does, tables that are arrays
//! (keys 1..n, not too sparse) as JSON arrays and the rest as objects in
//! Lua's iteration order, JSON `null` as `cjson.null` (a NULL
//! lightuserdata), the same error texts and depth limits.
//!
//! Encoding and decoding walk nested values with an explicit stack, so a
//! deep document does not deepen the native stack; the limits lua-cjson
//! gets from `lua_checkstack` (8000 slots) are reproduced.

use super::{arg_error, check_bytes, check_integer, error, fmt_g, strtod, type_name};
use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use std::sync::Arc;

/// `LUAI_MAXCSTACK` of Lua 5.1: what `lua_checkstack` allows a C function.
const MAX_C_STACK: usize = 8000;

/// One module's settings (each `cjson.new()` has its own).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 = refuse, 1 = `nan`/`inf`, 2 = `null`.
    encode_invalid_numbers: i64,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

/// JSON `null` / `cjson.null`.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A new `cjson` table with default settings.
pub fn new_module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::default();
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let conf = *c.lock();
            let out = encode(lua, &conf, &args[0]).map_err(|m| error(lua, m))?;
            lua.create_string(&out)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let text = check_bytes(lua, &args, 1)?;
            let conf = *c.lock();
            decode(lua, &conf, &text)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            arg_count(lua, &args, 3)?;
            // Each setting takes effect before the next one is checked.
            let mut conf = c.lock();
            let mut convert = conf.sparse_convert as i64;
            let a = enum_option(lua, &args, 1, &mut convert, &["off", "on"])?;
            conf.sparse_convert = convert != 0;
            let b = integer_option(lua, &args, 2, &mut conf.sparse_ratio, 0, i32::MAX as i64)?;
            let d = integer_option(lua, &args, 3, &mut conf.sparse_safe, 0, i32::MAX as i64)?;
            Ok((a, b, d))
        })?,
    )?;
    for (name, which) in [
        ("encode_max_depth", 0),
        ("decode_max_depth", 1),
        ("encode_number_precision", 2),
    ] {
        let c = cfg.clone();
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                arg_count(lua, &args, 1)?;
                let mut conf = c.lock();
                match which {
                    0 => integer_option(
                        lua,
                        &args,
                        1,
                        &mut conf.encode_max_depth,
                        1,
                        i32::MAX as i64,
                    ),
                    1 => integer_option(
                        lua,
                        &args,
                        1,
                        &mut conf.decode_max_depth,
                        1,
                        i32::MAX as i64,
                    ),
                    _ => {
                        let mut p = conf.precision as i64;
                        let r = integer_option(lua, &args, 1, &mut p, 1, 14)?;
                        conf.precision = p as usize;
                        Ok(r)
                    }
                }
            })?,
        )?;
    }
    let c = cfg.clone();
    t.set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            arg_count(lua, &args, 1)?;
            let mut conf = c.lock();
            let mut v = conf.keep_buffer as i64;
            let r = enum_option(lua, &args, 1, &mut v, &["off", "on"])?;
            conf.keep_buffer = v != 0;
            Ok(r)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            arg_count(lua, &args, 1)?;
            let mut conf = c.lock();
            enum_option(
                lua,
                &args,
                1,
                &mut conf.encode_invalid_numbers,
                &["off", "on", "null"],
            )
        })?,
    )?;
    let c = cfg;
    t.set(
        "decode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            arg_count(lua, &args, 1)?;
            let mut conf = c.lock();
            let mut v = conf.decode_invalid_numbers as i64;
            let r = enum_option(lua, &args, 1, &mut v, &["off", "on"])?;
            conf.decode_invalid_numbers = v != 0;
            Ok(r)
        })?,
    )?;
    t.set("new", lua.create_function(|lua, ()| new_module(lua))?)?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `json_arg_init`: at most `max` arguments.
fn arg_count(lua: &Lua, args: &MultiValue, max: usize) -> mlua::Result<()> {
    if args.len() > max {
        return Err(arg_error(lua, max + 1, "found too many arguments"));
    }
    Ok(())
}

fn is_nil(args: &MultiValue, n: usize) -> bool {
    matches!(args.get(n - 1), None | Some(Value::Nil))
}

/// `json_integer_option`: sets from argument `n` when given (the range
/// error names argument #1 whatever `n` is, as lua-cjson does); returns
/// the setting.
fn integer_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
) -> mlua::Result<i64> {
    if !is_nil(args, n) {
        // lua-cjson keeps it in a C int.
        let v = check_integer(lua, args, n)? as i32 as i64;
        if v < min || v > max {
            return Err(arg_error(
                lua,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(*setting)
}

/// `json_enum_option`: a boolean or one of `options` by name; answers a
/// boolean for settings 0 and 1, else the option's name.
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut i64,
    options: &[&str],
) -> mlua::Result<Value> {
    if !is_nil(args, n) {
        match &args[n - 1] {
            Value::Boolean(b) => *setting = *b as i64,
            v @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
                let s = lua
                    .coerce_string(v.clone())?
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_default();
                match options.iter().position(|o| *o == s) {
                    Some(i) => *setting = i as i64,
                    None => {
                        return Err(arg_error(lua, n, &format!("invalid option '{s}'")));
                    }
                }
            }
            other => {
                let got = type_name(Some(other));
                return Err(arg_error(lua, n, &format!("string expected, got {got}")));
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

// ===== Encoding =====

/// lua-cjson's escape of byte `c` inside a string, if it has one.
fn escape(c: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match c {
        0..=31 => Some(CONTROL[c as usize]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match escape(c) {
            Some(e) => out.extend_from_slice(e),
            None => out.push(c),
        }
    }
    out.push(b'"');
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, n: f64) -> Result<(), String> {
    if !n.is_finite() {
        match cfg.encode_invalid_numbers {
            // (Redis's wording)
            0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
            // `nan` whatever its sign; infinities as printf writes them.
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    fmt_g(n, cfg.precision, out);
    Ok(())
}

/// A table being written.
enum Frame {
    Array {
        t: Table,
        len: usize,
        next: usize,
    },
    /// Walked with Lua's `next` from the last key written (holding every
    /// pair would pin a reference per key).
    Object {
        t: Table,
        key: Value,
        first: bool,
    },
}

impl Frame {
    /// Lua stack slots lua-cjson holds for this level while writing its
    /// elements (the value; or the key and the value).
    fn slots(&self) -> usize {
        match self {
            Frame::Array { .. } => 1,
            Frame::Object { .. } => 2,
        }
    }
}

fn encode(lua: &Lua, cfg: &Config, v: &Value) -> Result<Vec<u8>, String> {
    let next_fn = super::raw_next(lua).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Lua stack slots in use (the argument, then per level).
    let mut used = 1;
    let mut pending = Some(v.clone());
    loop {
        if let Some(v) = pending.take() {
            match v {
                Value::String(s) => append_string(&mut out, &s.as_bytes()),
                Value::Integer(_) | Value::Number(_) => {
                    append_number(cfg, &mut out, as_f64(&v).unwrap_or(0.0))?
                }
                Value::Boolean(b) => out.extend_from_slice(if b { &b"true"[..] } else { b"false" }),
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
                Value::Table(t) => {
                    let depth = stack.len() as i64 + 1;
                    if depth > cfg.encode_max_depth || used + 3 > MAX_C_STACK {
                        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
                    }
                    let frame = table_frame(cfg, t)?;
                    out.push(if matches!(frame, Frame::Array { .. }) {
                        b'['
                    } else {
                        b'{'
                    });
                    used += frame.slots();
                    stack.push(frame);
                }
                other => {
                    return Err(format!(
                        "Cannot serialise {}: type not supported",
                        type_name(Some(&other))
                    ));
                }
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(out);
        };
        match top {
            Frame::Array { t, len, next } => {
                if *next > *len {
                    out.push(b']');
                } else {
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(t.raw_get(*next).map_err(|e| e.to_string())?);
                    *next += 1;
                    continue;
                }
            }
            Frame::Object { t, key, first } => {
                let (k, v): (Value, Value) = next_fn
                    .call((t.clone(), std::mem::replace(key, Value::Nil)))
                    .map_err(|e| e.to_string())?;
                if k.is_nil() {
                    out.push(b'}');
                } else {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    *key = k.clone();
                    match &k {
                        Value::String(s) => {
                            append_string(&mut out, &s.as_bytes());
                            out.push(b':');
                        }
                        Value::Integer(_) | Value::Number(_) => {
                            out.push(b'"');
                            append_number(cfg, &mut out, as_f64(&k).unwrap_or(0.0))?;
                            out.extend_from_slice(b"\":");
                        }
                        other => {
                            return Err(format!(
                                "Cannot serialise {}: table key must be a number or string",
                                type_name(Some(other))
                            ));
                        }
                    }
                    pending = Some(v);
                    continue;
                }
            }
        }
        let done = stack.pop().expect("a frame");
        used -= done.slots();
    }
}

/// Decides whether `t` is written as an array (`lua_array_length`).
fn table_frame(cfg: &Config, t: Table) -> Result<Frame, String> {
    // lua-cjson keeps the largest index in a C int: a larger key turns
    // it into INT_MIN (x86's conversion), which makes an object.
    let mut max: i32 = 0;
    let mut count: i64 = 0;
    let mut array = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match as_f64(&k) {
            Some(f) if f != 0.0 && f.floor() == f && f >= 1.0 => {
                if f > max as f64 {
                    max = if f < 2_147_483_648.0 {
                        f as i32
                    } else {
                        i32::MIN
                    };
                }
                count += 1;
            }
            _ => {
                array = false;
                break;
            }
        }
    }
    if array {
        let max = max as i64;
        if cfg.sparse_ratio > 0 && max > count * cfg.sparse_ratio && max > cfg.sparse_safe {
            if !cfg.sparse_convert {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
        } else if max > 0 {
            return Ok(Frame::Array {
                t,
                len: max as usize,
                next: 1,
            });
        }
    }
    Ok(Frame::Object {
        t,
        key: Value::Nil,
        first: true,
    })
}

// ===== Decoding =====

#[derive(Debug)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// An error, with its description.
    Error(&'static str),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(e) => e,
        }
    }
}

struct Parser<'d> {
    data: &'d [u8],
    pos: usize,
    invalid_numbers: bool,
}

impl Parser<'_> {
    /// The byte at `i`; 0 past the end (C strings end with NUL).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// `json_is_invalid_number`: numbers strict JSON refuses (leading
    /// `+`, hex, leading zeros, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if self.at(p) <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).eq_ignore_ascii_case(&w[i]));
        word(b"inf") || word(b"nan")
    }

    /// The next token and the index where it starts (0-based).
    fn next(&mut self) -> (Token, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, start);
        }
        if c == 0 {
            return (Token::End, start);
        }
        if !matches!(
            c,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return (Token::Error("invalid token"), start);
        }
        if c == b'"' {
            return self.string();
        }
        if c == b'-' || c.is_ascii_digit() {
            if !self.invalid_numbers && self.is_invalid_number() {
                return (Token::Error("invalid number"), start);
            }
            return self.number();
        }
        let rest = &self.data[self.pos.min(self.data.len())..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            return (Token::Boolean(true), start);
        }
        if rest.starts_with(b"false") {
            self.pos += 5;
            return (Token::Boolean(false), start);
        }
        if rest.starts_with(b"null") {
            self.pos += 4;
            return (Token::Null, start);
        }
        if self.invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        (Token::Error("invalid token"), start)
    }

    fn number(&mut self) -> (Token, usize) {
        let start = self.pos;
        match strtod(self.data, self.pos) {
            Some((n, end)) => {
                self.pos = end;
                (Token::Number(n), start)
            }
            None => (Token::Error("invalid number"), start),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v * 16 + (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// `\uXXXX` (and a surrogate pair) at `pos`, as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let mut cp = self.hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return None;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        if cp <= 0x7F {
            out.push(cp as u8);
        } else if cp <= 0x7FF {
            out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
        } else if cp <= 0xFFFF {
            out.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        } else {
            out.extend_from_slice(&[
                (cp >> 18) as u8 | 0xF0,
                ((cp >> 12) & 0x3F) as u8 | 0x80,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        }
        self.pos += len;
        Some(())
    }

    fn string(&mut self) -> (Token, usize) {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return (Token::Error("unexpected end of string"), self.pos);
            }
            if c == b'\\' {
                let e = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut out).is_some() {
                            continue;
                        }
                        return (Token::Error("invalid unicode escape code"), self.pos);
                    }
                    _ => return (Token::Error("invalid escape code"), self.pos),
                };
                out.push(e);
                self.pos += 2;
                continue;
            }
            out.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        (Token::Str(out), start)
    }
}

fn parse_error(lua: &Lua, expected: &str, token: &Token, index: usize) -> mlua::Error {
    error(
        lua,
        format!(
            "Expected {expected} but found {} at character {}",
            token.name(),
            index + 1
        ),
    )
}

/// An open container while decoding.
enum Open {
    Array { t: Table, next: usize },
    Object { t: Table, key: Vec<u8> },
}

fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> mlua::Result<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(error(lua, "JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        data,
        pos: 0,
        invalid_numbers: cfg.decode_invalid_numbers,
    };
    let mut stack: Vec<Open> = Vec::new();
    // Lua stack slots lua-cjson would hold (the argument, then a table
    // per array and a table and a key per object).
    let mut used = 1;
    let mut tok = p.next();
    loop {
        // A value starts at `tok`.
        let mut value = match tok.0 {
            Token::Str(s) => Value::String(lua.create_string(&s)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => null(),
            Token::ObjBegin | Token::ArrBegin => {
                let is_obj = matches!(tok.0, Token::ObjBegin);
                let depth = stack.len() as i64 + 1;
                let slots = if is_obj { 3 } else { 2 };
                if depth > cfg.decode_max_depth || used + slots > MAX_C_STACK {
                    return Err(error(
                        lua,
                        format!(
                            "Found too many nested data structures ({depth}) at character {}",
                            p.pos
                        ),
                    ));
                }
                let t = lua.create_table()?;
                tok = p.next();
                if is_obj {
                    if matches!(tok.0, Token::ObjEnd) {
                        Value::Table(t)
                    } else {
                        let key = object_key(lua, &mut p, tok)?;
                        used += 2;
                        stack.push(Open::Object { t, key });
                        tok = p.next();
                        continue;
                    }
                } else if matches!(tok.0, Token::ArrEnd) {
                    Value::Table(t)
                } else {
                    used += 1;
                    stack.push(Open::Array { t, next: 1 });
                    continue;
                }
            }
            ref other => return Err(parse_error(lua, "value", other, tok.1)),
        };
        // Store the value in its container, closing those that end.
        loop {
            match stack.last_mut() {
                None => {
                    let end = p.next();
                    if !matches!(end.0, Token::End) {
                        return Err(parse_error(lua, "the end", &end.0, end.1));
                    }
                    return Ok(value);
                }
                Some(Open::Array { t, next }) => {
                    t.raw_set(*next, value)?;
                    *next += 1;
                    let after = p.next();
                    match after.0 {
                        Token::ArrEnd => {}
                        Token::Comma => {
                            tok = p.next();
                            break;
                        }
                        ref other => {
                            return Err(parse_error(lua, "comma or array end", other, after.1));
                        }
                    }
                }
                Some(Open::Object { t, key }) => {
                    t.raw_set(lua.create_string(&*key)?, value)?;
                    let after = p.next();
                    match after.0 {
                        Token::ObjEnd => {}
                        Token::Comma => {
                            let k = p.next();
                            *key = object_key(lua, &mut p, k)?;
                            tok = p.next();
                            break;
                        }
                        ref other => {
                            return Err(parse_error(lua, "comma or object end", other, after.1));
                        }
                    }
                }
            }
            // The container ended: it is the value for its parent.
            let closed = stack.pop().expect("an open container");
            let (t, slots) = match closed {
                Open::Array { t, .. } => (t, 1),
                Open::Object { t, .. } => (t, 2),
            };
            used -= slots;
            value = Value::Table(t);
        }
    }
}

/// An object's key token followed by its colon.
fn object_key(lua: &Lua, p: &mut Parser, tok: (Token, usize)) -> mlua::Result<Vec<u8>> {
    let Token::Str(key) = tok.0 else {
        return Err(parse_error(lua, "object key string", &tok.0, tok.1));
    };
    let colon = p.next();
    if !matches!(colon.0, Token::Colon) {
        return Err(parse_error(lua, "colon", &colon.0, colon.1));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(lua: &Lua, src: &str) -> Result<String, String> {
        let v: Value = lua.load(src).eval().unwrap();
        encode(lua, &Config::default(), &v).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn encodes_like_lua_cjson() {
        let lua = Lua::new();
        assert_eq!(enc(&lua, "{1,2,3}").unwrap(), "[1,2,3]");
        assert_eq!(enc(&lua, "{}").unwrap(), "{}");
        assert_eq!(enc(&lua, "{a='x/y'}").unwrap(), r#"{"a":"x\/y"}"#);
        assert_eq!(enc(&lua, "'\\1\\t\\127'").unwrap(), r#""\u0001\t\u007f""#);
        assert_eq!(enc(&lua, "0.1").unwrap(), "0.1");
        assert_eq!(enc(&lua, "{[1]=1,[3]=3}").unwrap(), "[1,null,3]");
        assert_eq!(
            enc(&lua, "{[1]=1,[30]=3}").unwrap_err(),
            "Cannot serialise table: excessively sparse array"
        );
        assert_eq!(
            enc(&lua, "local t = {} t[1] = t return t").unwrap_err(),
            "Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            enc(&lua, "1/0").unwrap_err(),
            "Cannot serialise number: must not be NaN or Inf"
        );
        assert_eq!(
            enc(&lua, "{print}").unwrap_err(),
            "Cannot serialise function: type not supported"
        );
    }

    fn dec(lua: &Lua, text: &str) -> Result<String, String> {
        let v = decode(lua, &Config::default(), text.as_bytes()).map_err(|e| match e {
            mlua::Error::RuntimeError(m) => m.trim_start_matches(super::super::PLAIN).to_string(),
            other => other.to_string(),
        })?;
        encode(lua, &Config::default(), &v).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn decodes_like_lua_cjson() {
        let lua = Lua::new();
        assert_eq!(
            dec(&lua, r#"[1, "a", {"b": [true, null]}]"#).unwrap(),
            r#"[1,"a",{"b":[true,null]}]"#
        );
        assert_eq!(dec(&lua, r#""\u00e9\ud83d\ude00""#).unwrap(), "\"é😀\"");
        assert_eq!(
            dec(&lua, "[1 2]").unwrap_err(),
            "Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            dec(&lua, "{\"a\" 1}").unwrap_err(),
            "Expected colon but found T_NUMBER at character 6"
        );
        assert_eq!(
            dec(&lua, "\"abc").unwrap_err(),
            "Expected value but found unexpected end of string at character 5"
        );
        assert_eq!(
            dec(&lua, "").unwrap_err(),
            "Expected value but found T_END at character 1"
        );
        assert_eq!(
            dec(&lua, &"[".repeat(1001)).unwrap_err(),
            "Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(dec(&lua, "0x10").unwrap(), "16");
    }
}

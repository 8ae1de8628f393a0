//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis 7.0 bundles it: `pack` (its
//! arguments one after another), `unpack`, `unpack_one`, `unpack_limit`.
//! Integral numbers become the smallest MessagePack integer, others a
//! float when exact else a double; tables with keys 1..n become arrays,
//! others maps (in Lua's iteration order); tables nested 16 deep, nil,
//! functions and userdata become nil.

use super::{arg_error, check_bytes, check_integer, error, raw_error};
use mlua::{Lua, MultiValue, Table, Value};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: usize = 16;
/// `LUAI_MAXCSTACK` of Lua 5.1.
const MAX_C_STACK: usize = 8000;

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// C's `(int64_t)n == n` on x86-64 (out-of-range conversions give
/// INT64_MIN, which equals only -2^63).
fn int64_equivalent(n: f64) -> Option<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (n.is_finite() && (-LIMIT..LIMIT).contains(&n) && (n as i64) as f64 == n).then_some(n as i64)
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if let Some(i) = int64_equivalent(n) {
        encode_int(out, i);
        return;
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `table_is_an_array`: only keys 1..n (C ints), no holes.
fn is_array(t: &Table) -> mlua::Result<Option<i64>> {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let Some(n) = as_f64(&k) else {
            return Ok(None);
        };
        let int_ok =
            n.is_finite() && n >= i32::MIN as f64 && n < 2_147_483_648.0 && (n as i32) as f64 == n;
        if n <= 0.0 || !int_ok {
            return Ok(None);
        }
        if n as i64 > max {
            max = n as i64;
        }
        count += 1;
    }
    Ok((max == count).then_some(count))
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => encode_number(out, as_f64(v).unwrap_or(0.0)),
        Value::Table(t) if level < MAX_NESTING => match is_array(t)? {
            Some(len) => {
                let len = len as u64;
                if len <= 15 {
                    out.push(0x90 | len as u8);
                } else if len <= 0xffff {
                    out.push(0xdc);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    out.push(0xdd);
                    out.extend_from_slice(&(len as u32).to_be_bytes());
                }
                for j in 1..=len {
                    let item: Value = t.raw_get(j)?;
                    encode(out, &item, level + 1)?;
                }
            }
            None => {
                // Counted, then walked again: holding the pairs would pin
                // a reference per key.
                let mut len: u64 = 0;
                for pair in t.pairs::<Value, Value>() {
                    pair?;
                    len += 1;
                }
                if len <= 15 {
                    out.push(0x80 | len as u8);
                } else if len <= 0xffff {
                    out.push(0xde);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    out.push(0xdf);
                    out.extend_from_slice(&(len as u32).to_be_bytes());
                }
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode(out, &k, level + 1)?;
                    encode(out, &v, level + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    if args.is_empty() {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    if args.len() > MAX_C_STACK {
        return Err(arg_error(
            lua,
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode(&mut out, v, 0)?;
    }
    lua.create_string(&out)
}

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Lua(e)
    }
}

/// A table being filled while decoding.
enum Open {
    Array {
        t: Table,
        len: usize,
        next: usize,
    },
    Map {
        t: Table,
        left: usize,
        key: Option<Value>,
    },
}

/// What one MessagePack item starts.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

struct Cursor<'d> {
    data: &'d [u8],
    pos: usize,
    /// `L->top - L->base` of lua-cmsgpack's C function: its limits are
    /// those of `luaL_checkstack`.
    top: usize,
}

fn stack_overflow(lua: &Lua, what: &str) -> Stop {
    Stop::Lua(error(lua, format!("stack overflow ({what})")))
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.data.len() - self.pos < n {
            Err(Stop::Eof)
        } else {
            Ok(())
        }
    }

    fn byte(&self, i: usize) -> u8 {
        self.data[self.pos + i]
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        (0..n).fold(0u64, |acc, i| (acc << 8) | self.byte(from + i) as u64)
    }

    /// Consumes `total` bytes after checking they are there; the big-endian
    /// number in bytes 1.. of them.
    fn fixed(&mut self, total: usize) -> Result<u64, Stop> {
        self.need(total)?;
        let v = self.be(1, total - 1);
        self.pos += total;
        Ok(v)
    }

    fn bytes(&mut self, lua: &Lua, header: usize, len: usize) -> Result<Item, Stop> {
        self.need(header + len)?;
        let s = lua.create_string(&self.data[self.pos + header..self.pos + header + len])?;
        self.pos += header + len;
        Ok(Item::Value(Value::String(s)))
    }

    /// Reads the next item: a whole scalar, or an array/map header.
    fn item(&mut self, lua: &Lua) -> Result<Item, Stop> {
        self.need(1)?;
        if self.top + 1 > MAX_C_STACK {
            return Err(stack_overflow(
                lua,
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let num = |n: f64| Ok(Item::Value(Value::Number(n)));
        let c = self.byte(0);
        match c {
            0xcc => num(self.fixed(2)? as f64),
            0xd0 => num(self.fixed(2)? as u8 as i8 as f64),
            0xcd => num(self.fixed(3)? as f64),
            0xd1 => num(self.fixed(3)? as u16 as i16 as f64),
            0xce => num(self.fixed(5)? as f64),
            0xd2 => num(self.fixed(5)? as u32 as i32 as f64),
            // (lua_pushunsigned of Lua 5.1's compatibility layer goes
            // through a signed lua_Integer)
            0xcf => num(self.fixed(9)? as i64 as f64),
            0xd3 => num(self.fixed(9)? as i64 as f64),
            0xc0 | 0xc2 | 0xc3 => {
                self.pos += 1;
                Ok(Item::Value(match c {
                    0xc0 => Value::Nil,
                    _ => Value::Boolean(c == 0xc3),
                }))
            }
            0xca => num(f32::from_bits(self.fixed(5)? as u32) as f64),
            0xcb => num(f64::from_bits(self.fixed(9)?)),
            0xd9..=0xdb => {
                let n = match c {
                    0xd9 => 1,
                    0xda => 2,
                    _ => 4,
                };
                self.need(1 + n)?;
                let l = self.be(1, n) as usize;
                self.bytes(lua, 1 + n, l)
            }
            0xdc..=0xdf => {
                let n = if c == 0xdc || c == 0xde { 2 } else { 4 };
                let l = self.fixed(1 + n)? as usize;
                Ok(if c <= 0xdd {
                    Item::Array(l)
                } else {
                    Item::Map(l)
                })
            }
            _ if c & 0x80 == 0 => {
                self.pos += 1;
                num(c as f64)
            }
            _ if c & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(c as i8 as f64)
            }
            _ if c & 0xe0 == 0xa0 => self.bytes(lua, 1, (c & 0x1f) as usize),
            _ if c & 0xf0 == 0x90 => {
                self.pos += 1;
                Ok(Item::Array((c & 0xf) as usize))
            }
            _ if c & 0xf0 == 0x80 => {
                self.pos += 1;
                Ok(Item::Map((c & 0xf) as usize))
            }
            _ => Err(Stop::BadFormat),
        }
    }

    /// One complete value (nested tables filled), without recursion.
    fn value(&mut self, lua: &Lua) -> Result<Value, Stop> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let mut value = match self.item(lua)? {
                Item::Value(v) => {
                    self.top += 1;
                    v
                }
                Item::Array(len) => {
                    let t = lua.create_table()?;
                    self.top += 1;
                    if self.top + 1 > MAX_C_STACK {
                        return Err(stack_overflow(lua, "in function mp_decode_to_lua_array"));
                    }
                    if len > 0 {
                        // The index pushed before each element.
                        self.top += 1;
                        open.push(Open::Array { t, len, next: 1 });
                        continue;
                    }
                    Value::Table(t)
                }
                Item::Map(len) => {
                    let t = lua.create_table()?;
                    self.top += 1;
                    if len > 0 {
                        open.push(Open::Map {
                            t,
                            left: len,
                            key: None,
                        });
                        continue;
                    }
                    Value::Table(t)
                }
            };
            // Store the value in its table, closing the tables it completes.
            loop {
                match open.last_mut() {
                    None => return Ok(value),
                    Some(Open::Array { t, len, next }) => {
                        t.raw_set(*next, value)?;
                        self.top -= 2;
                        if *next < *len {
                            *next += 1;
                            self.top += 1;
                            break;
                        }
                        // (complete: its table stays on the stack)
                    }
                    Some(Open::Map { t, left, key }) => match key.take() {
                        None => {
                            *key = Some(value);
                            break;
                        }
                        Some(k) => {
                            match &k {
                                Value::Nil => {
                                    return Err(Stop::Lua(raw_error("table index is nil")));
                                }
                                Value::Number(n) if n.is_nan() => {
                                    return Err(Stop::Lua(raw_error("table index is NaN")));
                                }
                                _ => {}
                            }
                            t.raw_set(k, value)?;
                            self.top -= 2;
                            *left -= 1;
                            if *left > 0 {
                                break;
                            }
                        }
                    },
                }
                value = match open.pop() {
                    Some(Open::Array { t, .. } | Open::Map { t, .. }) => Value::Table(t),
                    None => unreachable!("a table was open"),
                };
            }
        }
    }
}

/// `mp_unpack_full`: `limit` values (all when both are 0) from `offset`.
/// `base` is the number of arguments left on the stack.
fn unpack_full(
    lua: &Lua,
    data: &[u8],
    limit: i64,
    offset: i64,
    base: usize,
) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    let len = data.len();
    if offset < 0 || limit < 0 {
        return Err(error(
            lua,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(error(
            lua,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor {
        data,
        pos: offset as usize,
        top: base,
    };
    let mut values = Vec::new();
    while cur.pos < len && (values.len() as i64) < limit {
        match cur.value(lua) {
            Ok(v) => values.push(v),
            Err(Stop::Eof) => return Err(error(lua, "Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(error(lua, "Bad data format in input.")),
            Err(Stop::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        if cur.top + 1 > MAX_C_STACK {
            return Err(error(lua, "stack overflow (in function mp_unpack_full)"));
        }
        let next = if cur.pos == len { -1 } else { cur.pos as i64 };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(values.into_iter().collect())
}

fn opt_integer(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(0),
        Some(_) => check_integer(lua, args, n),
    }
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let data = check_bytes(lua, &args, 1)?;
            unpack_full(lua, &data, 0, 0, args.len())
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = opt_integer(lua, &args, 2)?;
            let data = check_bytes(lua, &args, 1)?;
            unpack_full(lua, &data, 1, offset, 1)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = check_integer(lua, &args, 2)?;
            let offset = opt_integer(lua, &args, 3)?;
            let data = check_bytes(lua, &args, 1)?;
            unpack_full(lua, &data, limit, offset, 1)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

//! Value conversions between Redis replies and Lua, as Redis 7.0 does them.
//!
//! A command called with `redis.call` writes its reply into a scratch
//! [`Reply`] (RESP2, or RESP3 after `redis.setresp(3)`); [`resp_to_lua`]
//! parses those bytes into Lua values. [`lua_to_reply`] writes a script's
//! return value into the client's reply buffer.

use crate::protocol::reply::{Reply, Resp};
use mlua::{Lua, Table, Value};

/// How deep a returned Lua table may nest before it is answered as an
/// error (a table containing itself would otherwise never end).
const MAX_DEPTH: usize = 1000;

/// A parsed reply: the Lua value, and whether the top level was an error
/// (its `{err=...}` table).
pub struct Parsed {
    pub value: Value,
    pub error: bool,
}

/// Parses one complete reply from `buf` (what a command just wrote).
pub fn resp_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<Parsed> {
    let mut pos = 0;
    let error = buf.first() == Some(&b'-');
    let value = parse(lua, buf, &mut pos)?;
    Ok(Parsed { value, error })
}

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> &'b [u8] {
    let start = *pos;
    let end = memchr::memmem::find(&buf[start..], b"\r\n")
        .map(|i| start + i)
        .unwrap_or(buf.len());
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn int_of(s: &[u8]) -> i64 {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

fn tagged(lua: &Lua, tag: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(tag, v)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let Some(&kind) = buf.get(*pos) else {
        return Ok(Value::Nil);
    };
    *pos += 1;
    let head = line(buf, pos);
    Ok(match kind {
        b':' => Value::Number(int_of(head) as f64),
        b'+' => tagged(lua, "ok", lua.create_string(head)?)?,
        b'-' => tagged(lua, "err", lua.create_string(head)?)?,
        b'$' | b'=' => {
            let n = int_of(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let start = *pos;
            let end = (start + n as usize).min(buf.len());
            *pos = (end + 2).min(buf.len());
            let body = &buf[start..end];
            if kind == b'=' {
                let (format, text) = if body.len() >= 4 {
                    (&body[..3], &body[4..])
                } else {
                    (&b""[..], body)
                };
                let t = lua.create_table()?;
                t.raw_set("format", lua.create_string(format)?)?;
                t.raw_set("string", lua.create_string(text)?)?;
                tagged(lua, "verbatim_string", t)?
            } else {
                Value::String(lua.create_string(body)?)
            }
        }
        b'*' | b'>' => {
            let n = int_of(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                let v = parse(lua, buf, pos)?;
                t.raw_set(i, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = int_of(head);
            let t = lua.create_table_with_capacity(0, n.max(0) as usize)?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                let v = parse(lua, buf, pos)?;
                if !k.is_nil() {
                    t.raw_set(k, v)?;
                }
            }
            tagged(lua, "map", t)?
        }
        b'~' => {
            let n = int_of(head);
            let t = lua.create_table_with_capacity(0, n.max(0) as usize)?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                if !k.is_nil() {
                    t.raw_set(k, true)?;
                }
            }
            tagged(lua, "set", t)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let f = match head {
                b"inf" => f64::INFINITY,
                b"-inf" => f64::NEG_INFINITY,
                b"nan" => f64::NAN,
                _ => std::str::from_utf8(head)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0.0),
            };
            tagged(lua, "double", f)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(head)?)?,
        _ => Value::Nil,
    })
}

/// A string field of a table, if it holds a string (or a number, which
/// Lua converts as `lua_tostring` does).
fn str_field(t: &Table, name: &str) -> Option<Vec<u8>> {
    match t.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Writes a script's return value (or an element of it) as Redis does.
pub fn lua_to_reply(lua: &Lua, v: &Value, out: &mut Reply) {
    write_value(lua, v, out, 0);
}

fn write_value(lua: &Lua, v: &Value, out: &mut Reply, depth: usize) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) => out.null(),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(truncate(*n)),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.err("ERR reached lua stack limit");
                return;
            }
            write_table(lua, t, out, depth);
        }
        _ => out.null(),
    }
}

/// A Lua number as Redis converts it to an integer reply (a C cast).
fn truncate(n: f64) -> i64 {
    if n.is_nan() { i64::MIN } else { n as i64 }
}

fn write_table(lua: &Lua, t: &Table, out: &mut Reply, depth: usize) {
    if let Some(e) = str_field(t, "err") {
        out.error(&e);
        return;
    }
    if let Some(s) = str_field(t, "ok") {
        out.simple(&s);
        return;
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        out.double(d);
        return;
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        out.double(d as f64);
        return;
    }
    if let Some(n) = str_field(t, "big_number") {
        match out.resp() {
            Resp::V2 => out.bulk(&n),
            Resp::V3 => out.raw(|b| {
                b.push(b'(');
                b.extend(
                    n.iter()
                        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
                );
                b.extend_from_slice(b"\r\n");
            }),
        }
        return;
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(lua, k, out, depth + 1);
            write_value(lua, v, out, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            write_value(lua, k, out, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string")
        && let (Some(format), Some(text)) = (str_field(&vs, "format"), str_field(&vs, "string"))
    {
        match out.resp() {
            Resp::V2 => out.bulk(&text),
            Resp::V3 => out.raw(|b| {
                b.push(b'=');
                b.extend_from_slice((text.len() + 4).to_string().as_bytes());
                b.extend_from_slice(b"\r\n");
                b.extend_from_slice(&format);
                b.push(b':');
                b.extend_from_slice(&text);
                b.extend_from_slice(b"\r\n");
            }),
        }
        return;
    }
    // An array up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(lua, v, out, depth + 1);
    }
}

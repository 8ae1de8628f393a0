//! `bit`: LuaBitOp 1.0.2's bit operations on 32-bit integers, as Redis
//! bundles it. Arguments are numbers reduced modulo 2^32 the way
//! LuaBitOp does it (adding 2^52 + 2^51 and keeping the low word, which
//! rounds fractions to even); results are signed 32-bit numbers.

use super::check_number;
use mlua::{Lua, MultiValue, Table};

/// LuaBitOp's `barg`: the low 32 bits of `x + 2^52 + 2^51`.
pub fn tobit(x: f64) -> i32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn arg(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<u32> {
    Ok(tobit(check_number(lua, args, n)?) as u32)
}

/// A result as Lua sees it.
fn out(b: u32) -> f64 {
    b as i32 as f64
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|lua, a: MultiValue| Ok(out(arg(lua, &a, 1)?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|lua, a: MultiValue| Ok(out(!arg(lua, &a, 1)?)))?,
    )?;
    t.set(
        "bswap",
        lua.create_function(|lua, a: MultiValue| Ok(out(arg(lua, &a, 1)?.swap_bytes())))?,
    )?;
    type Fold = fn(u32, u32) -> u32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                // LuaBitOp reads the first argument, then the rest from
                // the last one down.
                let mut acc = arg(lua, &a, 1)?;
                for i in (2..=a.len()).rev() {
                    acc = f(acc, arg(lua, &a, i)?);
                }
                Ok(out(acc))
            })?,
        )?;
    }
    let shifts: [(&str, Fold); 5] = [
        ("lshift", |b, n| b << (n & 31)),
        ("rshift", |b, n| b >> (n & 31)),
        ("arshift", |b, n| ((b as i32) >> (n & 31)) as u32),
        ("rol", |b, n| b.rotate_left(n & 31)),
        ("ror", |b, n| b.rotate_right(n & 31)),
    ];
    for (name, f) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let b = arg(lua, &a, 1)?;
                let n = arg(lua, &a, 2)?;
                Ok(out(f(b, n)))
            })?,
        )?;
    }
    t.set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let mut b = arg(lua, &a, 1)?;
            let mut n: i32 = if a.len() < 2 {
                8
            } else {
                arg(lua, &a, 2)? as i32
            };
            let mut digits = b"0123456789abcdef";
            if n == i32::MIN {
                n = i32::MIN + 1;
            }
            if n < 0 {
                n = -n;
                digits = b"0123456789ABCDEF";
            }
            let n = n.min(8) as usize;
            let mut buf = vec![0u8; n];
            for i in (0..n).rev() {
                buf[i] = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_and_rounds() {
        assert_eq!(tobit(0xffffffffu32 as f64), -1);
        assert_eq!(tobit(4294967296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(-2147483649.0), 2147483647);
    }
}

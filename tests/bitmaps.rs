//! Integration tests of the bitmap commands (SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD, BITFIELD_RO) over a running `ember-server`,
//! through the `redis` crate: property tests against simple in-memory
//! models, large strings, and the `proto-max-bulk-len` offset limit.

mod common;

use common::Server;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use redis::{Connection, Value};
use std::cell::RefCell;

fn setbit(c: &mut Connection, key: &str, offset: u64, on: bool) -> i64 {
    redis::cmd("SETBIT")
        .arg(key)
        .arg(offset)
        .arg(on as u8)
        .query(c)
        .expect("SETBIT")
}

fn getbit(c: &mut Connection, key: &str, offset: u64) -> i64 {
    redis::cmd("GETBIT")
        .arg(key)
        .arg(offset)
        .query(c)
        .expect("GETBIT")
}

fn get_bytes(c: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(c).expect("GET")
}

fn err_text(r: redis::RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// A bitmap model: bit `i` is bit `7 - i % 8` of byte `i / 8`.
#[derive(Default, Clone, Debug)]
struct Model {
    bits: Vec<bool>,
}

impl Model {
    fn set(&mut self, offset: usize, on: bool) -> bool {
        // The string grows a whole byte at a time.
        let need = (offset / 8 + 1) * 8;
        if self.bits.len() < need {
            self.bits.resize(need, false);
        }
        std::mem::replace(&mut self.bits[offset], on)
    }

    fn get(&self, offset: usize) -> bool {
        self.bits.get(offset).copied().unwrap_or(false)
    }

    fn bytes(&self) -> Vec<u8> {
        self.bits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | b as u8))
            .collect()
    }

    /// Resolves a Redis range over `total` units (None = empty).
    fn range(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
        let s = if start < 0 { start + total } else { start }.max(0);
        let e = if end < 0 { end + total } else { end }
            .max(0)
            .min(total - 1);
        (s <= e).then_some((s, e))
    }

    /// BITCOUNT key [start end [BIT]].
    fn count(&self, range: Option<(i64, i64, bool)>) -> i64 {
        let bits = |s: usize, e: usize| self.bits[s..=e].iter().filter(|&&b| b).count() as i64;
        let len = self.bits.len() as i64;
        match range {
            None => self.bits.iter().filter(|&&b| b).count() as i64,
            Some((start, end, in_bits)) => {
                if start < 0 && end < 0 && start > end {
                    return 0;
                }
                let total = if in_bits { len } else { len / 8 };
                match Self::range(start, end, total) {
                    None => 0,
                    Some((s, e)) if in_bits => bits(s as usize, e as usize),
                    Some((s, e)) => bits(s as usize * 8, e as usize * 8 + 7),
                }
            }
        }
    }

    /// BITPOS key bit [start [end [BIT]]], for an existing key.
    fn pos(&self, bit: bool, start: Option<i64>, end: Option<(i64, bool)>) -> i64 {
        let len = self.bits.len() as i64;
        let in_bits = end.is_some_and(|(_, b)| b);
        let total = if in_bits { len } else { len / 8 };
        let r = Self::range(start.unwrap_or(0), end.map_or(total - 1, |(e, _)| e), total);
        let Some((s, e)) = r else { return -1 };
        let (s, e) = if in_bits {
            (s as usize, e as usize)
        } else {
            (s as usize * 8, e as usize * 8 + 7)
        };
        match (s..=e).find(|&i| self.bits[i] == bit) {
            Some(i) => i as i64,
            None if !bit && end.is_none() => len,
            None => -1,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(u64, bool),
    Get(u64),
    Count(Option<(i64, i64, bool)>),
    Pos(bool, Option<i64>, Option<(i64, bool)>),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let small = -300i64..300;
    prop_oneof![
        4 => (0u64..2048, any::<bool>()).prop_map(|(o, b)| Op::Set(o, b)),
        2 => (0u64..2200).prop_map(Op::Get),
        2 => proptest::option::of((small.clone(), small.clone(), any::<bool>())).prop_map(Op::Count),
        2 => (
            any::<bool>(),
            proptest::option::of(small.clone()),
            proptest::option::of((small, any::<bool>())),
        )
            .prop_map(|(b, s, e)| Op::Pos(b, if e.is_some() { s.or(Some(0)) } else { s }, e)),
    ]
}

#[test]
fn bit_ops_match_a_vec_of_bools() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let conn = RefCell::new(server.client());
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op_strategy(), 1..60);
    runner
        .run(&strategy, |ops| {
            let c = &mut *conn.borrow_mut();
            let _: i64 = redis::cmd("DEL").arg("bm").query(c).unwrap();
            let mut model = Model::default();
            for op in &ops {
                match *op {
                    Op::Set(o, on) => {
                        let old = setbit(c, "bm", o, on);
                        prop_assert_eq!(old == 1, model.set(o as usize, on), "{:?}", op);
                    }
                    Op::Get(o) => {
                        prop_assert_eq!(getbit(c, "bm", o) == 1, model.get(o as usize));
                    }
                    Op::Count(range) => {
                        let mut cmd = redis::cmd("BITCOUNT");
                        cmd.arg("bm");
                        if let Some((s, e, in_bits)) = range {
                            cmd.arg(s).arg(e).arg(if in_bits { "BIT" } else { "BYTE" });
                        }
                        let n: i64 = cmd.query(c).unwrap();
                        let want = if model.bits.is_empty() {
                            0
                        } else {
                            model.count(range)
                        };
                        prop_assert_eq!(n, want, "{:?}", op);
                    }
                    Op::Pos(bit, start, end) => {
                        let mut cmd = redis::cmd("BITPOS");
                        cmd.arg("bm").arg(bit as u8);
                        if let Some(s) = start {
                            cmd.arg(s);
                        }
                        if let Some((e, in_bits)) = end {
                            cmd.arg(e).arg(if in_bits { "BIT" } else { "BYTE" });
                        }
                        let n: i64 = cmd.query(c).unwrap();
                        let want = if model.bits.is_empty() {
                            if bit { -1 } else { 0 }
                        } else {
                            model.pos(bit, start, end)
                        };
                        prop_assert_eq!(n, want, "{:?}", op);
                    }
                }
            }
            prop_assert_eq!(get_bytes(c, "bm").unwrap_or_default(), model.bytes());
            Ok(())
        })
        .unwrap();
}

#[test]
fn bitop_matches_bytewise_model() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let conn = RefCell::new(server.client());
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let inputs = proptest::collection::vec(
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        1..5,
    );
    runner
        .run(&inputs, |srcs| {
            let c = &mut *conn.borrow_mut();
            let keys: Vec<String> = (0..srcs.len()).map(|i| format!("src{i}")).collect();
            for (k, v) in keys.iter().zip(&srcs) {
                let _: i64 = redis::cmd("DEL").arg(k).query(c).unwrap();
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    let _: () = redis::cmd("SET").arg(k).arg(v.as_slice()).query(c).unwrap();
                }
            }
            let srcs: Vec<Vec<u8>> = srcs.into_iter().map(Option::unwrap_or_default).collect();
            let max = srcs.iter().map(Vec::len).max().unwrap_or(0);
            let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
            for op in ["AND", "OR", "XOR", "NOT"] {
                if op == "NOT" && srcs.len() != 1 {
                    continue;
                }
                let want: Vec<u8> = (0..max)
                    .map(|i| {
                        let mut it = srcs.iter().map(|s| byte(s, i));
                        let first = it.next().unwrap_or(0);
                        match op {
                            "AND" => it.fold(first, |a, b| a & b),
                            "OR" => it.fold(first, |a, b| a | b),
                            "XOR" => it.fold(first, |a, b| a ^ b),
                            _ => !first,
                        }
                    })
                    .collect();
                let n: i64 = redis::cmd("BITOP")
                    .arg(op)
                    .arg("dest")
                    .arg(&keys)
                    .query(c)
                    .unwrap();
                prop_assert_eq!(n as usize, max);
                let got = get_bytes(c, "dest");
                if max == 0 {
                    prop_assert_eq!(got, None);
                } else {
                    prop_assert_eq!(got, Some(want), "{}", op);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Reads field `(offset, bits)` of `p` bit by bit (zero past the end).
fn model_field(p: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let b = p
            .get((pos / 8) as usize)
            .map_or(0, |x| (x >> (7 - pos % 8)) & 1);
        v = (v << 1) | b as u64;
    }
    if signed && bits < 64 && v >> (bits - 1) & 1 == 1 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

fn model_write(p: &mut Vec<u8>, offset: u64, bits: u32, value: u64) {
    let need = ((offset + bits as u64 - 1) / 8 + 1) as usize;
    if p.len() < need {
        p.resize(need, 0);
    }
    for i in 0..bits as u64 {
        let pos = offset + i;
        let b = (value >> (bits as u64 - 1 - i)) & 1;
        let byte = &mut p[(pos / 8) as usize];
        *byte = (*byte & !(1 << (7 - pos % 8))) | ((b as u8) << (7 - pos % 8));
    }
}

#[test]
fn bitfield_matches_a_bitwise_model() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let conn = RefCell::new(server.client());
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    // (signed, bits, offset, value, is_incr, overflow 0=wrap 1=sat 2=fail)
    let op = (
        any::<bool>(),
        1u32..=64,
        0u64..200,
        any::<i64>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(|(s, b, o, v, inc, ow)| (s || b == 64, b, o, v, inc, ow));
    runner
        .run(&proptest::collection::vec(op, 1..20), |ops| {
            let c = &mut *conn.borrow_mut();
            let _: i64 = redis::cmd("DEL").arg("bf").query(c).unwrap();
            let mut model: Vec<u8> = Vec::new();
            for &(signed, bits, offset, value, incr, ow) in &ops {
                let ty = format!("{}{}", if signed { 'i' } else { 'u' }, bits);
                let value = if incr { value % 1000 } else { value };
                let reply: Vec<Option<i64>> = redis::cmd("BITFIELD")
                    .arg("bf")
                    .arg("OVERFLOW")
                    .arg(["WRAP", "SAT", "FAIL"][ow as usize])
                    .arg(if incr { "INCRBY" } else { "SET" })
                    .arg(&ty)
                    .arg(offset)
                    .arg(value)
                    .arg("GET")
                    .arg(&ty)
                    .arg(offset)
                    .query(c)
                    .unwrap();
                // Model: exact arithmetic, then the overflow policy.
                let old = model_field(&model, offset, bits, signed) as i128;
                let (min, max) = if signed {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                let target = if incr {
                    old + value as i128
                } else if signed {
                    value as i128
                } else {
                    value as u64 as i128
                };
                let new = if (min..=max).contains(&target) {
                    Some(target)
                } else {
                    match ow {
                        0 => {
                            let w = target.rem_euclid(1i128 << bits);
                            Some(if w > max { w - (1i128 << bits) } else { w })
                        }
                        1 => Some(if target > max { max } else { min }),
                        _ => None,
                    }
                };
                // The string is grown even when FAIL refuses the write.
                let same = model_field(&model, offset, bits, false) as u64;
                model_write(&mut model, offset, bits, same);
                if let Some(n) = new {
                    model_write(&mut model, offset, bits, n as u64);
                }
                let first = new.map(|n| if incr { n as i64 } else { old as i64 });
                prop_assert_eq!(reply[0], first, "{} {} {}", ty, offset, value);
                prop_assert_eq!(reply[1], Some(model_field(&model, offset, bits, signed)));
            }
            prop_assert_eq!(get_bytes(c, "bf").unwrap_or_default(), model.clone());
            let ro: Vec<i64> = redis::cmd("BITFIELD_RO")
                .arg("bf")
                .arg("GET")
                .arg("i64")
                .arg(0)
                .arg("GET")
                .arg("u7")
                .arg("#3")
                .query(c)
                .unwrap();
            prop_assert_eq!(
                ro,
                vec![
                    model_field(&model, 0, 64, true),
                    model_field(&model, 21, 7, false)
                ]
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn large_strings_count_and_search() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let c = &mut server.client();
    // 4 MB of a pattern with a known population count.
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let ones: u64 = data.iter().map(|b| b.count_ones() as u64).sum();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(data.as_slice())
        .query(c)
        .unwrap();
    let n: u64 = redis::cmd("BITCOUNT").arg("big").query(c).unwrap();
    assert_eq!(n, ones);
    let n: u64 = redis::cmd("BITCOUNT")
        .arg("big")
        .arg(3)
        .arg(-5)
        .arg("BIT")
        .query(c)
        .unwrap();
    let edge = |i: usize| data[i].count_ones() as u64;
    let want = ones - (data[0] >> 5).count_ones() as u64 - edge(data.len() - 1)
        + (data[data.len() - 1] >> 4).count_ones() as u64;
    assert_eq!(n, want);

    // A long run of zeros with one set bit near the end, and the converse.
    let len = 3usize << 20;
    let last = len as u64 * 8 - 3;
    assert_eq!(setbit(c, "sparse", last, true), 0);
    let pos: i64 = redis::cmd("BITPOS").arg("sparse").arg(1).query(c).unwrap();
    assert_eq!(pos, last as i64);
    let pos: i64 = redis::cmd("BITPOS")
        .arg("sparse")
        .arg(1)
        .arg(1)
        .arg(-2)
        .query(c)
        .unwrap();
    assert_eq!(pos, -1);
    let _: () = redis::cmd("SET")
        .arg("full")
        .arg(vec![0xffu8; len])
        .query(c)
        .unwrap();
    assert_eq!(setbit(c, "full", last, false), 1);
    let pos: i64 = redis::cmd("BITPOS").arg("full").arg(0).query(c).unwrap();
    assert_eq!(pos, last as i64);
    let n: u64 = redis::cmd("BITCOUNT").arg("full").query(c).unwrap();
    assert_eq!(n, len as u64 * 8 - 1);
    let n: i64 = redis::cmd("BITOP")
        .arg("NOT")
        .arg("inv")
        .arg("full")
        .query(c)
        .unwrap();
    assert_eq!(n, len as i64);
    let pos: i64 = redis::cmd("BITPOS").arg("inv").arg(1).query(c).unwrap();
    assert_eq!(pos, last as i64);
}

#[test]
fn offsets_are_limited_by_proto_max_bulk_len() {
    let Some(server) = Server::start(&["--proto-max-bulk-len", "1mb"]) else {
        return;
    };
    let c = &mut server.client();
    let limit = 8u64 << 20; // first bit of byte 1 MB
    assert_eq!(setbit(c, "k", limit - 1, true), 0);
    assert_eq!(get_bytes(c, "k").map(|v| v.len()), Some(1 << 20));
    let e = err_text(redis::cmd("SETBIT").arg("k").arg(limit).arg(1).query(c));
    assert!(
        e.contains("bit offset is not an integer or out of range"),
        "{e}"
    );
    let e = err_text(redis::cmd("GETBIT").arg("k").arg(limit).query(c));
    assert!(
        e.contains("bit offset is not an integer or out of range"),
        "{e}"
    );
    let e = err_text(
        redis::cmd("BITFIELD")
            .arg("k")
            .arg("GET")
            .arg("u8")
            .arg(limit)
            .query(c),
    );
    assert!(
        e.contains("bit offset is not an integer or out of range"),
        "{e}"
    );
    let e = err_text(
        redis::cmd("BITFIELD")
            .arg("k")
            .arg("GET")
            .arg("u8")
            .arg("#1048576")
            .query(c),
    );
    assert!(
        e.contains("bit offset is not an integer or out of range"),
        "{e}"
    );
    let v: Vec<i64> = redis::cmd("BITFIELD")
        .arg("k")
        .arg("GET")
        .arg("u8")
        .arg("#1048575")
        .query(c)
        .unwrap();
    assert_eq!(v, vec![1]);
}

#[test]
fn integer_values_become_bytes_when_written() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let c = &mut server.client();
    let _: () = redis::cmd("SET").arg("n").arg(12).query(c).unwrap();
    // "12" = 0x31 0x32; bit 7 is the low bit of '1'.
    assert_eq!(getbit(c, "n", 7), 1);
    assert_eq!(setbit(c, "n", 7, false), 1);
    assert_eq!(get_bytes(c, "n"), Some(b"02".to_vec()));
    assert_eq!(setbit(c, "n", 23, true), 0);
    assert_eq!(get_bytes(c, "n"), Some(b"02\x01".to_vec()));
    let _: () = redis::cmd("SET").arg("m").arg(-7).query(c).unwrap();
    let v: Vec<i64> = redis::cmd("BITFIELD")
        .arg("m")
        .arg("INCRBY")
        .arg("u8")
        .arg(8)
        .arg(1)
        .query(c)
        .unwrap();
    assert_eq!(v, vec![b'8' as i64]);
    assert_eq!(get_bytes(c, "m"), Some(b"-8".to_vec()));
}

//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO.
//!
//! Bits are numbered as Redis numbers them: bit 0 is the most significant
//! bit of the first byte. Reads treat the string as followed by an endless
//! run of zero bits; writes grow the string with zero bytes as far as
//! needed. A string kept as an integer (`int` encoding) is read through its
//! decimal text and turned into plain bytes (`raw`) by any write, as Redis
//! does when it "unshares" a value before modifying it.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, STRING};
use crate::storage::value::Value;
use crate::util::num::parse_i64;
use compact_bytes::CompactBytes;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "setbit",
        arity: 4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::BITMAP | acl::SLOW,
        keys: Keys::ONE,
        group: "bitmap",
        since: "2.2.0",
        summary: "Sets or clears one bit of a string, growing it when needed; returns the old bit.",
        handler: setbit,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "getbit",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::BITMAP | acl::FAST,
        keys: Keys::ONE,
        group: "bitmap",
        since: "2.2.0",
        summary: "Returns one bit of a string (0 past its end).",
        handler: getbit,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bitcount",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::BITMAP | acl::SLOW,
        keys: Keys::ONE,
        group: "bitmap",
        since: "2.6.0",
        summary: "Counts the set bits of a string, optionally in a byte or bit range.",
        handler: bitcount,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bitpos",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::BITMAP | acl::SLOW,
        keys: Keys::ONE,
        group: "bitmap",
        since: "2.8.7",
        summary: "Finds the first bit set to 0 or 1 in a string, optionally in a range.",
        handler: bitpos,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bitop",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::BITMAP | acl::SLOW,
        keys: Keys::Range {
            first: 2,
            last: -1,
            step: 1,
        },
        group: "bitmap",
        since: "2.6.0",
        summary: "Combines strings bit by bit (AND, OR, XOR, NOT) into a destination key.",
        handler: bitop,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bitfield",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::BITMAP | acl::SLOW,
        keys: Keys::ONE,
        group: "bitmap",
        since: "3.2.0",
        summary: "Reads, writes and increments integer fields of any width at any bit offset.",
        handler: bitfield,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bitfield_ro",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::BITMAP | acl::FAST,
        keys: Keys::ONE,
        group: "bitmap",
        since: "6.0.0",
        summary: "The read-only form of BITFIELD: GET operations only.",
        handler: bitfield_ro,
        ..CommandDef::DEFAULT
    },
];

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_ERR: &str = "ERR bit is not an integer or out of range";
const FIELD_TYPE_ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

// ---------------------------------------------------------------------------
// Access to string values

/// The bytes of a string value (an integer through its decimal text, written
/// into `buf`); `None` for any other type.
fn string_bytes<'a>(value: &'a Value, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
    match value {
        Value::Str(s) => Some(s.as_slice()),
        Value::Int(n) => Some(buf.format(*n).as_bytes()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The type check failed: the key holds something other than a string.
struct WrongType;

/// A string opened for modification.
struct Writable<'d> {
    bytes: &'d mut CompactBytes,
    /// The key did not exist and was created (already counted as a change).
    created: bool,
    /// The string had to be lengthened.
    grew: bool,
}

/// Opens the string at `key` for a bitmap write, creating it when missing
/// and zero-extending it to at least `min_len` bytes. An integer value is
/// turned into its text first; the value is marked `raw` as Redis does.
fn open_for_write<'d>(
    db: &'d mut Db,
    key: &[u8],
    min_len: usize,
) -> Result<Writable<'d>, WrongType> {
    // A write lookup, as Redis's: no keymiss event, no hit/miss counted.
    let created = match db.get_for_write(key) {
        None => true,
        Some(e) => match &e.value {
            Value::Str(_) | Value::Int(_) => false,
            #[allow(unreachable_patterns)]
            _ => return Err(WrongType),
        },
    };
    if created {
        // Counts as the command's one change (Redis bumps `dirty` for the
        // write itself; the creation is not counted separately).
        db.set(
            key,
            Value::Str(CompactBytes::from(vec![0u8; min_len])),
            false,
        );
    }
    let Some(entry) = db.peek(key) else {
        return Err(WrongType);
    };
    if let Value::Int(n) = entry.value {
        let mut buf = itoa::Buffer::new();
        entry.value = Value::Str(CompactBytes::new(buf.format(n).as_bytes()));
    }
    entry.raw = true;
    match &mut entry.value {
        Value::Str(bytes) => {
            let grew = grow_zeroed(bytes, min_len);
            Ok(Writable {
                bytes,
                created,
                grew,
            })
        }
        #[allow(unreachable_patterns)]
        _ => Err(WrongType),
    }
}

/// Zero-extends `s` to `len` bytes; true if it was shorter.
fn grow_zeroed(s: &mut CompactBytes, len: usize) -> bool {
    if s.len() >= len {
        return false;
    }
    let mut v = std::mem::take(s).into_vec();
    v.resize(len, 0);
    *s = CompactBytes::from(v);
    true
}

/// Parses a bit offset (SETBIT, GETBIT, BITFIELD). With `field_bits > 0` a
/// `#n` form means the n-th field of that width. Offsets are limited so the
/// byte they fall in stays below `proto-max-bulk-len`.
fn parse_offset(ctx: &mut Ctx, arg: &[u8], field_bits: u32) -> Option<u64> {
    let (by_field, digits) = match arg {
        [b'#', rest @ ..] if field_bits > 0 => (true, rest),
        _ => (false, arg),
    };
    let mut offset = parse_i64(digits);
    if by_field {
        offset = offset.map(|o| o.wrapping_mul(field_bits as i64));
    }
    let limit = ctx.client.settings.proto_max_bulk_len;
    match offset {
        Some(o) if o >= 0 && ((o as u64) >> 3) < limit => Some(o as u64),
        _ => {
            ctx.out.err(OFFSET_ERR);
            None
        }
    }
}

/// Parses an integer argument, answering the generic error on failure.
fn parse_int(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    let v = parse_i64(arg);
    if v.is_none() {
        ctx.not_integer();
    }
    v
}

// ---------------------------------------------------------------------------
// Bit scanning primitives

/// Number of set bits in `p`, a 64-bit word at a time.
fn popcount(p: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports the `popcnt` instruction (checked above).
        return unsafe { popcount_hw(p) };
    }
    popcount_words(p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn popcount_hw(p: &[u8]) -> u64 {
    popcount_words(p)
}

#[inline(always)]
fn popcount_words(p: &[u8]) -> u64 {
    let mut blocks = p.chunks_exact(32);
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for blk in &mut blocks {
        let w = |i: usize| u64::from_ne_bytes(blk[i..i + 8].try_into().unwrap_or_default());
        a += w(0).count_ones() as u64;
        b += w(8).count_ones() as u64;
        c += w(16).count_ones() as u64;
        d += w(24).count_ones() as u64;
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for wd in &mut words {
        a += u64::from_ne_bytes(wd.try_into().unwrap_or_default()).count_ones() as u64;
    }
    for &byte in words.remainder() {
        b += byte.count_ones() as u64;
    }
    a + b + c + d
}

/// Mask of the bits `from..=to` (0 = most significant) within one byte.
#[inline]
fn byte_mask(from: u64, to: u64) -> u8 {
    (0xffu8 >> from) & (0xffu8 << (7 - to))
}

/// Set bits among bits `first..=last` of `p` (both within `p`).
fn count_range(p: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    if fb == lb {
        return (p[fb] & byte_mask(first & 7, last & 7)).count_ones() as u64;
    }
    let head = (p[fb] & byte_mask(first & 7, 7)).count_ones() as u64;
    let tail = (p[lb] & byte_mask(0, last & 7)).count_ones() as u64;
    head + popcount(&p[fb + 1..lb]) + tail
}

/// Position of the first bit equal to `bit` among bits `first..=last` of
/// `p` (both within `p`).
fn find_in_range(p: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip: u8 = if bit { 0 } else { 0xff };
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let at = |byte: usize, m: u8| -> Option<u64> {
        let x = (p[byte] ^ flip) & m;
        (x != 0).then(|| byte as u64 * 8 + x.leading_zeros() as u64)
    };
    if fb == lb {
        return at(fb, byte_mask(first & 7, last & 7));
    }
    if let Some(pos) = at(fb, byte_mask(first & 7, 7)) {
        return Some(pos);
    }
    let middle = &p[fb + 1..lb];
    if let Some(i) = first_differing_byte(middle, flip) {
        let x = middle[i] ^ flip;
        return Some((fb + 1 + i) as u64 * 8 + x.leading_zeros() as u64);
    }
    at(lb, byte_mask(0, last & 7))
}

/// Index of the first byte of `p` different from `skip`, comparing whole
/// 64-bit words while they match.
fn first_differing_byte(p: &[u8], skip: u8) -> Option<usize> {
    let pattern = u64::from_ne_bytes([skip; 8]);
    let mut words = p.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        if u64::from_ne_bytes(w.try_into().unwrap_or_default()) != pattern {
            break;
        }
        base += 8;
    }
    p[base..].iter().position(|&b| b != skip).map(|i| base + i)
}

/// Resolves a Redis range (negative = from the end, clamped to the string)
/// over `total` units; `None` when empty.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start <= end).then_some((start, end))
}

/// Parses a BYTE|BIT unit argument: `Some(true)` for BIT.
fn parse_unit(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Some(false)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// SETBIT / GETBIT

fn setbit(ctx: &mut Ctx, args: &Args) {
    let Some(offset) = parse_offset(ctx, args.get(2), 0) else {
        return;
    };
    let on = match parse_i64(args.get(3)) {
        Some(v @ (0 | 1)) => v == 1,
        _ => {
            ctx.out.err(BIT_ERR);
            return;
        }
    };
    let key = args.get(1);
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7);
    let (old, changed, created) = match open_for_write(ctx.db, key, byte + 1) {
        Err(WrongType) => return ctx.wrong_type(),
        Ok(w) => {
            let cell = &mut w.bytes[byte];
            let old = (*cell >> shift) & 1 == 1;
            if on {
                *cell |= 1 << shift;
            } else {
                *cell &= !(1 << shift);
            }
            (old, !w.created && (w.grew || old != on), w.created)
        }
    };
    if changed {
        ctx.db.touched(key);
    }
    if changed || created {
        ctx.notify(STRING, "setbit", key);
    }
    ctx.out.int(old as i64);
}

fn getbit(ctx: &mut Ctx, args: &Args) {
    let Some(offset) = parse_offset(ctx, args.get(2), 0) else {
        return;
    };
    let mut buf = itoa::Buffer::new();
    let bit = match ctx.db.get(args.get(1)) {
        None => 0,
        Some(e) => match string_bytes(&e.value, &mut buf) {
            None => return ctx.wrong_type(),
            Some(p) => p
                .get((offset >> 3) as usize)
                .map_or(0, |b| (b >> (7 - (offset & 7))) & 1),
        },
    };
    ctx.out.int(bit as i64);
}

// ---------------------------------------------------------------------------
// BITCOUNT / BITPOS

fn bitcount(ctx: &mut Ctx, args: &Args) {
    let mut buf = itoa::Buffer::new();
    let Some(entry) = ctx.db.get(args.get(1)) else {
        ctx.out.int(0);
        return;
    };
    let Some(p) = string_bytes(&entry.value, &mut buf) else {
        return ctx.wrong_type();
    };
    let (first, last) = match args.len() {
        2 => {
            if p.is_empty() {
                ctx.out.int(0);
                return;
            }
            (0, p.len() as u64 * 8 - 1)
        }
        4 | 5 => {
            let Some(start) = parse_i64(args.get(2)) else {
                return ctx.not_integer();
            };
            let Some(end) = parse_i64(args.get(3)) else {
                return ctx.not_integer();
            };
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return;
            }
            let in_bits = if args.len() == 5 {
                match parse_unit(args.get(4)) {
                    Some(b) => b,
                    None => return ctx.syntax_error(),
                }
            } else {
                false
            };
            let len = p.len() as i64;
            let total = if in_bits { len * 8 } else { len };
            match clamp_range(start, end, total) {
                None => {
                    ctx.out.int(0);
                    return;
                }
                Some((s, e)) if in_bits => (s as u64, e as u64),
                Some((s, e)) => (s as u64 * 8, e as u64 * 8 + 7),
            }
        }
        _ => return ctx.syntax_error(),
    };
    let n = count_range(p, first, last);
    ctx.out.int(n as i64);
}

fn bitpos(ctx: &mut Ctx, args: &Args) {
    let bit = match parse_i64(args.get(2)) {
        None => return ctx.not_integer(),
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => {
            ctx.out.err("ERR The bit argument must be 1 or 0.");
            return;
        }
    };
    let mut buf = itoa::Buffer::new();
    let Some(entry) = ctx.db.get(args.get(1)) else {
        // A missing key is an endless run of zeros.
        ctx.out.int(if bit { -1 } else { 0 });
        return;
    };
    let Some(p) = string_bytes(&entry.value, &mut buf) else {
        return ctx.wrong_type();
    };
    let len = p.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => clamp_range(0, len - 1, len).map(|(s, e)| (s as u64 * 8, e as u64 * 8 + 7)),
        4..=6 => {
            let Some(start) = parse_i64(args.get(3)) else {
                return ctx.not_integer();
            };
            let in_bits = if args.len() == 6 {
                match parse_unit(args.get(5)) {
                    Some(b) => b,
                    None => return ctx.syntax_error(),
                }
            } else {
                false
            };
            let total = if in_bits { len * 8 } else { len };
            let end = if args.len() >= 5 {
                end_given = true;
                match parse_i64(args.get(4)) {
                    Some(e) => e,
                    None => return ctx.not_integer(),
                }
            } else {
                total - 1
            };
            match clamp_range(start, end, total) {
                Some((s, e)) if in_bits => Some((s as u64, e as u64)),
                Some((s, e)) => Some((s as u64 * 8, e as u64 * 8 + 7)),
                None => None,
            }
        }
        _ => return ctx.syntax_error(),
    };
    let pos = match range {
        // An empty range holds neither a 0 nor a 1.
        None => -1,
        Some((first, last)) => match find_in_range(p, bit, first, last) {
            Some(pos) => pos as i64,
            // Without an explicit end, the string continues with zeros.
            None if !bit && !end_given => len * 8,
            None => -1,
        },
    };
    ctx.out.int(pos);
}

// ---------------------------------------------------------------------------
// BITOP

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, args: &Args) {
    let name = args.get(1);
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return ctx.syntax_error();
    };
    if op == BitOp::Not && args.len() != 4 {
        ctx.out
            .err("ERR BITOP NOT must be called with a single source key.");
        return;
    }
    let mut res: Vec<u8> = Vec::new();
    let mut buf = itoa::Buffer::new();
    for j in 3..args.len() {
        let src: &[u8] = match ctx.db.get(args.get(j)) {
            None => &[],
            Some(e) => match string_bytes(&e.value, &mut buf) {
                Some(p) => p,
                None => return ctx.wrong_type(),
            },
        };
        if j == 3 {
            res.extend_from_slice(src);
            if op == BitOp::Not {
                res.iter_mut().for_each(|b| *b = !*b);
            }
            continue;
        }
        let common = res.len().min(src.len());
        match op {
            BitOp::And => {
                for (r, s) in res[..common].iter_mut().zip(&src[..common]) {
                    *r &= s;
                }
                res[common..].fill(0);
                res.resize(res.len().max(src.len()), 0);
            }
            BitOp::Or => {
                for (r, s) in res[..common].iter_mut().zip(&src[..common]) {
                    *r |= s;
                }
                res.extend_from_slice(&src[common..]);
            }
            BitOp::Xor => {
                for (r, s) in res[..common].iter_mut().zip(&src[..common]) {
                    *r ^= s;
                }
                res.extend_from_slice(&src[common..]);
            }
            BitOp::Not => {}
        }
    }
    let dest = args.get(2);
    let len = res.len();
    if len > 0 {
        ctx.db.set(dest, Value::Str(CompactBytes::from(res)), false);
        if let Some(e) = ctx.db.peek(dest) {
            e.raw = true;
        }
        ctx.notify(STRING, "set", dest);
    } else if ctx.db.remove_stored(dest) {
        ctx.notify(GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
}

// ---------------------------------------------------------------------------
// BITFIELD / BITFIELD_RO

/// What to do when an INCRBY or SET does not fit the field.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET value or INCRBY increment.
    value: i64,
    overflow: Overflow,
}

/// Parses `i<n>` (1..=64) or `u<n>` (1..=63).
fn parse_field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let (signed, max) = match arg.first()? {
        b'i' => (true, 64),
        b'u' => (false, 63),
        _ => return None,
    };
    match parse_i64(&arg[1..]) {
        Some(n) if (1..=max).contains(&n) => Some((signed, n as u32)),
        _ => None,
    }
}

/// Reads the `bits`-wide field at bit `offset` as an unsigned number; bytes
/// past the end of `p` read as zero.
fn read_field(p: &[u8], offset: u64, bits: u32) -> u64 {
    let byte = (offset >> 3) as usize;
    let mut window = [0u8; 16];
    if byte < p.len() {
        let n = (p.len() - byte).min(9);
        window[..n].copy_from_slice(&p[byte..byte + n]);
    }
    let x = u128::from_be_bytes(window) << (offset & 7);
    (x >> (128 - bits)) as u64
}

/// Writes the low `bits` bits of `value` at bit `offset`; the field lies
/// within `p`.
fn write_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = (offset >> 3) as usize;
    let n = (p.len() - byte).min(9);
    let mut window = [0u8; 16];
    window[..n].copy_from_slice(&p[byte..byte + n]);
    let shift = 128 - bits - (offset & 7) as u32;
    let ones = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mask = (ones as u128) << shift;
    let x = (u128::from_be_bytes(window) & !mask) | (((value & ones) as u128) << shift);
    p[byte..byte + n].copy_from_slice(&x.to_be_bytes()[..n]);
}

/// Sign-extends a `bits`-wide two's complement field.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// The value to store for `value + incr` in a field of the given width and
/// signedness, or `None` when it does not fit and the policy is FAIL.
fn fit_field(value: i128, incr: i128, signed: bool, bits: u32, overflow: Overflow) -> Option<i128> {
    let (min, max) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    // An unsigned SET value above the maximum overflows "upwards" whatever
    // the increment, as in Redis.
    let sum = value + incr;
    let high = value > max || sum > max;
    let low = !high && sum < min;
    if !high && !low {
        return Some(sum);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if high { max } else { min }),
        Overflow::Wrap => {
            let wrapped = sum.rem_euclid(1i128 << bits);
            Some(if signed && wrapped > max {
                wrapped - (1i128 << bits)
            } else {
                wrapped
            })
        }
    }
}

fn bitfield(ctx: &mut Ctx, args: &Args) {
    bitfield_generic(ctx, args, false);
}

fn bitfield_ro(ctx: &mut Ctx, args: &Args) {
    bitfield_generic(ctx, args, true);
}

/// Parses every operation; `None` after answering an error.
fn parse_fields(ctx: &mut Ctx, args: &Args) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let name = args.get(j);
        let op = if name.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            FieldOp::Get
        } else if name.eq_ignore_ascii_case(b"set") && remaining >= 3 {
            FieldOp::Set
        } else if name.eq_ignore_ascii_case(b"incrby") && remaining >= 3 {
            FieldOp::IncrBy
        } else if name.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            let kind = args.get(j + 1);
            overflow = if kind.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if kind.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if kind.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                ctx.out.err("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            ctx.syntax_error();
            return None;
        };
        let Some((signed, bits)) = parse_field_type(args.get(j + 1)) else {
            ctx.out.err(FIELD_TYPE_ERR);
            return None;
        };
        let offset = parse_offset(ctx, args.get(j + 2), bits)?;
        let value = if op == FieldOp::Get {
            0
        } else {
            parse_int(ctx, args.get(j + 3))?
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Some(fields)
}

fn bitfield_generic(ctx: &mut Ctx, args: &Args, read_only: bool) {
    let Some(fields) = parse_fields(ctx, args) else {
        return;
    };
    let key = args.get(1);
    let writes = fields.iter().filter(|f| f.op != FieldOp::Get).count();
    if writes == 0 {
        let mut buf = itoa::Buffer::new();
        let p: &[u8] = match ctx.db.get(key) {
            None => &[],
            Some(e) => match string_bytes(&e.value, &mut buf) {
                Some(p) => p,
                None => return ctx.wrong_type(),
            },
        };
        ctx.out.array(fields.len());
        for f in &fields {
            let raw = read_field(p, f.offset, f.bits);
            ctx.out.int(if f.signed {
                sign_extend(raw, f.bits)
            } else {
                raw as i64
            });
        }
        return;
    }
    if read_only {
        ctx.out
            .err("ERR BITFIELD_RO only supports the GET subcommand");
        return;
    }
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let before = ctx.db.dirty;
    let mut changes = 0u64;
    let created = match open_for_write(ctx.db, key, (highest >> 3) as usize + 1) {
        Err(WrongType) => return ctx.wrong_type(),
        Ok(w) => {
            let p: &mut [u8] = w.bytes;
            // Redis counts an op that wrote when the lookup created or
            // grew the string, or when the field's value changed.
            let grown = w.created || w.grew;
            ctx.out.array(fields.len());
            for f in &fields {
                let raw = read_field(p, f.offset, f.bits);
                let old = if f.signed {
                    sign_extend(raw, f.bits) as i128
                } else {
                    raw as i128
                };
                match f.op {
                    FieldOp::Get => ctx.out.int(old as i64),
                    FieldOp::Set | FieldOp::IncrBy => {
                        // An unsigned SET takes the value's 64-bit pattern.
                        let (base, incr) = match (f.op, f.signed) {
                            (FieldOp::IncrBy, _) => (old, f.value as i128),
                            (_, true) => (f.value as i128, 0),
                            (_, false) => (f.value as u64 as i128, 0),
                        };
                        match fit_field(base, incr, f.signed, f.bits, f.overflow) {
                            None => ctx.out.null(),
                            Some(new) => {
                                write_field(p, f.offset, f.bits, new as u64);
                                if grown || new != old {
                                    changes += 1;
                                }
                                let reply = if f.op == FieldOp::Set { old } else { new };
                                ctx.out.int(reply as i64);
                            }
                        }
                    }
                }
            }
            w.created
        }
    };
    // Changes as counted above (an op failed by OVERFLOW FAIL never counts);
    // creating or growing the key alone counts nothing.
    if changes > 0 {
        if !created {
            ctx.db.touched(key);
        }
        ctx.notify(STRING, "setbit", key);
    }
    ctx.db.dirty = before + changes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_matches_naive() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 37 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 31, 32, 33, 100, 1000] {
            let naive: u64 = data[..len].iter().map(|b| b.count_ones() as u64).sum();
            assert_eq!(popcount(&data[..len]), naive);
        }
    }

    #[test]
    fn ranges_count_and_find() {
        let p = [0xffu8, 0xf0, 0x00, 0x81];
        assert_eq!(count_range(&p, 0, 31), 14);
        assert_eq!(count_range(&p, 4, 11), 8);
        assert_eq!(count_range(&p, 9, 10), 2);
        assert_eq!(find_in_range(&p, false, 0, 31), Some(12));
        assert_eq!(find_in_range(&p, true, 12, 31), Some(24));
        assert_eq!(find_in_range(&p, true, 25, 30), None);
        assert_eq!(find_in_range(&p, true, 25, 31), Some(31));
        let long = [0u8; 40];
        assert_eq!(find_in_range(&long, true, 0, 319), None);
        assert_eq!(find_in_range(&long, false, 3, 319), Some(3));
    }

    #[test]
    fn fields_round_trip() {
        let mut p = [0u8; 10];
        write_field(&mut p, 3, 64, 0x8123_4567_89ab_cdef);
        assert_eq!(read_field(&p, 3, 64), 0x8123_4567_89ab_cdef);
        assert_eq!(read_field(&p, 3, 1), 1);
        write_field(&mut p, 0, 3, 0b101);
        assert_eq!(read_field(&p, 0, 3), 0b101);
        assert_eq!(read_field(&p, 3, 64), 0x8123_4567_89ab_cdef);
        assert_eq!(sign_extend(0b101, 3), -3);
        assert_eq!(read_field(&[0xff], 4, 8), 0xf0);
    }

    #[test]
    fn overflow_policies() {
        assert_eq!(fit_field(100, 100, true, 8, Overflow::Wrap), Some(-56));
        assert_eq!(fit_field(100, 100, true, 8, Overflow::Sat), Some(127));
        assert_eq!(fit_field(100, 100, true, 8, Overflow::Fail), None);
        assert_eq!(fit_field(-100, -100, true, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            fit_field(u64::MAX as i128, 0, false, 8, Overflow::Wrap),
            Some(255)
        );
        assert_eq!(
            fit_field(u64::MAX as i128, 0, false, 8, Overflow::Sat),
            Some(255)
        );
        assert_eq!(fit_field(3, -5, false, 8, Overflow::Sat), Some(0));
        assert_eq!(fit_field(3, -5, false, 8, Overflow::Wrap), Some(254));
        let min = i64::MIN as i128;
        assert_eq!(
            fit_field(min, -1, true, 64, Overflow::Wrap),
            Some(i64::MAX as i128)
        );
    }
}

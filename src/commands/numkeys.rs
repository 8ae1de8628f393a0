//! The `numkeys key [key …]` argument forms shared by several families
//! (LMPOP/BLMPOP, ZMPOP/BZMPOP, the ZUNION/ZINTER/ZDIFF family,
//! ZINTERCARD, SINTERCARD): where the keys are, for the dispatcher's
//! locking, and the `numkeys key… WHERE [COUNT n]` tail of the
//! multi-key pops.

use super::Args;
use crate::util::num::parse_i64;
use std::ops::Range;

/// Key finder for `numkeys` at `at` with the keys right after it. Finds
/// nothing when `numkeys` is not a positive integer or runs past the
/// arguments: the handler then answers the error without touching keys.
pub fn keys_at(args: &Args, at: usize, out: &mut Vec<usize>) {
    if at < args.len()
        && let Some(n) = parse_i64(args.get(at))
        && n >= 1
        && n as u64 <= (args.len() - at - 1) as u64
    {
        out.extend(at + 1..at + 1 + n as usize);
    }
}

/// `numkeys` at 1 (LMPOP, ZMPOP, ZUNION, ZINTER, ZDIFF, ZINTERCARD,
/// SINTERCARD).
pub fn keys_at_1(args: &Args, out: &mut Vec<usize>) {
    keys_at(args, 1, out)
}

/// `numkeys` at 2, after a timeout (BLMPOP, BZMPOP).
pub fn keys_at_2(args: &Args, out: &mut Vec<usize>) {
    keys_at(args, 2, out)
}

/// The destination at 1, `numkeys` at 2 (the `…STORE` forms).
pub fn store_keys(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    keys_at(args, 2, out)
}

/// A parsed `numkeys key… WHERE [COUNT n]`.
pub struct MultiPop<W> {
    /// Argument indexes of the keys.
    pub keys: Range<usize>,
    /// The end or order to pop from (LEFT/RIGHT, MIN/MAX).
    pub from: W,
    /// `COUNT` (1 when absent).
    pub count: usize,
}

/// Parses the multi-pop tail with `numkeys` at `at`; `from` reads the
/// WHERE word. Errors are Redis's, in Redis's order: numkeys, the WHERE
/// word, then COUNT.
pub fn multi_pop<W>(
    args: &Args,
    at: usize,
    from: impl Fn(&[u8]) -> Option<W>,
) -> Result<MultiPop<W>, &'static str> {
    let numkeys = match parse_i64(args.get(at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_at = (at as u64).saturating_add(numkeys).saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err("ERR syntax error");
    }
    let where_at = where_at as usize;
    let from = from(args.get(where_at)).ok_or("ERR syntax error")?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args.get(j).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err("ERR count should be greater than 0"),
            }
        } else {
            return Err("ERR syntax error");
        }
        j += 1;
    }
    Ok(MultiPop {
        keys: at + 1..where_at,
        from,
        count: count.unwrap_or(1),
    })
}

//! Float formatting and `long double` arithmetic exactly as Redis 7.0 does
//! them.
//!
//! - [`fmt_double`]: the text of double replies (`ZSCORE`, `ZINCRBY`,
//!   `ZRANGE ... WITHSCORES`, RESP3 doubles), which is C's `%.17g`.
//! - [`incr_by_float`] / [`hincr_by_float`]: `INCRBYFLOAT` and
//!   `HINCRBYFLOAT`, computed in C `long double` (x87 80-bit on x86-64) by a
//!   small C shim (`longdouble.c`) and printed with `%.17Lf`, trailing zeros
//!   removed; this is why `0.1 + 0.2` answers `0.3` there.
//! - [`parse_long_double_ok`] and [`parse_timeout_secs_to_ms`]: `strtold`
//!   acceptance rules used for float timeouts (`BLPOP k 0.1`).

use std::io::Write as _;

/// Appends the reply text Redis 7.0 uses for a double: `%.17g` (17
/// significant digits, trailing zeros dropped, exponent form below 1e-4 and
/// from 1e17 up), `inf` / `-inf` for infinities, `-0` for negative zero.
///
/// Examples: `3.14` gives `3.1400000000000001`, `1e21` gives `1e+21`,
/// `1e16` gives `10000000000000000`, `1e-5` gives `1.0000000000000001e-05`.
/// NaN (which Redis never stores) gives `nan`.
pub fn fmt_double(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // Rust's `{:.16e}` rounds the exact binary value to 17 significant
    // digits, ties to even, as glibc's printf does: "d.dddddddddddddddde<exp>".
    let mut buf = [0u8; 40];
    let len = {
        let mut cursor = &mut buf[..];
        write!(cursor, "{:.16e}", f.abs()).expect("40 bytes hold any f64");
        40 - cursor.len()
    };
    let text = &buf[..len];
    let e_pos = text.iter().position(|&c| c == b'e').expect("exponent");
    let exp: i32 = std::str::from_utf8(&text[e_pos + 1..])
        .expect("ascii")
        .parse()
        .expect("integer exponent");
    // The 17 significant digits, without the point.
    let mut digits = [0u8; 17];
    digits[0] = text[0];
    digits[1..].copy_from_slice(&text[2..e_pos]);
    let mut ndigits = 17;
    while ndigits > 1 && digits[ndigits - 1] == b'0' {
        ndigits -= 1;
    }
    let digits = &digits[..ndigits];

    if f.is_sign_negative() {
        out.push(b'-');
    }
    if !(-4..17).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(abs).as_bytes());
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-exp - 1) as usize, b'0');
        out.extend_from_slice(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            out.resize(out.len() + int_len - digits.len(), b'0');
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

/// Why an `INCRBYFLOAT` / `HINCRBYFLOAT` could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value does not parse as a long double.
    InvalidCurrent,
    /// The increment argument does not parse as a long double.
    InvalidIncrement,
    /// `HINCRBYFLOAT` only: the increment itself is infinite.
    IncrementNotFinite,
    /// The sum is NaN or infinite.
    ResultNotFinite,
}

impl IncrFloatError {
    /// Error text for `INCRBYFLOAT`, without the `ERR ` prefix.
    pub fn incrbyfloat_message(self) -> &'static str {
        match self {
            IncrFloatError::InvalidCurrent | IncrFloatError::InvalidIncrement => {
                "value is not a valid float"
            }
            // Not produced by `incr_by_float`; kept total for safety.
            IncrFloatError::IncrementNotFinite | IncrFloatError::ResultNotFinite => {
                "increment would produce NaN or Infinity"
            }
        }
    }

    /// Error text for `HINCRBYFLOAT`, without the `ERR ` prefix.
    pub fn hincrbyfloat_message(self) -> &'static str {
        match self {
            IncrFloatError::InvalidCurrent => "hash value is not a float",
            IncrFloatError::InvalidIncrement => "value is not a valid float",
            IncrFloatError::IncrementNotFinite => "value is NaN or Infinity",
            IncrFloatError::ResultNotFinite => "increment would produce NaN or Infinity",
        }
    }
}

unsafe extern "C" {
    fn ember_ld_incr(
        current: *const u8,
        current_len: usize,
        incr: *const u8,
        incr_len: usize,
        check_incr_first: libc::c_int,
        out: *mut u8,
        out_cap: usize,
        out_len: *mut usize,
    ) -> libc::c_int;
    fn ember_ld_parse_as_double(s: *const u8, len: usize, out: *mut f64) -> libc::c_int;
    fn ember_ld_seconds_to_ms(s: *const u8, len: usize, out: *mut libc::c_longlong) -> libc::c_int;
}

/// Room for any `%.17Lf` of a finite long double (about 4950 characters)
/// plus the terminating NUL; Redis uses the same 5 KiB bound.
const LD_TEXT_CAP: usize = 5 * 1024;

fn ld_incr(current: Option<&[u8]>, incr: &[u8], hash: bool) -> Result<Vec<u8>, IncrFloatError> {
    let mut out = [0u8; LD_TEXT_CAP];
    let mut out_len = 0usize;
    let (cur_ptr, cur_len) = match current {
        Some(c) => (c.as_ptr(), c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer/length pair describes a live slice (or is null
    // with length 0 for a missing current value, which the shim checks);
    // the shim writes at most `out.len()` bytes into `out`.
    let status = unsafe {
        ember_ld_incr(
            cur_ptr,
            cur_len,
            incr.as_ptr(),
            incr.len(),
            libc::c_int::from(hash),
            out.as_mut_ptr(),
            out.len(),
            &mut out_len,
        )
    };
    match status {
        0 => Ok(out[..out_len].to_vec()),
        1 => Err(IncrFloatError::InvalidCurrent),
        2 => Err(IncrFloatError::InvalidIncrement),
        3 => Err(IncrFloatError::IncrementNotFinite),
        // 5 (no room) cannot happen for finite values with this capacity.
        _ => Err(IncrFloatError::ResultNotFinite),
    }
}

/// `INCRBYFLOAT`: parses `current` (the stored string; pass `b"0"` for a
/// missing key) and `incr` as C `long double`, adds them and returns the sum
/// formatted as Redis does (`%.17Lf`, trailing zeros and point removed,
/// never `-0`).
///
/// Parsing follows Redis's `string2ld`: `strtold` over the whole text, no
/// leading blank, fewer than 5120 bytes, no overflow or underflow to zero,
/// not NaN; `inf` parses but then makes the sum infinite. The current value
/// is checked before the increment.
///
/// Examples: `10.50` + `0.1` = `10.6`; `3.0e3` + `2.0e2` = `3200`;
/// `0.1` + `0.2` = `0.3`; `1e308` + `1e308` is a 309-digit integer
/// (the sum is finite in long double).
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    ld_incr(Some(current), incr, false)
}

/// `HINCRBYFLOAT`: like [`incr_by_float`] with the hash command's order of
/// checks and errors: the increment is parsed first and must not be
/// infinite ([`IncrFloatError::IncrementNotFinite`]), then the field's
/// current value (`None` for a missing field, meaning 0) is parsed.
pub fn hincr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    ld_incr(current, incr, true)
}

/// Parses `s` with Redis's `string2ld` rules (see [`incr_by_float`]) and
/// returns the value rounded to `f64`. Values beyond the f64 range but
/// inside long double's (`1e400`) come back as infinities, tiny ones as 0.
pub fn parse_long_double_ok(s: &[u8]) -> Option<f64> {
    let mut out = 0.0f64;
    // SAFETY: `s` is a live slice and `out` a valid f64 location.
    let ok = unsafe { ember_ld_parse_as_double(s.as_ptr(), s.len(), &mut out) };
    (ok == 1).then_some(out)
}

/// A timeout given in seconds (`BLPOP k 0.1`) converted to milliseconds as
/// Redis 7.0 does: parsed with [`parse_long_double_ok`]'s rules, then
/// `(long long)(seconds * 1000.0)` in long double, truncated toward zero.
/// Products outside the `i64` range give `i64::MIN` (so the caller reports
/// "timeout is negative", as Redis does for `1e400` or `inf`).
///
/// `None` means the text is not acceptable ("timeout is not a float or out
/// of range"); a negative result is for the caller to reject.
pub fn parse_timeout_secs_to_ms(s: &[u8]) -> Option<i64> {
    let mut out: libc::c_longlong = 0;
    // SAFETY: `s` is a live slice and `out` a valid long long location.
    let ok = unsafe { ember_ld_seconds_to_ms(s.as_ptr(), s.len(), &mut out) };
    (ok == 1).then_some(out)
}

#[cfg(test)]
// 3.14 is a value users type, not an approximation of pi.
#[allow(clippy::approx_constant)]
mod tests {
    use super::*;
    use crate::util::oracle::{RedisOracle, Reply};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    fn fmt(f: f64) -> String {
        let mut out = Vec::new();
        fmt_double(f, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// glibc `snprintf("%.17g")`, the reference Redis uses.
    fn printf_17g(f: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is large enough for any %.17g and NUL-terminated
        // by snprintf; the format takes exactly one double.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), f) };
        String::from_utf8(buf[..n as usize].to_vec()).unwrap()
    }

    #[test]
    fn fmt_double_known_values() {
        let cases: &[(f64, &str)] = &[
            (3.14, "3.1400000000000001"),
            (1e21, "1e+21"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.1, "0.10000000000000001"),
            (1e-4, "0.0001"),
            (1e-5, "1.0000000000000001e-05"),
            (1.5e-3, "0.0015"),
            (-1.5, "-1.5"),
            (1.0, "1"),
            (16.0, "16"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e308, "1e+308"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (4e-320, "3.999955468730732e-320"),
            (1e-320, "9.9998886718268301e-321"),
            (1e100, "1e+100"),
        ];
        for (f, want) in cases {
            assert_eq!(fmt(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn fmt_double_appends() {
        let mut out = b"x=".to_vec();
        fmt_double(2.5, &mut out);
        assert_eq!(out, b"x=2.5");
    }

    fn tie_values() -> impl Strategy<Value = f64> {
        // k + j/16 with a 14-digit k has 18 significant digits ending in 5:
        // an exact tie at the 17th digit, which must round half to even.
        (10_000_000_000_000u64..99_999_999_999_999, 0u32..16)
            .prop_map(|(k, j)| k as f64 + f64::from(j) / 16.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn fmt_double_matches_printf(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(!f.is_nan());
            prop_assert_eq!(fmt(f), printf_17g(f));
        }

        #[test]
        fn fmt_double_matches_printf_on_ties(f in tie_values()) {
            prop_assert_eq!(fmt(f), printf_17g(f));
            prop_assert_eq!(fmt(-f / 1024.0), printf_17g(-f / 1024.0));
        }

        #[test]
        fn fmt_double_matches_printf_on_decimals(m in -1_000_000i64..1_000_000, e in -30i32..30) {
            let f: f64 = format!("{m}e{e}").parse().unwrap();
            prop_assert_eq!(fmt(f), printf_17g(f));
        }
    }

    #[test]
    fn incr_by_float_examples() {
        let ok = |cur: &str, inc: &str| {
            String::from_utf8(incr_by_float(cur.as_bytes(), inc.as_bytes()).unwrap()).unwrap()
        };
        assert_eq!(ok("10.50", "0.1"), "10.6");
        assert_eq!(ok("10.6", "5.0e3"), "5010.60000000000000009");
        assert_eq!(ok("3.0e3", "2.0e2"), "3200");
        assert_eq!(ok("0.1", "0.2"), "0.3");
        assert_eq!(ok("0", "-0"), "0");
        assert_eq!(ok("-0", "0"), "0");
        assert_eq!(ok("5", "-5"), "0");
        assert_eq!(ok("1", "-1.5"), "-0.5");
        assert_eq!(ok("0x10", "0x1p2"), "20");
        assert_eq!(ok("007", "1"), "8");
        assert_eq!(ok("2", "+1"), "3");
        assert_eq!(ok("1e17", "1"), "100000000000000001");
        assert_eq!(ok("1e21", "0"), "1000000000000000000000");
        assert_eq!(ok("9223372036854775807", "1"), "9223372036854775808");
        assert_eq!(ok("1.23456789012345678", "0"), "1.23456789012345678");
        assert_eq!(ok("1", "1e-400"), "1");
        assert_eq!(ok("-1", "0.0000000000000000001"), "-1");
        let big = ok("1e308", "1e308");
        assert_eq!(big.len(), 309);
        assert!(big.starts_with("19999999999999999999337175931169129"));
    }

    #[test]
    fn incr_by_float_errors() {
        use IncrFloatError::*;
        let err = |cur: &[u8], inc: &[u8]| incr_by_float(cur, inc).unwrap_err();
        assert_eq!(err(b"1", b"abc"), InvalidIncrement);
        assert_eq!(err(b"1", b" 1"), InvalidIncrement);
        assert_eq!(err(b"1", b"1 "), InvalidIncrement);
        assert_eq!(err(b"1", b""), InvalidIncrement);
        assert_eq!(err(b"1", b"nan"), InvalidIncrement);
        assert_eq!(err(b"1", b"1e-5000"), InvalidIncrement);
        assert_eq!(err(b"1", b"1e5000"), InvalidIncrement);
        assert_eq!(err(b"1", b"1\0"), InvalidIncrement);
        assert_eq!(err(b" 1", b"1"), InvalidCurrent);
        assert_eq!(err(b"", b"1"), InvalidCurrent);
        assert_eq!(err(b"abc", b"inf"), InvalidCurrent);
        assert_eq!(err(b"1", b"inf"), ResultNotFinite);
        assert_eq!(err(b"inf", b"1"), ResultNotFinite);
        assert_eq!(err(b"inf", b"-inf"), ResultNotFinite);
        assert_eq!(err(b"1e4932", b"1e4932"), ResultNotFinite);
        // Operands of 5120 bytes or more are refused outright.
        let long_ok = format!("1.{}", "0".repeat(5117));
        assert_eq!(long_ok.len(), 5119);
        assert_eq!(incr_by_float(long_ok.as_bytes(), b"1").unwrap(), b"2");
        let too_long = format!("{long_ok}0");
        assert_eq!(err(too_long.as_bytes(), b"1"), InvalidCurrent);
        assert_eq!(
            InvalidCurrent.incrbyfloat_message(),
            "value is not a valid float"
        );
        assert_eq!(
            ResultNotFinite.incrbyfloat_message(),
            "increment would produce NaN or Infinity"
        );
    }

    #[test]
    fn hincr_by_float_order_of_checks() {
        use IncrFloatError::*;
        assert_eq!(hincr_by_float(None, b"1.5").unwrap(), b"1.5");
        assert_eq!(hincr_by_float(Some(b"1"), b"0.1").unwrap(), b"1.1");
        assert_eq!(
            hincr_by_float(Some(b"abc"), b"inf"),
            Err(IncrementNotFinite)
        );
        assert_eq!(
            hincr_by_float(Some(b"abc"), b"-inf"),
            Err(IncrementNotFinite)
        );
        assert_eq!(hincr_by_float(Some(b"abc"), b"nan"), Err(InvalidIncrement));
        assert_eq!(hincr_by_float(Some(b"abc"), b"1"), Err(InvalidCurrent));
        assert_eq!(hincr_by_float(Some(b"inf"), b"1"), Err(ResultNotFinite));
        assert_eq!(
            InvalidCurrent.hincrbyfloat_message(),
            "hash value is not a float"
        );
        assert_eq!(
            IncrementNotFinite.hincrbyfloat_message(),
            "value is NaN or Infinity"
        );
    }

    #[test]
    fn long_double_parse_and_timeouts() {
        assert_eq!(parse_long_double_ok(b"0.1"), Some(0.1));
        assert_eq!(parse_long_double_ok(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_long_double_ok(b"1e-400"), Some(0.0));
        assert_eq!(parse_long_double_ok(b"0x1p-3"), Some(0.125));
        assert_eq!(parse_long_double_ok(b" 1"), None);
        assert_eq!(parse_long_double_ok(b"nan"), None);
        assert_eq!(parse_long_double_ok(b"1e4933"), None);
        assert_eq!(parse_timeout_secs_to_ms(b"0.1"), Some(100));
        assert_eq!(parse_timeout_secs_to_ms(b"1.5"), Some(1500));
        assert_eq!(parse_timeout_secs_to_ms(b"-0.0001"), Some(0));
        assert_eq!(parse_timeout_secs_to_ms(b"-1"), Some(-1000));
        assert_eq!(parse_timeout_secs_to_ms(b"1e-400"), Some(0));
        assert_eq!(parse_timeout_secs_to_ms(b"inf"), Some(i64::MIN));
        assert_eq!(parse_timeout_secs_to_ms(b"1e400"), Some(i64::MIN));
        assert_eq!(parse_timeout_secs_to_ms(b"9.3e15"), Some(i64::MIN));
        assert_eq!(
            parse_timeout_secs_to_ms(b"9.2e15"),
            Some(9_200_000_000_000_000_000)
        );
        assert_eq!(parse_timeout_secs_to_ms(b" 1"), None);
        assert_eq!(parse_timeout_secs_to_ms(b"1e4933"), None);
    }

    fn text(reply: Reply) -> Vec<u8> {
        match reply {
            Reply::Text(t) => t,
            other => panic!("expected text, got {other:?}"),
        }
    }

    /// Random doubles through `ZADD`/`ZSCORE` (RESP2 and RESP3) and a table
    /// of `INCRBYFLOAT`/`HINCRBYFLOAT` cases, compared with redis-server.
    #[test]
    fn differential_against_redis_server() {
        let Some(mut redis) = RedisOracle::start() else {
            return;
        };
        // Skiplist encoding keeps the double as is (listpack turns -0 to 0).
        redis
            .command(&[b"CONFIG", b"SET", b"zset-max-listpack-entries", b"0"])
            .unwrap();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut values: Vec<f64> = vec![3.14, 1e21, 1e17, 1e16, -0.0, 0.1, 1e-5, 5e-324, f64::MAX];
        let strategy = any::<u64>().prop_map(f64::from_bits);
        while values.len() < 1500 {
            let f = strategy.new_tree(&mut runner).unwrap().current();
            if !f.is_nan() {
                values.push(f);
            }
        }
        let ties = tie_values();
        for _ in 0..200 {
            values.push(ties.new_tree(&mut runner).unwrap().current());
        }
        for (i, f) in values.iter().enumerate() {
            let member = i.to_string();
            let score = format!("{f:e}");
            redis
                .command(&[b"ZADD", b"z", score.as_bytes(), member.as_bytes()])
                .unwrap();
            let theirs = redis
                .command(&[b"ZSCORE", b"z", member.as_bytes()])
                .unwrap();
            assert_eq!(fmt(*f), String::from_utf8(theirs).unwrap(), "{f:e}");
        }
        // RESP3 doubles carry the same text.
        redis.call(&[b"HELLO", b"3"]);
        for (i, f) in values.iter().enumerate().take(200) {
            let theirs = text(redis.call(&[b"ZSCORE", b"z", i.to_string().as_bytes()]));
            assert_eq!(fmt(*f).into_bytes(), theirs);
        }
        redis.call(&[b"HELLO", b"2"]);

        let long_ok = format!("1.{}", "0".repeat(5117));
        let too_long = format!("{long_ok}0");
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b"10.50", b"0.1"),
            (b"10.6", b"5.0e3"),
            (b"3.0e3", b"2.0e2"),
            (b"1", b"1e400"),
            (b"1", b"abc"),
            (b"1", b" 1"),
            (b"1", b"1 "),
            (b"1e308", b"1e308"),
            (b"0.1", b"0.2"),
            (b"0", b"-0"),
            (b"-0", b"0"),
            (b"1", b"inf"),
            (b"inf", b"1"),
            (b"abc", b"inf"),
            (b"1", b"nan"),
            (b"0x10", b"0x1p2"),
            (b"007", b"1"),
            (b"1e4000", b"1"),
            (b"1", b"1e-4940"),
            (b"1", b"1e-5000"),
            (b"1e4932", b"1e4932"),
            (b"1e17", b"1"),
            (b"1.23456789012345678", b"0"),
            (b"-1", b"0.0000000000000000001"),
            (b"9223372036854775807", b"1"),
            (b"", b"1"),
            (b"1", b""),
            (b"1", b"1\0abc"),
            (b"2.5", b"-2.5"),
            (b"-3.75", b"1.25"),
            (b"1", long_ok.as_bytes()),
            (b"1", too_long.as_bytes()),
            (b"123.456", b"-0.000001"),
            (b"1e-10", b"1e-10"),
        ];
        for (cur, inc) in &pairs {
            redis.command(&[b"SET", b"k", cur]).unwrap();
            let theirs = redis.command(&[b"INCRBYFLOAT", b"k", inc]);
            let ours =
                incr_by_float(cur, inc).map_err(|e| format!("ERR {}", e.incrbyfloat_message()));
            assert_eq!(ours, theirs, "INCRBYFLOAT {cur:?} + {inc:?}");

            redis.command(&[b"DEL", b"h"]).unwrap();
            redis.command(&[b"HSET", b"h", b"f", cur]).unwrap();
            let theirs = redis.command(&[b"HINCRBYFLOAT", b"h", b"f", inc]);
            let ours = hincr_by_float(Some(cur), inc)
                .map_err(|e| format!("ERR {}", e.hincrbyfloat_message()));
            assert_eq!(ours, theirs, "HINCRBYFLOAT {cur:?} + {inc:?}");

            let theirs = redis.command(&[b"HINCRBYFLOAT", b"h", b"missing", inc]);
            let ours =
                hincr_by_float(None, inc).map_err(|e| format!("ERR {}", e.hincrbyfloat_message()));
            assert_eq!(ours, theirs, "HINCRBYFLOAT missing + {inc:?}");
        }

        // Float timeouts: BLPOP on a list that has an element returns at once
        // for any acceptable timeout; errors tell the parse outcome apart.
        for t in [
            &b"0.1"[..],
            b" 1",
            b"1e400",
            b"1e-400",
            b"inf",
            b"-1",
            b"-0.0001",
            b"0x1p-3",
            b"nan",
            b"1e4933",
            b"9.3e15",
            b"9.2e15",
        ] {
            redis.command(&[b"RPUSH", b"L", b"a"]).unwrap();
            let theirs = redis.call(&[b"BLPOP", b"L", t]);
            let ours = parse_timeout_secs_to_ms(t);
            match (ours, theirs) {
                (None, Reply::Error(e)) => assert!(e.contains("not a float or out of range")),
                (Some(ms), Reply::Error(e)) => {
                    assert!(ms < 0 && e.contains("negative"), "{t:?}: {ms} {e}")
                }
                (Some(ms), Reply::Array(_)) => assert!(ms >= 0, "{t:?}: {ms}"),
                (o, r) => panic!("{t:?}: ours {o:?}, redis {r:?}"),
            }
            redis.command(&[b"DEL", b"L"]).unwrap();
        }
    }
}

//! Stored directive values: parsing user text into a [`Value`] with Redis's
//! validation rules and error wording, and formatting a value back for
//! CONFIG GET and CONFIG REWRITE.

use super::OutputLimit;
use super::directives::{Directive, Kind, NumFormat};

/// The current value of one directive.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i128),
    Str(Option<Vec<u8>>),
    Enum(u32),
    Save(Vec<(u64, u64)>),
    Bind(Vec<String>),
    ReplicaOf(Option<(String, u16)>),
    Cobl([OutputLimit; 3]),
    Oom([i32; 3]),
    Events(u32),
    Percentiles(Vec<f64>),
    Dir(String),
}

pub(crate) use crate::util::num::parse_i64 as parse_strict_i64;

/// C `strtoll` base 10: skips leading white space, accepts a sign, saturates
/// on overflow. Returns the value and whether the whole input was consumed
/// (an input with no digits counts as consumed only if it is empty).
pub(crate) fn c_strtoll(s: &[u8]) -> (i64, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + i128::from(s[i] - b'0')).min(1 << 64);
        i += 1;
    }
    if i == start {
        return (0, s.is_empty());
    }
    let v = if neg { -v } else { v };
    let v = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    (v, i == s.len())
}

/// Redis's memory value parser: digits followed by an optional unit
/// (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`, any case). Overflow of the digits
/// saturates and the unit multiplication wraps, as in Redis.
pub(crate) fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = s[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits > 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[..digits] {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .unwrap_or(u64::MAX);
    }
    Some(v.wrapping_mul(mul))
}

/// Bytes written with the largest exact unit, as CONFIG REWRITE does.
pub(crate) fn format_memory_units(bytes: i128) -> String {
    const K: i128 = 1024;
    if bytes != 0 && bytes % (K * K * K) == 0 {
        format!("{}gb", bytes / (K * K * K))
    } else if bytes != 0 && bytes % (K * K) == 0 {
        format!("{}mb", bytes / (K * K))
    } else if bytes != 0 && bytes % K == 0 {
        format!("{}kb", bytes / K)
    } else {
        bytes.to_string()
    }
}

const EV_KEYSPACE: u32 = 1 << 0;
const EV_KEYEVENT: u32 = 1 << 1;
/// Event classes in the order CONFIG GET lists them; `A` covers the first ten.
const EVENT_CLASSES: &[(u8, u32)] = &[
    (b'g', 1 << 2),
    (b'$', 1 << 3),
    (b'l', 1 << 4),
    (b's', 1 << 5),
    (b'h', 1 << 6),
    (b'z', 1 << 7),
    (b'x', 1 << 8),
    (b'e', 1 << 9),
    (b't', 1 << 10),
    (b'd', 1 << 11),
    (b'n', 1 << 12),
];
const EV_MISS: u32 = 1 << 13;
const EV_ALL: u32 = ((1 << 12) - 1) & !(EV_KEYSPACE | EV_KEYEVENT);

/// Parse `notify-keyspace-events` letters into flag bits.
pub(crate) fn parse_events(s: &[u8]) -> Result<u32, String> {
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => EV_ALL,
            b'K' => EV_KEYSPACE,
            b'E' => EV_KEYEVENT,
            b'm' => EV_MISS,
            _ => match EVENT_CLASSES.iter().find(|(l, _)| *l == c) {
                Some((_, bit)) => *bit,
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
        };
    }
    Ok(flags)
}

/// Event flag bits back to letters, in Redis's canonical order.
pub(crate) fn format_events(flags: u32) -> String {
    let mut out = String::new();
    if flags & EV_ALL == EV_ALL {
        out.push('A');
    } else {
        for (letter, bit) in EVENT_CLASSES {
            if flags & bit != 0 {
                out.push(*letter as char);
            }
        }
    }
    if flags & EV_KEYSPACE != 0 {
        out.push('K');
    }
    if flags & EV_KEYEVENT != 0 {
        out.push('E');
    }
    if flags & EV_MISS != 0 {
        out.push('m');
    }
    out
}

/// `%f` with trailing zeros (and a bare dot) removed.
pub(crate) fn format_percentile(v: f64) -> String {
    let s = format!("{v:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn parse_c_double(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return None;
    }
    text.parse::<f64>().ok()
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

fn enum_list(words: &[(&str, u32)]) -> String {
    let names: Vec<&str> = words.iter().map(|(n, _)| *n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// Parse the arguments of one directive (already split for multi-argument
/// directives) into a value. `current` is the value being replaced, used by
/// directives that update only part of their value. Errors are Redis's
/// reason text.
pub(crate) fn parse(dir: &Directive, args: &[Vec<u8>], current: &Value) -> Result<Value, String> {
    let single = || -> &[u8] { args.first().map(Vec::as_slice).unwrap_or(b"") };
    match dir.kind {
        Kind::Bool => match single().to_ascii_lowercase().as_slice() {
            b"yes" => Ok(Value::Bool(true)),
            b"no" => Ok(Value::Bool(false)),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int { min, max, fmt } => {
            let s = single();
            let unsigned = max > i128::from(i64::MAX);
            let v: i128 = match fmt {
                NumFormat::Plain => match parse_strict_i64(s) {
                    Some(v) if unsigned => i128::from(v as u64),
                    Some(v) => i128::from(v),
                    None => return Err("argument couldn't be parsed into an integer".into()),
                },
                NumFormat::Memory => match parse_memory(s) {
                    Some(v) if unsigned => i128::from(v),
                    Some(v) => i128::from(v as i64),
                    None => return Err("argument must be a memory value".into()),
                },
                NumFormat::MemoryPercent => {
                    if let Some(pct) = s.strip_suffix(b"%") {
                        match parse_strict_i64(pct) {
                            Some(p) if p >= 0 => {
                                if p > 100 {
                                    return Err(
                                        "percentage argument must be less or equal to 100".into()
                                    );
                                }
                                -i128::from(p)
                            }
                            _ => return Err("argument must be a memory or percent value".into()),
                        }
                    } else {
                        match parse_memory(s) {
                            Some(v) => i128::from(v as i64),
                            None => return Err("argument must be a memory or percent value".into()),
                        }
                    }
                }
                NumFormat::Octal => {
                    let ok = !s.is_empty() && s.iter().all(|c| (b'0'..=b'7').contains(c));
                    match ok.then(|| i64::from_str_radix(&lossy(s), 8).ok()).flatten() {
                        Some(v) => i128::from(v),
                        None => return Err("argument couldn't be parsed as an octal number".into()),
                    }
                }
            };
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Int(v))
        }
        Kind::Str {
            null_if_empty,
            check,
        } => {
            let s = single();
            if let Some(check) = check {
                check(s)?;
            }
            if s.is_empty() && null_if_empty {
                Ok(Value::Str(None))
            } else {
                Ok(Value::Str(Some(s.to_vec())))
            }
        }
        Kind::Enum { words, flags } => {
            let find = |w: &[u8]| {
                words
                    .iter()
                    .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(w))
                    .map(|(_, v)| *v)
            };
            if !flags {
                return find(single())
                    .map(Value::Enum)
                    .ok_or_else(|| enum_list(words));
            }
            if args.is_empty() {
                return Err(enum_list(words));
            }
            let mut bits = 0;
            for a in args {
                bits |= find(a).ok_or_else(|| enum_list(words))?;
            }
            if dir.name.starts_with("shutdown-on-") && bits & 3 == 3 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            Ok(Value::Enum(bits))
        }
        Kind::Save => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Save(Vec::new()));
            }
            if args.len() % 2 == 1 {
                return Err("Invalid save parameters".into());
            }
            let mut out = Vec::new();
            for pair in args.chunks(2) {
                let (secs, ok1) = c_strtoll(&pair[0]);
                let (changes, ok2) = c_strtoll(&pair[1]);
                if !ok1 || !ok2 || secs < 1 || changes < 0 {
                    return Err("Invalid save parameters".into());
                }
                out.push((secs as u64, changes as u64));
            }
            Ok(Value::Save(out))
        }
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Bind(Vec::new()));
            }
            Ok(Value::Bind(args.iter().map(|a| lossy(a)).collect()))
        }
        Kind::ReplicaOf => {
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case(b"no") && args[1].eq_ignore_ascii_case(b"one") {
                return Ok(Value::ReplicaOf(None));
            }
            let (port, ok) = c_strtoll(&args[1]);
            if !ok || args[1].is_empty() || !(0..=65535).contains(&port) {
                return Err("Invalid master port".into());
            }
            Ok(Value::ReplicaOf(Some((lossy(&args[0]), port as u16))))
        }
        Kind::ClientOutputBufferLimit => {
            let Value::Cobl(mut limits) = current.clone() else {
                unreachable!("client-output-buffer-limit holds limits")
            };
            if !args.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            for group in args.chunks(4) {
                let class = match group[0].to_ascii_lowercase().as_slice() {
                    b"normal" => 0,
                    b"slave" | b"replica" => 1,
                    b"pubsub" => 2,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        );
                    }
                };
                let hard = parse_memory(&group[1]);
                let soft = parse_memory(&group[2]);
                let (secs, ok) = c_strtoll(&group[3]);
                match (hard, soft) {
                    (Some(hard), Some(soft)) if ok && secs >= 0 => {
                        limits[class] = OutputLimit {
                            hard_bytes: hard,
                            soft_bytes: soft,
                            soft_seconds: secs as u64,
                        };
                    }
                    _ => {
                        return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
                    }
                }
            }
            Ok(Value::Cobl(limits))
        }
        Kind::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = [0i32; 3];
            for (slot, a) in out.iter_mut().zip(args) {
                let (v, ok) = c_strtoll(a);
                if !ok || a.is_empty() || !(-2000..=2000).contains(&v) {
                    return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    );
                }
                *slot = v as i32;
            }
            Ok(Value::Oom(out))
        }
        Kind::NotifyKeyspaceEvents => parse_events(single()).map(Value::Events),
        Kind::LatencyPercentiles => {
            if args.is_empty() || (args.len() == 1 && args[0].is_empty()) {
                return Ok(Value::Percentiles(Vec::new()));
            }
            let mut out = Vec::new();
            for a in args {
                let v = parse_c_double(a)
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                out.push(v);
            }
            Ok(Value::Percentiles(out))
        }
        Kind::Dir => Ok(Value::Dir(lossy(single()))),
    }
}

fn enum_text(words: &[(&str, u32)], flags: bool, v: u32) -> String {
    if !flags || v == 0 {
        return words
            .iter()
            .find(|(_, x)| *x == v)
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
    }
    let names: Vec<&str> = words
        .iter()
        .filter(|(_, x)| *x != 0 && v & x == *x)
        .map(|(n, _)| *n)
        .collect();
    names.join(" ")
}

/// The value as CONFIG GET shows it.
pub(crate) fn format(dir: &Directive, v: &Value) -> String {
    match (v, dir.kind) {
        (Value::Bool(b), _) => if *b { "yes" } else { "no" }.into(),
        (Value::Int(n), Kind::Int { fmt, .. }) => match fmt {
            NumFormat::Octal => format!("{n:o}"),
            NumFormat::MemoryPercent if *n < 0 => format!("{}%", -n),
            _ => n.to_string(),
        },
        (Value::Int(n), _) => n.to_string(),
        (Value::Str(s), _) => s.as_deref().map(lossy).unwrap_or_default(),
        (Value::Enum(e), Kind::Enum { words, flags }) => enum_text(words, flags, *e),
        (Value::Enum(e), _) => e.to_string(),
        (Value::Save(list), _) => list
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" "),
        (Value::Bind(addrs), _) => addrs.join(" "),
        (Value::ReplicaOf(r), _) => r
            .as_ref()
            .map(|(h, p)| format!("{h} {p}"))
            .unwrap_or_default(),
        (Value::Cobl(l), _) => {
            let names = ["normal", "slave", "pubsub"];
            names
                .iter()
                .zip(l)
                .map(|(n, l)| format!("{n} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_seconds))
                .collect::<Vec<_>>()
                .join(" ")
        }
        (Value::Oom(o), _) => format!("{} {} {}", o[0], o[1], o[2]),
        (Value::Events(e), _) => format_events(*e),
        (Value::Percentiles(p), _) => p
            .iter()
            .map(|v| format_percentile(*v))
            .collect::<Vec<_>>()
            .join(" "),
        (Value::Dir(d), _) => d.clone(),
    }
}

/// Quote bytes the way Redis writes strings into a config file: in double
/// quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` and `\xHH` escapes.
pub(crate) fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// What CONFIG REWRITE writes for a directive: the lines, each with whether
/// it must be written even when the file has no line for the directive yet.
/// `None` means every existing line for the directive is dropped.
pub(crate) fn rewrite_lines(
    dir: &Directive,
    v: &Value,
    default: &Value,
) -> Option<Vec<(String, bool)>> {
    let name = dir.name;
    let differs = v != default;
    let one = |text: String| Some(vec![(format!("{name} {text}"), differs)]);
    match (v, dir.kind) {
        (Value::Int(n), Kind::Int { fmt, .. }) => match fmt {
            NumFormat::Memory => one(format_memory_units(*n)),
            NumFormat::MemoryPercent if *n < 0 => one(format!("{}%", -n)),
            NumFormat::MemoryPercent => one(format_memory_units(*n)),
            NumFormat::Octal => one(format!("{n:o}")),
            NumFormat::Plain => one(n.to_string()),
        },
        (Value::Str(s), _) => s.as_ref().and_then(|s| one(repr(s))),
        (Value::Save(list), _) => {
            if list.is_empty() {
                Some(vec![(format!("{name} \"\""), true)])
            } else {
                Some(
                    list.iter()
                        .map(|(s, c)| (format!("{name} {s} {c}"), true))
                        .collect(),
                )
            }
        }
        (Value::Bind(addrs), _) => {
            differs.then(|| vec![(format!("{name} {}", addrs.join(" ")), true)])
        }
        (Value::ReplicaOf(r), _) => r
            .as_ref()
            .map(|(h, p)| vec![(format!("{name} {h} {p}"), true)]),
        (Value::Cobl(l), _) => {
            let Value::Cobl(d) = default else {
                return None;
            };
            let names = ["normal", "replica", "pubsub"];
            let lines = (0..3)
                .map(|i| {
                    let text = format!(
                        "{name} {} {} {} {}",
                        names[i],
                        format_memory_units(i128::from(l[i].hard_bytes)),
                        format_memory_units(i128::from(l[i].soft_bytes)),
                        l[i].soft_seconds
                    );
                    (text, l[i] != d[i])
                })
                .collect();
            Some(lines)
        }
        (Value::Events(e), _) => one(repr(format_events(*e).as_bytes())),
        (Value::Percentiles(p), _) => {
            let text = if p.is_empty() {
                "\"\"".to_string()
            } else {
                format(dir, v)
            };
            Some(vec![(format!("{name} {text}"), true)])
        }
        (Value::Dir(d), _) => Some(vec![(format!("{name} {}", repr(d.as_bytes())), true)]),
        _ => one(format(dir, v)),
    }
}

//! Glob-style pattern matching with exactly the semantics of Redis 7.0's
//! `stringmatchlen` (used by `KEYS`, `SCAN ... MATCH`, `PSUBSCRIBE`,
//! `CONFIG GET` and others).
//!
//! Pattern syntax: `*` matches any run of bytes, `?` any one byte, `\x`
//! the byte `x`, and `[...]` one byte from a class. In a class, `^` first
//! negates it, `a-z` is an inclusive range (a reversed `z-a` works too),
//! `\x` is the literal `x`, and everything else stands for itself. Quirks
//! kept on purpose because Redis has them:
//! - a `[` class without its `]` runs to the end of the pattern, so `[^`
//!   matches any single byte and `[` matches nothing;
//! - a trailing `\` (outside or inside a class) is a literal backslash;
//! - range ends compare as C `char`, which is signed on x86-64, so bytes
//!   from 0x80 up sort below ASCII (`[a-\xff]` is the range 0xff..='a');
//! - with `nocase`, only ASCII letters fold, range ends are lowered after
//!   being ordered, and `\x` inside a class stays case-sensitive;
//! - an empty subject matches only the empty pattern, even `*` does not
//!   (callers such as `KEYS *` special-case the lone star).
//!
//! Unlike Redis's recursive matcher this one is iterative: on a mismatch it
//! only ever resumes after the most recent `*`, so it runs in
//! O(pattern × subject) time and constant stack space on any input.

/// Does `string` match the glob `pattern`? See the module docs for the
/// exact rules.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    if string.is_empty() {
        return pattern.is_empty();
    }
    let p = pattern;
    let n = p.len();
    let (mut pi, mut si) = (0usize, 0usize);
    // Where to resume after the latest star: pattern index just past the
    // star(s) and the subject index that star's run currently ends at.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if si == string.len() {
            while pi < n && p[pi] == b'*' {
                pi += 1;
            }
            return pi == n;
        }
        if pi < n && p[pi] == b'*' {
            while pi < n && p[pi] == b'*' {
                pi += 1;
            }
            if pi == n {
                return true;
            }
            resume = Some((pi, si));
            continue;
        }
        if pi < n
            && let Some(next) = match_one(p, pi, string[si], nocase)
        {
            pi = next;
            si += 1;
            continue;
        }
        // Mismatch: let the latest star swallow one more byte, if any.
        match resume {
            Some((star_pi, star_si)) => {
                resume = Some((star_pi, star_si + 1));
                pi = star_pi;
                si = star_si + 1;
            }
            None => return false,
        }
    }
}

/// ASCII-only `tolower`, as in the C locale, over C `char` values.
fn lower(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

fn same_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches the single-byte token starting at `p[pi]` (not a `*`) against
/// `c`; returns the index just past the token on success.
fn match_one(p: &[u8], pi: usize, c: u8, nocase: bool) -> Option<usize> {
    let n = p.len();
    match p[pi] {
        b'?' => Some(pi + 1),
        b'\\' if n - pi >= 2 => same_byte(p[pi + 1], c, nocase).then_some(pi + 2),
        b'[' => match_class(p, pi + 1, c, nocase),
        lit => same_byte(lit, c, nocase).then_some(pi + 1),
    }
}

/// Matches the class whose body starts at `p[start]` (just after `[`).
/// Returns the index just past the class (past its `]`, or the end of the
/// pattern when unterminated) if `c` is in it.
fn match_class(p: &[u8], start: usize, c: u8, nocase: bool) -> Option<usize> {
    let n = p.len();
    let mut j = start;
    let negate = j < n && p[j] == b'^';
    if negate {
        j += 1;
    }
    let mut found = false;
    let end = loop {
        let left = n - j;
        if left >= 2 && p[j] == b'\\' {
            // Escaped member: exact, even under nocase.
            j += 1;
            found |= p[j] == c;
        } else if left >= 1 && p[j] == b']' {
            break j + 1;
        } else if left == 0 {
            break n;
        } else if left >= 3 && p[j + 1] == b'-' {
            let mut lo = i32::from(p[j] as i8);
            let mut hi = i32::from(p[j + 2] as i8);
            let mut x = i32::from(c as i8);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            if nocase {
                lo = lower(lo);
                hi = lower(hi);
                x = lower(x);
            }
            found |= lo <= x && x <= hi;
            j += 2;
        } else {
            found |= same_byte(p[j], c, nocase);
        }
        j += 1;
    };
    (found != negate).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::oracle::{RedisOracle, Reply};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::time::{Duration, Instant};

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", "anything"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("a**b", "ab"));
        assert!(m("a*", "a"));
        assert!(m("a***", "a"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxcxxbxxaxx"));
        assert!(m("*.txt", "notes.txt"));
        assert!(!m("*.txt", "notes.txt.bak"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
    }

    #[test]
    fn empty_subject_only_matches_empty_pattern() {
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("[^", ""));
        assert!(m("", ""));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[]a]", "a") == m("[]", "a"));
        assert!(!m("[]", "a"), "empty class matches nothing");
        assert!(m("[^]", "z"), "negated empty class matches anything");
        assert!(m("[\\]]", "]"));
        assert!(m("[\\^]", "^"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(m("[-a]", "-"));
        assert!(m("[a-]", "_"), "range from 'a' to ']' swapped");
        assert!(m("[a-]", "]"));
        assert!(!m("[a-]", "b"));
    }

    #[test]
    fn unterminated_classes_and_trailing_backslash() {
        assert!(!m("[", "["));
        assert!(!m("[", "a"));
        assert!(m("[^", "x"));
        assert!(!m("[^", "xy"));
        assert!(m("[abc", "b"));
        assert!(m("x[abc", "xc"));
        assert!(!m("[abc", "d"));
        assert!(m("[a-z", "q"));
        assert!(m("[\\", "\\"));
        assert!(m("\\", "\\"));
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "a"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("\\?x", "?x"));
        assert!(m("\\a", "a"));
    }

    #[test]
    fn signed_char_ranges() {
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"0", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
    }

    #[test]
    fn nocase_rules() {
        assert!(mi("HELLO*", "hello world"));
        assert!(mi("h[A-Z]llo", "hello"));
        assert!(mi("h[e]llo", "HELLO"));
        assert!(!mi("[\\E]", "e"), "escaped class member stays exact");
        assert!(mi("\\E", "e"), "escaped literal outside a class folds");
        // 'Z'..'a' lowers to 'z'..'a': an empty range.
        assert!(!mi("[Z-a]", "_"));
        assert!(m("[Z-a]", "_"));
        assert!(!m("HELLO", "hello"));
    }

    #[test]
    fn hostile_patterns_are_fast_and_shallow() {
        let subject = vec![b'a'; 20_000];
        let start = Instant::now();
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*b", &subject, false));
        let stars: Vec<u8> = b"*a".repeat(50_000);
        assert!(glob_match(&stars, &b"a".repeat(50_000), false));
        assert!(!glob_match(&[&stars[..], b"b"].concat(), &subject, false));
        let classes: Vec<u8> = b"*[a-z]".repeat(1000);
        assert!(!glob_match(
            &[&classes[..], b"!"].concat(),
            &subject[..3000],
            false
        ));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
    }

    /// A transliteration of Redis 7.0's recursive algorithm over slices,
    /// reading a NUL past the end as C does; the reference for proptests.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        let mut skip = false;
        reference_at(p, s, nocase, &mut skip)
    }

    fn reference_at(mut p: &[u8], mut s: &[u8], nocase: bool, skip: &mut bool) -> bool {
        let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
        let low = |c: u8| i32::from(c.to_ascii_lowercase() as i8);
        while !p.is_empty() && !s.is_empty() {
            match p[0] {
                b'*' => {
                    while !p.is_empty() && at(p, 1) == b'*' {
                        p = &p[1..];
                    }
                    if p.len() == 1 {
                        return true;
                    }
                    while !s.is_empty() {
                        if reference_at(&p[1..], s, nocase, skip) {
                            return true;
                        }
                        if *skip {
                            return false;
                        }
                        s = &s[1..];
                    }
                    *skip = true;
                    return false;
                }
                b'?' => s = &s[1..],
                b'[' => {
                    // Work on (whole pattern, index) so "step back" is easy.
                    let whole = p;
                    let mut j = 1;
                    let not = at(whole, j) == b'^';
                    if not {
                        j += 1;
                    }
                    let mut hit = false;
                    loop {
                        let left = whole.len() as isize - j as isize;
                        if at(whole, j) == b'\\' && left >= 2 {
                            j += 1;
                            if at(whole, j) == s[0] {
                                hit = true;
                            }
                        } else if at(whole, j) == b']' {
                            break;
                        } else if left == 0 {
                            j -= 1;
                            break;
                        } else if left >= 3 && at(whole, j + 1) == b'-' {
                            let (mut a, mut b) = (
                                i32::from(at(whole, j) as i8),
                                i32::from(at(whole, j + 2) as i8),
                            );
                            let mut c = i32::from(s[0] as i8);
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                            if nocase {
                                a = low(a as u8);
                                b = low(b as u8);
                                c = low(c as u8);
                            }
                            j += 2;
                            if c >= a && c <= b {
                                hit = true;
                            }
                        } else if nocase {
                            hit |= low(at(whole, j)) == low(s[0]);
                        } else {
                            hit |= at(whole, j) == s[0];
                        }
                        j += 1;
                    }
                    if not {
                        hit = !hit;
                    }
                    if !hit {
                        return false;
                    }
                    s = &s[1..];
                    p = &whole[j..];
                }
                _ => {
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                    }
                    let same = if nocase {
                        low(p[0]) == low(s[0])
                    } else {
                        p[0] == s[0]
                    };
                    if !same {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            p = &p[1..];
            if s.is_empty() {
                while at(p, 0) == b'*' {
                    p = &p[1..];
                }
                break;
            }
        }
        p.is_empty() && s.is_empty()
    }

    fn pattern_bytes() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = b"ab*?[]^-\\Az"
            .iter()
            .copied()
            .chain([0x80, 0xff])
            .collect();
        prop::collection::vec(prop::sample::select(alphabet), 0..12)
    }

    fn subject_bytes() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = b"abAz-]^\\_".iter().copied().chain([0x80, 0xff]).collect();
        prop::collection::vec(prop::sample::select(alphabet), 0..12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn agrees_with_reference(p in pattern_bytes(), s in subject_bytes(), nocase in any::<bool>()) {
            prop_assert_eq!(glob_match(&p, &s, nocase), reference(&p, &s, nocase));
        }
    }

    fn keys_of(reply: Reply) -> Vec<Vec<u8>> {
        match reply {
            Reply::Array(items) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Text(t) => t,
                    other => panic!("unexpected {other:?}"),
                })
                .collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// `KEYS pattern` (case-sensitive) and `CONFIG GET pattern`
    /// (case-insensitive) on redis-server against our matcher.
    #[test]
    fn differential_against_redis_server() {
        let Some(mut redis) = RedisOracle::start() else {
            return;
        };
        let mut keys: Vec<Vec<u8>> = [
            "",
            "a",
            "b",
            "ab",
            "abc",
            "A",
            "AB",
            "a*",
            "a?",
            "[",
            "]",
            "\\",
            "^",
            "-",
            "a-b",
            "hello",
            "hallo",
            "hxllo",
            "hllo",
            "heeeello",
            "foo:bar",
            "foo:baz:1",
            "x\\y",
            "_",
            "z",
            "Z",
            "[a]",
            "*",
            "?",
        ]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
        keys.extend([
            vec![0xff],
            vec![0x80],
            b"a\xffb".to_vec(),
            vec![b'a', 0, b'b'],
        ]);
        for k in &keys {
            redis.command(&[b"SET", k, b"1"]).unwrap();
        }
        let mut patterns: Vec<Vec<u8>> = [
            "*",
            "**",
            "?",
            "a*",
            "*b",
            "h?llo",
            "h*llo",
            "h[ae]llo",
            "h[^e]llo",
            "h[a-b]llo",
            "[",
            "[^",
            "[]",
            "[^]",
            "[abc",
            "[a-]",
            "[\\",
            "\\",
            "a\\",
            "\\*",
            "\\?",
            "[\\]]",
            "[z-a]",
            "[A-z]",
            "*:*",
            "foo:*:?",
            "[a-\u{7f}]",
            "*a*a*a*b",
            "x\\\\y",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        patterns.extend([
            b"[a-\xff]".to_vec(),
            b"[\x80-\xff]".to_vec(),
            b"a\xff*".to_vec(),
        ]);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = pattern_bytes();
        for _ in 0..400 {
            patterns.push(strategy.new_tree(&mut runner).unwrap().current());
        }
        for p in &patterns {
            let mut theirs = keys_of(redis.call(&[b"KEYS", p]));
            theirs.sort();
            let mut ours: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| p == b"*" || glob_match(p, k, false))
                .cloned()
                .collect();
            ours.sort();
            assert_eq!(ours, theirs, "KEYS {:?}", String::from_utf8_lossy(p));
        }

        // CONFIG GET matches parameter names case-insensitively.
        let all = keys_of(redis.call(&[b"CONFIG", b"GET", b"*"]));
        let names: Vec<Vec<u8>> = all.chunks(2).map(|kv| kv[0].clone()).collect();
        for p in [
            "MAXMEMORY*",
            "*-MAX-*",
            "[L-M]*",
            "?ort",
            "HZ",
            "*[^A-Z-]*",
            "LIST-*-SIZE",
            "[Z-a]*",
            "\\S*",
        ] {
            let reply = keys_of(redis.call(&[b"CONFIG", b"GET", p.as_bytes()]));
            // A pattern without glob characters is looked up directly and
            // echoed as typed, so compare names in lower case.
            let mut theirs: Vec<Vec<u8>> = reply
                .chunks(2)
                .map(|kv| kv[0].to_ascii_lowercase())
                .collect();
            theirs.sort();
            let mut ours: Vec<Vec<u8>> = names
                .iter()
                .filter(|n| glob_match(p.as_bytes(), n, true))
                .cloned()
                .collect();
            ours.sort();
            assert_eq!(ours, theirs, "CONFIG GET {p:?}");
        }
    }
}

//! Glob-style matching as Redis uses it for CONFIG GET patterns and
//! `include` wildcards: `*`, `?`, `[abc]`, `[^a-z]`, backslash escapes.

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

/// Whether `text` matches `pattern` (optionally ignoring ASCII case).
pub(crate) fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    while p < pattern.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                return (t..=text.len())
                    .any(|start| matches(&pattern[p + 1..], &text[start..], nocase));
            }
            b'?' => {
                if t >= text.len() {
                    return false;
                }
                t += 1;
            }
            b'[' => {
                if t >= text.len() {
                    return false;
                }
                p += 1;
                let negate = p < pattern.len() && pattern[p] == b'^';
                if negate {
                    p += 1;
                }
                let c = fold(text[t], nocase);
                let mut hit = false;
                loop {
                    if p >= pattern.len() {
                        // Unterminated class: treat its end as the pattern end.
                        p -= 1;
                        break;
                    }
                    if pattern[p] == b'\\' && p + 2 < pattern.len() {
                        p += 1;
                        hit |= fold(pattern[p], nocase) == c;
                    } else if pattern[p] == b']' {
                        break;
                    } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
                        let (mut lo, mut hi) =
                            (fold(pattern[p], nocase), fold(pattern[p + 2], nocase));
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        hit |= (lo..=hi).contains(&c);
                        p += 2;
                    } else {
                        hit |= fold(pattern[p], nocase) == c;
                    }
                    p += 1;
                }
                if hit == negate {
                    return false;
                }
                t += 1;
            }
            ch => {
                let ch = if ch == b'\\' && p + 1 < pattern.len() {
                    p += 1;
                    pattern[p]
                } else {
                    ch
                };
                if t >= text.len() || fold(ch, nocase) != fold(text[t], nocase) {
                    return false;
                }
                t += 1;
            }
        }
        p += 1;
    }
    t == text.len()
}

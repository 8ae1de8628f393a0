//! Splits a REPL line into arguments: words separated by blanks, double
//! quotes with C-style escapes (`\n`, `\x41`, `\"`), single quotes where only
//! `\'` is special.

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError;

/// Splits `line` into arguments. Unbalanced quotes, or a closing quote
/// followed directly by another character, are an error.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, SplitError> {
    crate::util::args::split_args(line.as_bytes()).ok_or(SplitError)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split_args(line)
            .unwrap()
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(s("  set  k v "), ["set", "k", "v"]);
        assert_eq!(s(r#"set "a b" "x\x41\ny""#), ["set", "a b", "xA\ny"]);
        assert_eq!(s(r#"set 'it\'s' '\n'"#), ["set", "it's", "\\n"]);
        assert_eq!(s(r#"set "" ''"#), ["set", "", ""]);
        assert_eq!(s("ab\"cd\""), ["abcd"]);
        assert!(s("").is_empty());
    }

    #[test]
    fn rejects_bad_quoting() {
        assert_eq!(split_args(r#"set "abc"#), Err(SplitError));
        assert_eq!(split_args(r#"set "a"b"#), Err(SplitError));
        assert_eq!(split_args("set 'a"), Err(SplitError));
    }
}

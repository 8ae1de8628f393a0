//! Differential suite: replays each scenario in `tests/differential/*.txt`
//! against the real `redis-server` and against `ember-server`, and requires
//! the raw reply bytes to match.
//!
//! Corpus format (see `tests/README.md`): one command per line in redis-cli
//! syntax; blank lines and lines starting with `#` are ignored; a leading
//! `~ ` means only the RESP type of the reply (its first byte) is compared,
//! for inherently nondeterministic replies; a leading `% ` means the order of
//! elements inside arrays and sets (at any depth) and of map entries is
//! ignored, for replies in hash-table order such as `KEYS *`.

mod common;

use common::{Oracle, RawConn, Server, encode_command, escape, reply_len, split_args};
use std::path::{Path, PathBuf};

/// Stop listing mismatches for a file after this many.
const MAX_REPORTED: usize = 25;

struct Step {
    line_no: usize,
    text: String,
    args: Vec<Vec<u8>>,
    how: Compare,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Byte for byte.
    Exact,
    /// Only the reply's type byte (`~ ` prefix).
    TypeOnly,
    /// Byte for byte after sorting aggregate elements (`% ` prefix).
    Unordered,
}

/// Rewrites a reply so that elements of arrays, sets and pushes, and the
/// entries of maps, appear in sorted order (recursively). Two replies that
/// differ only in element order become identical.
fn canonical_unordered(reply: &[u8]) -> Vec<u8> {
    fn walk(buf: &[u8], pos: usize) -> (Vec<u8>, usize) {
        let end = reply_len(&buf[pos..])
            .ok()
            .flatten()
            .map(|n| pos + n)
            .expect("a complete reply");
        let kind = buf[pos];
        if !matches!(kind, b'*' | b'~' | b'>' | b'%') {
            return (buf[pos..end].to_vec(), end);
        }
        let header_end = pos + buf[pos..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let header = &buf[pos..header_end];
        if header == b"*-1\r\n" {
            return (header.to_vec(), header_end);
        }
        let per_item = if kind == b'%' { 2 } else { 1 };
        let mut items = Vec::new();
        let mut at = header_end;
        while at < end {
            let mut item = Vec::new();
            for _ in 0..per_item {
                let (bytes, next) = walk(buf, at);
                item.extend(bytes);
                at = next;
            }
            items.push(item);
        }
        items.sort();
        let mut out = header.to_vec();
        out.extend(items.concat());
        (out, end)
    }
    walk(reply, 0).0
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

fn parse_corpus(path: &Path) -> Vec<Step> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut steps = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (how, command) = if let Some(rest) = line.strip_prefix("~ ") {
            (Compare::TypeOnly, rest.trim_start())
        } else if let Some(rest) = line.strip_prefix("% ") {
            (Compare::Unordered, rest.trim_start())
        } else {
            (Compare::Exact, line)
        };
        let args = split_args(command)
            .unwrap_or_else(|| panic!("{}:{}: unbalanced quotes in {line}", path.display(), i + 1));
        assert!(!args.is_empty(), "{}:{}: no command", path.display(), i + 1);
        steps.push(Step {
            line_no: i + 1,
            text: line.to_string(),
            args,
            how,
        });
    }
    steps
}

fn send_step(conn: &mut RawConn, step: &Step) -> std::io::Result<Vec<u8>> {
    let argv: Vec<&[u8]> = step.args.iter().map(Vec::as_slice).collect();
    conn.try_send(&encode_command(&argv))?;
    conn.try_read_reply()
}

/// Runs one corpus file against both servers and panics with every mismatch.
fn run_corpus(name: &str) {
    let path = corpus_dir().join(format!("{name}.txt"));
    let steps = parse_corpus(&path);
    let shown = format!("tests/differential/{name}.txt");
    let Some(redis) = Oracle::start() else {
        return;
    };
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut want_conn = redis.raw();
    let mut got_conn = ember.raw();
    for conn in [&mut want_conn, &mut got_conn] {
        assert_eq!(
            conn.cmd(&[b"FLUSHALL"]),
            b"+OK\r\n",
            "FLUSHALL before {shown}"
        );
    }

    let mut failures = Vec::new();
    let mut total_mismatches = 0;
    for step in &steps {
        let want = send_step(&mut want_conn, step).unwrap_or_else(|e| {
            panic!(
                "{shown}:{}: redis-server gave no reply to `{}`: {e}",
                step.line_no, step.text
            )
        });
        let got = match send_step(&mut got_conn, step) {
            Ok(got) => got,
            Err(e) => {
                total_mismatches += 1;
                failures.push(format!(
                    "{shown}:{}: {}\n  redis: {}\n  ember: no reply ({e}); stopping this file",
                    step.line_no,
                    step.text,
                    escape(&want)
                ));
                break;
            }
        };
        let same = match step.how {
            Compare::Exact => want == got,
            Compare::TypeOnly => want.first() == got.first(),
            // The oracle's reply is well formed; a malformed ember reply
            // could not have been read in the first place.
            Compare::Unordered => canonical_unordered(&want) == canonical_unordered(&got),
        };
        if !same {
            total_mismatches += 1;
            if failures.len() < MAX_REPORTED {
                let how = match step.how {
                    Compare::Exact => "",
                    Compare::TypeOnly => " (type only)",
                    Compare::Unordered => " (ignoring order)",
                };
                failures.push(format!(
                    "{shown}:{}: {}{how}\n  redis: {}\n  ember: {}",
                    step.line_no,
                    step.text,
                    escape(&want),
                    escape(&got)
                ));
            }
        }
    }
    if !failures.is_empty() {
        let more = total_mismatches - failures.len();
        let tail = if more > 0 {
            format!("\n... and {more} more mismatches")
        } else {
            String::new()
        };
        panic!(
            "{total_mismatches} of {} commands differ in {shown}:\n\n{}{tail}\n",
            steps.len(),
            failures.join("\n\n")
        );
    }
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        const REGISTERED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_corpus(stringify!($name));
            }
        )*
    };
}

// One test per corpus file. Add the file's stem here when adding a file.
corpus_tests!(
    strings,
    replication,
    bitmaps,
    keys,
    expire,
    connection,
    errors,
    transactions,
    server,
    command,
    sets,
    hashes,
    pubsub,
    lists,
    zsets,
    geo,
    sort,
    collections_errors,
    streams,
    persistence,
    eviction,
    hyperloglog,
    scripting,
    scripting_libs
);

#[test]
fn every_corpus_file_is_registered() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "txt") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !REGISTERED.contains(&stem.as_str()) {
                missing.push(stem);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "corpus files without a test (add them to corpus_tests! in tests/differential.rs): {missing:?}"
    );
}

#[test]
fn unordered_comparison_ignores_only_order() {
    let a = b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n";
    let b = b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n";
    let c = b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n";
    assert_eq!(canonical_unordered(a), canonical_unordered(b));
    assert_ne!(canonical_unordered(a), canonical_unordered(c));
    let m1 = b"%2\r\n+x\r\n:1\r\n+y\r\n:2\r\n";
    let m2 = b"%2\r\n+y\r\n:2\r\n+x\r\n:1\r\n";
    let m3 = b"%2\r\n+y\r\n:1\r\n+x\r\n:2\r\n";
    assert_eq!(canonical_unordered(m1), canonical_unordered(m2));
    assert_ne!(canonical_unordered(m1), canonical_unordered(m3));
    assert_eq!(canonical_unordered(b"*-1\r\n"), b"*-1\r\n");
    assert_eq!(canonical_unordered(b"$1\r\n*\r\n"), b"$1\r\n*\r\n");
}

#[test]
fn every_corpus_file_parses() {
    for name in REGISTERED {
        let steps = parse_corpus(&corpus_dir().join(format!("{name}.txt")));
        assert!(!steps.is_empty(), "{name}.txt has no commands");
    }
}

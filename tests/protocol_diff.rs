//! Protocol edge cases, compared against the real Redis: each case sends the
//! same raw bytes to both servers on a fresh connection and requires the same
//! bytes back, and the same outcome (connection closed by the server, or
//! still open when the wait ended). Cases that leave the connection usable
//! end with `QUIT`, so every case normally finishes with the server closing.

mod common;

use common::{Drained, Oracle, RawConn, Server, escape};
use std::thread;
use std::time::Duration;

/// How long to wait for a server to close the connection.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

const QUIT: &[u8] = b"*1\r\n$4\r\nQUIT\r\n";

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Close our writing half after sending, so the server sees EOF.
    half_close: bool,
}

fn case(name: &'static str, bytes: &[u8]) -> Case {
    Case {
        name,
        bytes: bytes.to_vec(),
        half_close: false,
    }
}

/// A case whose bytes leave the connection usable: a `QUIT` is appended.
fn case_quit(name: &'static str, bytes: &[u8]) -> Case {
    let mut all = bytes.to_vec();
    all.extend_from_slice(QUIT);
    Case {
        name,
        bytes: all,
        half_close: false,
    }
}

fn cases() -> Vec<Case> {
    let mut long_digits = b"*".to_vec();
    long_digits.extend(std::iter::repeat_n(b'1', 70_000));
    let mut long_bulk_digits = b"*1\r\n$".to_vec();
    long_bulk_digits.extend(std::iter::repeat_n(b'1', 70_000));
    let long_inline = vec![b'a'; 70_000];
    let mut inline_at_limit = b"ECHO ".to_vec();
    inline_at_limit.extend(std::iter::repeat_n(b'x', 60_000));
    inline_at_limit.extend_from_slice(b"\r\n");

    vec![
        // Multibulk headers.
        case("multibulk length not a number", b"*abc\r\n"),
        case("multibulk length with sign", b"*+1\r\n$4\r\nPING\r\n"),
        case("multibulk length beyond int range", b"*2147483648\r\n"),
        case("multibulk length empty", b"*\r\n"),
        case_quit("multibulk length -1 is ignored", b"*-1\r\n"),
        case_quit("multibulk length -5 is ignored", b"*-5\r\n"),
        case_quit("multibulk length 0 is ignored", b"*0\r\n"),
        case("multibulk count line too big", &long_digits),
        // Bulk headers.
        case("bulk length not a number", b"*1\r\n$abc\r\n"),
        case("bulk length -1", b"*1\r\n$-1\r\n"),
        case("bulk length empty", b"*1\r\n$\r\n"),
        case(
            "bulk length beyond proto-max-bulk-len",
            b"*1\r\n$536870913\r\n",
        ),
        case("bulk length beyond i64", b"*1\r\n$99999999999999999999\r\n"),
        case("bulk header missing its $", b"*1\r\nPING\r\n"),
        case("bulk header with wrong type byte", b"*2\r\n$4\r\nECHO\r\n:5\r\n"),
        case("bulk count line too big", &long_bulk_digits),
        case_quit(
            "bulk payload terminator is not checked",
            b"*1\r\n$4\r\nPINGxx",
        ),
        case_quit(
            "empty bulk argument",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        ),
        case_quit(
            "binary bulk argument",
            b"*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n\xff*$\r\n",
        ),
        // Inline commands.
        case_quit("inline command", b"PING\r\n"),
        case_quit("inline with bare newlines", b"PING\nECHO a\n"),
        case_quit("inline with extra spaces", b"   ECHO    spaced   \r\n"),
        case_quit("empty inline lines are skipped", b"\r\n\r\n\n \r\nPING\r\n"),
        case_quit("inline quoted arguments", b"ECHO \"a b\\x41\\n\"\r\nECHO 'c d'\r\n"),
        case("inline unbalanced double quote", b"SET \"a b\r\n"),
        case("inline unbalanced single quote", b"SET 'a b\r\n"),
        case("inline quote glued to text", b"ECHO \"a\"b\r\n"),
        case("inline too big", &long_inline),
        case_quit("inline just below the limit", &inline_at_limit),
        case_quit("inline starting with a type byte", b"$4\r\n+PING\r\n:1\r\n"),
        case_quit("inline unknown command", b"NOSUCH a b\r\n"),
        case_quit("inline wrong arity", b"GET\r\n"),
        // Pipelines.
        case_quit(
            "mixed pipeline",
            b"*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$1\r\ny\r\nNOSUCH\r\n*1\r\n$3\r\nGET\r\n",
        ),
        case(
            "pipeline cut by a protocol error",
            b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n",
        ),
        case("commands after QUIT are not run", b"PING\r\nQUIT\r\nPING\r\n"),
        // End of input.
        Case {
            name: "EOF in the middle of a bulk",
            bytes: b"*2\r\n$4\r\nECHO\r\n$5\r\nab".to_vec(),
            half_close: true,
        },
        Case {
            name: "EOF after complete commands",
            bytes: b"PING\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
            half_close: true,
        },
    ]
}

/// Sends a case's bytes on a fresh connection and collects the outcome.
fn run_case(server: &Server, case: &Case) -> Drained {
    let mut conn = server.raw();
    conn.set_timeout(CLOSE_WAIT);
    // The server may close while we are still writing (a too-big request):
    // that is part of the behaviour under test, not a failure.
    let _ = conn.try_send(&case.bytes);
    if case.half_close {
        conn.shutdown_write();
    }
    conn.read_until_closed()
}

fn describe(d: &Drained) -> String {
    let end = if d.closed {
        "then closed"
    } else {
        "still open"
    };
    format!("{} ({end})", escape(&d.bytes))
}

#[test]
fn protocol_edge_cases_match_redis() {
    let Some(redis) = Oracle::start() else {
        return;
    };
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut failures = Vec::new();
    for case in cases() {
        let want = run_case(&redis, &case);
        let got = run_case(&ember, &case);
        // Shown with `cargo test --test protocol_diff -- --nocapture`.
        println!("{:45} redis: {}", case.name, describe(&want));
        if want != got {
            failures.push(format!(
                "case `{}`, sent {} bytes: {}\n  redis: {}\n  ember: {}",
                case.name,
                case.bytes.len(),
                escape(&case.bytes[..case.bytes.len().min(80)]),
                describe(&want),
                describe(&got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} protocol cases differ:\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A pipeline mixing multibulk and inline requests, and how many replies it
/// produces.
const PIPELINE: &[u8] = b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\r\nb\r\n\
*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\nGET k\r\n*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\n\
\r\nNOSUCH x\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
const PIPELINE_REPLIES: usize = 8;

/// Sends `PIPELINE` in two writes cut at `cut`, with a pause between them so
/// the server sees the first part alone, and reads every reply.
fn run_split(conn: &mut RawConn, cut: usize) -> Vec<u8> {
    conn.send(&PIPELINE[..cut]);
    thread::sleep(Duration::from_millis(2));
    conn.send(&PIPELINE[cut..]);
    conn.read_replies(PIPELINE_REPLIES)
}

#[test]
fn pipeline_split_at_every_byte_matches_redis() {
    let Some(redis) = Oracle::start() else {
        return;
    };
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let want = redis.raw().cmd(&[b"PING"]);
    assert_eq!(want, b"+PONG\r\n");
    let (mut want_conn, mut got_conn) = (redis.raw(), ember.raw());
    let mut failures = Vec::new();
    for cut in 1..PIPELINE.len() {
        let want = run_split(&mut want_conn, cut);
        let got = run_split(&mut got_conn, cut);
        if want != got {
            failures.push(format!(
                "cut after byte {cut} (first part {}):\n  redis: {}\n  ember: {}",
                escape(&PIPELINE[..cut]),
                escape(&want),
                escape(&got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} split points differ:\n\n{}\n",
        failures.len(),
        PIPELINE.len() - 1,
        failures.join("\n\n")
    );
}

#[test]
fn pipeline_one_byte_at_a_time_matches_redis() {
    let Some(redis) = Oracle::start() else {
        return;
    };
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut replies = Vec::new();
    for server in [&redis, &ember] {
        let mut conn = server.raw();
        for &b in PIPELINE {
            conn.send(&[b]);
        }
        replies.push(conn.read_replies(PIPELINE_REPLIES));
    }
    assert!(
        replies[0] == replies[1],
        "byte-at-a-time pipeline differs:\n  redis: {}\n  ember: {}",
        escape(&replies[0]),
        escape(&replies[1])
    );
}

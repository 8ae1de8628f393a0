//! Checks of the test harness itself (`tests/common`): RESP reply framing,
//! redis-cli style argument splitting, escaping, and starting a server.

mod common;

use common::{FrameError, Oracle, Server, encode_command, escape, reply_len, split_args};

fn complete(buf: &[u8]) -> Option<usize> {
    reply_len(buf).expect("valid frame")
}

#[test]
fn frames_simple_types() {
    for reply in [
        &b"+OK\r\n"[..],
        b"-ERR no\r\n",
        b":-12\r\n",
        b"_\r\n",
        b",3.14\r\n",
        b"#t\r\n",
        b"(3492890328409238509324850943850943825024385\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"$0\r\n\r\n",
        b"$5\r\nhe\r\no\r\n",
        b"!3\r\nERR\r\n",
        b"=8\r\ntxt:abcd\r\n",
        b"*0\r\n",
    ] {
        assert_eq!(complete(reply), Some(reply.len()), "{}", escape(reply));
        // Every strict prefix is incomplete.
        for cut in 0..reply.len() {
            assert_eq!(complete(&reply[..cut]), None, "{}", escape(&reply[..cut]));
        }
    }
}

#[test]
fn frames_nested_aggregates_and_leaves_the_rest() {
    let reply = b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n%1\r\n+k\r\n~2\r\n_\r\n#f\r\n>2\r\n+x\r\n:2\r\n";
    let mut buf = reply.to_vec();
    buf.extend_from_slice(b"+NEXT\r\n");
    assert_eq!(complete(&buf), Some(reply.len()));
    for cut in 0..reply.len() {
        assert_eq!(complete(&reply[..cut]), None, "cut at {cut}");
    }
}

#[test]
fn frames_map_with_two_frames_per_entry() {
    let reply = b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n";
    assert_eq!(complete(reply), Some(reply.len()));
    // One entry short of the declared count.
    assert_eq!(complete(&reply[..reply.len() - 4]), None);
}

#[test]
fn attribute_is_framed_with_the_reply_it_annotates() {
    let reply = b"|1\r\n+ttl\r\n:3600\r\n*2\r\n:1\r\n:2\r\n";
    assert_eq!(complete(reply), Some(reply.len()));
    assert_eq!(complete(&reply[..reply.len() - 1]), None);
}

#[test]
fn reports_malformed_frames() {
    assert_eq!(reply_len(b"?x\r\n"), Err(FrameError::BadType(b'?')));
    assert_eq!(
        reply_len(b"$abc\r\n"),
        Err(FrameError::BadLength(b"abc".to_vec()))
    );
    assert_eq!(
        reply_len(b"$-2\r\n"),
        Err(FrameError::BadLength(b"-2".to_vec()))
    );
    assert_eq!(reply_len(b"$2\r\nabcd"), Err(FrameError::MissingCrlf));
}

#[test]
fn encodes_commands_as_multibulk() {
    assert_eq!(
        encode_command(&[b"SET", b"k", b""]),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_vec()
    );
}

#[test]
fn escapes_bytes_readably() {
    assert_eq!(escape(b"+OK\r\n"), r#""+OK\r\n""#);
    assert_eq!(escape(b"a\"\\\t\x00\xff"), r#""a\"\\\t\x00\xff""#);
}

fn split(line: &str) -> Option<Vec<String>> {
    split_args(line).map(|v| {
        v.into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect()
    })
}

#[test]
fn splits_like_redis_cli() {
    assert_eq!(
        split("  set  a   b "),
        Some(vec!["set".into(), "a".into(), "b".into()])
    );
    assert_eq!(split(""), Some(vec![]));
    assert_eq!(
        split(r#"set "a b" 'c d'"#),
        Some(vec!["set".into(), "a b".into(), "c d".into()])
    );
    assert_eq!(split(r#""""#), Some(vec!["".into()]));
    assert_eq!(split(r#"x"y z""#), Some(vec!["xy z".into()]));
    assert_eq!(split(r#""\n\r\t\\\"\q""#), Some(vec!["\n\r\t\\\"q".into()]));
    assert_eq!(
        split(r"'it\'s' '\n'"),
        Some(vec!["it's".into(), "\\n".into()])
    );
    assert_eq!(
        split_args(r#""\x41\xff\xg1""#),
        Some(vec![b"A\xffxg1".to_vec()])
    );
    // Unbalanced quotes and text glued after a closing quote are errors.
    assert_eq!(split(r#"set "a"#), None);
    assert_eq!(split("set 'a"), None);
    assert_eq!(split(r#"set "a"b"#), None);
    assert_eq!(split(r#"set "a\"#), None);
}

/// Starts the server under test and checks the basic contract every other
/// test relies on: PING answered, a log captured, both client kinds working.
#[test]
fn server_starts_and_answers() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(raw.cmd(&[b"ECHO", b"hi"]), b"$2\r\nhi\r\n");
    let mut client = server.client();
    let pong: String = redis::cmd("PING").query(&mut client).expect("PING");
    assert_eq!(pong, "PONG");
    assert!(
        server.log_text().contains("Ready to accept connections"),
        "log:\n{}",
        server.log_text()
    );
    assert!(server.dir().is_dir());
}

#[test]
fn read_until_closed_sees_the_close() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    raw.send(b"PING\r\nQUIT\r\n");
    let drained = raw.read_until_closed();
    assert!(drained.closed);
    assert_eq!(drained.bytes, b"+PONG\r\n+OK\r\n");
}

#[test]
fn oracle_starts_when_installed() {
    if let Some(redis) = Oracle::start() {
        assert_eq!(redis.raw().cmd(&[b"PING"]), b"+PONG\r\n");
    }
}

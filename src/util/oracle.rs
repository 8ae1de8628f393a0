//! Test-only helper: runs a private real `redis-server` and talks RESP to it,
//! so the util tests can compare Ember's parsing, formatting and matching
//! with Redis itself. When `redis-server` is not installed the differential
//! tests print a notice and pass without comparing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Simple string, bulk string, integer or RESP3 double, as its text.
    Text(Vec<u8>),
    Nil,
    Error(String),
    Array(Vec<Reply>),
}

/// A redis-server child process (killed on drop) and a connection to it.
pub struct RedisOracle {
    child: Child,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RedisOracle {
    /// Starts `redis-server` on a free local port, or prints a notice and
    /// returns `None` when it cannot be run.
    pub fn start() -> Option<RedisOracle> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("NOTICE: redis-server not available ({e}); skipping differential test");
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!(
                        "NOTICE: redis-server did not start ({e}); skipping differential test"
                    );
                    return None;
                }
            }
        };
        let writer = stream.try_clone().ok()?;
        Some(RedisOracle {
            child,
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&req).expect("write to redis-server");
        self.read_reply()
    }

    /// Sends one command; scalar replies become `Ok(text)`, errors `Err`.
    pub fn command(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        match self.call(args) {
            Reply::Text(t) => Ok(t),
            Reply::Error(e) => Err(e),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn read_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("read from redis-server");
        assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn read_reply(&mut self) -> Reply {
        let line = self.read_line();
        let (kind, rest) = line.split_first().expect("empty reply line");
        let number = || -> i64 { std::str::from_utf8(rest).unwrap().parse().unwrap() };
        match kind {
            b'+' | b':' | b',' => Reply::Text(rest.to_vec()),
            b'-' => Reply::Error(String::from_utf8_lossy(rest).into_owned()),
            b'_' => Reply::Nil,
            b'$' => {
                let n = number();
                if n < 0 {
                    return Reply::Nil;
                }
                let mut buf = vec![0; n as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Text(buf)
            }
            b'*' | b'%' | b'~' => {
                let n = number();
                if n < 0 {
                    return Reply::Nil;
                }
                let count = if *kind == b'%' { n * 2 } else { n };
                Reply::Array((0..count).map(|_| self.read_reply()).collect())
            }
            other => panic!("unsupported reply type {}", *other as char),
        }
    }
}

impl Drop for RedisOracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

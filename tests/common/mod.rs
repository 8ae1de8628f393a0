//! Shared helpers for the integration tests: start an `ember-server` (or the
//! real `redis-server` as an oracle) on a free port in a private temp dir,
//! and talk to it either through the `redis` crate or through [`RawConn`],
//! which reads raw RESP replies byte for byte.
//!
//! Every integration test file pulls this in with `mod common;`. Not every
//! file uses every helper, hence the `dead_code` allowance below.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time [`RawConn`] waits for a reply before giving up.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts at starting a server (another process may grab the port between
/// our probe and the server's bind).
const START_ATTEMPTS: usize = 3;

/// A `redis` crate connection to `addr` (`host:port`), for tests that open
/// connections from several threads.
pub fn connect(addr: &str) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// A running server process. The process is killed when this is dropped.
pub struct Server {
    child: Child,
    port: u16,
    label: String,
    log_path: PathBuf,
    // Declared last so it is removed after the child has been reaped.
    dir: tempfile::TempDir,
}

/// Path of the `ember-server` binary under test: `EMBER_SERVER_BIN` if set,
/// otherwise the binary cargo built for this test run. `None` while the
/// crate has no `ember-server` target: suites that need it then skip with a
/// printed notice (they run as soon as the binary exists).
pub fn ember_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EMBER_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    option_env!("CARGO_BIN_EXE_ember-server").map(PathBuf::from)
}

/// Finds `name` in the directories of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Asks the OS for a free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

impl Server {
    /// Starts `ember-server` with the standard test arguments plus `extra_args`;
    /// `None` (after printing a notice) when the binary is not built.
    pub fn start(extra_args: &[&str]) -> Option<Server> {
        let Some(bin) = ember_bin() else {
            let name = thread::current().name().unwrap_or("?").to_string();
            println!("NOTICE: ember-server is not built; skipping {name}");
            return None;
        };
        Some(Server::start_binary(&bin, "ember", extra_args))
    }

    /// Starts any redis-server-compatible binary. `label` names it in
    /// messages ("ember", "redis").
    pub fn start_binary(bin: &Path, label: &str, extra_args: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..START_ATTEMPTS {
            match Server::try_start(bin, label, extra_args) {
                Ok(server) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start {label} ({}): {last_err}", bin.display());
    }

    fn try_start(bin: &Path, label: &str, extra_args: &[&str]) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ember-test-{label}-"))
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let log_path = dir.path().join("server.log");
        let log = File::create(&log_path).map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let port = free_port();
        let port_s = port.to_string();
        let dir_s = dir.path().to_string_lossy().into_owned();
        let child = Command::new(bin)
            .args(["--port", &port_s, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", &dir_s])
            .args(extra_args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut server = Server {
            child,
            port,
            label: label.to_string(),
            log_path,
            dir,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "exited during startup with {status}; log:\n{}",
                    server.log_text()
                ));
            }
            if server.ping_ok() {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no +PONG within {STARTUP_TIMEOUT:?}; log:\n{}",
                    server.log_text()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// One PING over a fresh connection; true when the answer is `+PONG`.
    fn ping_ok(&self) -> bool {
        let Ok(stream) = TcpStream::connect_timeout(
            &self.addr().parse().expect("socket addr"),
            Duration::from_millis(200),
        ) else {
            return false;
        };
        let mut conn = RawConn::new(stream, Duration::from_millis(500));
        conn.send(b"*1\r\n$4\r\nPING\r\n");
        matches!(conn.try_read_reply(), Ok(r) if r == b"+PONG\r\n")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's working directory (also its `--dir`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// "ember" or "redis" (or whatever was given to [`Server::start_binary`]).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A synchronous client from the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        let url = format!("redis://{}/", self.addr());
        redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("{} client connect: {e}", self.label))
    }

    /// A raw RESP connection with the default read timeout.
    pub fn raw(&self) -> RawConn {
        let stream = TcpStream::connect(self.addr())
            .unwrap_or_else(|e| panic!("{} raw connect: {e}", self.label));
        RawConn::new(stream, READ_TIMEOUT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The oracle's log is rarely interesting; the server under test's is.
        if thread::panicking() && self.label != "redis" {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("--- last lines of the {} server log ---", self.label);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The real Redis, used as the reference for differential tests.
pub struct Oracle;

impl Oracle {
    /// Starts `redis-server` from `PATH` with the standard test arguments.
    /// Returns `None` (after printing a notice) when it is not installed,
    /// unless `EMBER_REQUIRE_REDIS=1`, in which case it panics.
    pub fn start() -> Option<Server> {
        Oracle::start_with(&[])
    }

    /// Like [`Oracle::start`] with extra server arguments.
    pub fn start_with(extra_args: &[&str]) -> Option<Server> {
        let Some(bin) = find_on_path("redis-server") else {
            let name = thread::current().name().unwrap_or("?").to_string();
            if std::env::var("EMBER_REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("redis-server not found on PATH but EMBER_REQUIRE_REDIS=1 ({name})");
            }
            println!("NOTICE: redis-server not found; skipping differential test {name}");
            return None;
        };
        Some(Server::start_binary(&bin, "redis", extra_args))
    }
}

/// Why a RESP reply could not be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The type byte is not a RESP2/RESP3 type.
    BadType(u8),
    /// A length or count header is not a valid integer.
    BadLength(Vec<u8>),
    /// A bulk payload is not followed by CRLF.
    MissingCrlf,
}

/// Finds the end of the header line that starts at `start`: returns the
/// index just past its `\r\n`, or `None` if the line is incomplete.
fn line_end(buf: &[u8], start: usize) -> Option<usize> {
    buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| start + i + 2)
}

/// Parses the signed integer in a header line (between the type byte and CRLF).
fn header_int(line: &[u8]) -> Result<i64, FrameError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| FrameError::BadLength(line.to_vec()))
}

/// Length in bytes of the one complete RESP2/RESP3 reply at the start of
/// `buf`, `Ok(None)` if more bytes are needed. Attributes (`|`) are counted
/// together with the reply they annotate. Streamed strings are not supported.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    frame_end(buf, 0)
}

/// End offset of the frame starting at `pos`, or `None` if incomplete.
fn frame_end(buf: &[u8], pos: usize) -> Result<Option<usize>, FrameError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(end) = line_end(buf, pos) else {
        return Ok(None);
    };
    let header = &buf[pos + 1..end - 2];
    match kind {
        // Single-line types: simple string, error, integer, null, double,
        // boolean, big number.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(end)),
        // Length-prefixed payloads: bulk string, bulk error, verbatim string.
        b'$' | b'!' | b'=' => {
            let n = header_int(header)?;
            if n == -1 && kind == b'$' {
                return Ok(Some(end));
            }
            let n = usize::try_from(n).map_err(|_| FrameError::BadLength(header.to_vec()))?;
            let stop = end + n + 2;
            if buf.len() < stop {
                return Ok(None);
            }
            if &buf[end + n..stop] != b"\r\n" {
                return Err(FrameError::MissingCrlf);
            }
            Ok(Some(stop))
        }
        // Aggregates: array, set, push, map (two frames per entry), attribute
        // (a map followed by the reply it annotates).
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = header_int(header)?;
            if n == -1 && kind == b'*' {
                return Ok(Some(end));
            }
            let n = usize::try_from(n).map_err(|_| FrameError::BadLength(header.to_vec()))?;
            let children = if kind == b'%' || kind == b'|' {
                2 * n
            } else {
                n
            };
            let mut at = end;
            for _ in 0..children {
                match frame_end(buf, at)? {
                    Some(next) => at = next,
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                return frame_end(buf, at);
            }
            Ok(Some(at))
        }
        other => Err(FrameError::BadType(other)),
    }
}

/// Renders bytes readably: printable ASCII as is, `\r \n \t \\ \"` escaped,
/// everything else as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What [`RawConn::read_until_closed`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    pub bytes: Vec<u8>,
    /// True if the peer closed the connection; false if the wait timed out.
    pub closed: bool,
}

/// A plain TCP connection that sends raw bytes and reads raw replies.
pub struct RawConn {
    stream: TcpStream,
    /// Bytes received but not yet handed out.
    pending: Vec<u8>,
    timeout: Duration,
}

impl RawConn {
    pub fn new(stream: TcpStream, timeout: Duration) -> RawConn {
        let _ = stream.set_nodelay(true);
        RawConn {
            stream,
            pending: Vec::new(),
            timeout,
        }
    }

    pub fn connect(addr: &str) -> io::Result<RawConn> {
        Ok(RawConn::new(TcpStream::connect(addr)?, READ_TIMEOUT))
    }

    /// Changes how long reads wait for data.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes all of `bytes`; panics on failure.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).expect("send to server");
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Closes the writing half, so the server sees EOF.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads more bytes into `pending`, waiting at most until `deadline`.
    /// Returns the number of bytes read (0 means the peer closed).
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads exactly one complete reply, or fails on timeout, EOF or
    /// unparsable data (the error message includes the bytes seen).
    pub fn try_read_reply(&mut self) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match reply_len(&self.pending) {
                Ok(Some(n)) => return Ok(self.pending.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{e:?} in {}", escape(&self.pending)),
                    ));
                }
            }
            match self.fill(deadline) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection closed; pending {}", escape(&self.pending)),
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{e}; pending {}", escape(&self.pending)),
                    ));
                }
            }
        }
    }

    /// Reads exactly one complete reply; panics on failure.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// Reads `n` replies and returns them concatenated.
    pub fn read_replies(&mut self, n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| self.read_reply()).collect()
    }

    /// Encodes `args` as a multibulk, sends it and reads one reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode_command(args));
        self.read_reply()
    }

    /// Everything received until the server closes the connection or the
    /// timeout passes without it closing; `closed` tells which happened.
    pub fn read_until_closed(&mut self) -> Drained {
        let deadline = Instant::now() + self.timeout;
        let closed = loop {
            match self.fill(deadline) {
                Ok(0) => break true,
                Ok(_) => {}
                // A reset after the server closed with unread input counts as closed.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        Drained {
            bytes: std::mem::take(&mut self.pending),
            closed,
        }
    }
}

/// Splits a line into arguments the way redis-cli does: whitespace separates
/// arguments; `"..."` understands `\n \r \t \b \a \xHH` and `\<any>` for the
/// character itself; `'...'` understands only `\'`. A closing quote must be
/// followed by whitespace or the end of the line. Returns `None` for
/// unbalanced quotes or a closing quote glued to more text.
pub fn split_args(line: &str) -> Option<Vec<Vec<u8>>> {
    let s = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == s.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        // Builds one argument; quoted sections may follow plain text.
        loop {
            match s.get(i) {
                None => break,
                Some(c) if c.is_ascii_whitespace() => break,
                Some(b'"') => {
                    i += 1;
                    loop {
                        match *s.get(i)? {
                            b'"' => break,
                            b'\\' => {
                                let next = *s.get(i + 1)?;
                                let hex =
                                    |k: usize| s.get(k).and_then(|&c| (c as char).to_digit(16));
                                if let (b'x', Some(hi), Some(lo)) = (next, hex(i + 2), hex(i + 3)) {
                                    arg.push((hi * 16 + lo) as u8);
                                    i += 4;
                                    continue;
                                }
                                arg.push(match next {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 0x08,
                                    b'a' => 0x07,
                                    other => other,
                                });
                                i += 2;
                            }
                            c => {
                                arg.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1; // the closing quote
                    if s.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return None;
                    }
                }
                Some(b'\'') => {
                    i += 1;
                    loop {
                        match *s.get(i)? {
                            b'\'' => break,
                            b'\\' if s.get(i + 1) == Some(&b'\'') => {
                                arg.push(b'\'');
                                i += 2;
                            }
                            c => {
                                arg.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                    if s.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return None;
                    }
                }
                Some(&c) => {
                    arg.push(c);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
}

/// `blocked_clients` from `INFO clients`.
pub fn blocked_clients(c: &mut redis::Connection) -> usize {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Waits until INFO reports `n` blocked clients (at most 5 s).
pub fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let start = Instant::now();
    while blocked_clients(c) != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "blocked_clients never reached {n}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

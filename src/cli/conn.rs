//! A blocking connection to the server: connecting over TCP or a Unix
//! socket, the session set-up (`AUTH`, `SELECT`, `HELLO 3`) and
//! request/reply round trips.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::resp::{self, Reply};

/// Where and how to connect; kept so the REPL can reconnect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// A Unix socket path takes precedence over host and port.
    pub socket: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: i64,
    pub resp3: bool,
}

impl Target {
    /// `host:port`, or the socket path.
    pub fn addr(&self) -> String {
        match &self.socket {
            Some(path) => path.clone(),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A writer half that can be moved to another thread (used by `--pipe`).
pub struct Writer(Stream);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// An open connection.
pub struct Conn {
    reader: BufReader<Stream>,
    writer: Stream,
    /// The protocol the session speaks (2 or 3).
    pub protocol: u8,
}

/// The message of an I/O error without Rust's `(os error N)` suffix.
pub fn describe_io_error(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}

/// A failure to open or set up a connection, already worded for the user.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl Conn {
    /// Opens a plain connection without any session set-up.
    pub fn open(target: &Target) -> Result<Conn, ConnectError> {
        let fail = |e: io::Error| {
            ConnectError(format!(
                "Could not connect to Ember at {}: {}",
                target.addr(),
                describe_io_error(&e)
            ))
        };
        let stream = match &target.socket {
            Some(path) => Stream::Unix(UnixStream::connect(path).map_err(fail)?),
            None => {
                let addrs: Vec<_> = (target.host.as_str(), target.port)
                    .to_socket_addrs()
                    .map_err(fail)?
                    .collect();
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
                let mut ok = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
                        Ok(s) => {
                            ok = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = ok.ok_or_else(|| fail(last))?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
        };
        let writer = stream.try_clone().map_err(fail)?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            protocol: 2,
        })
    }

    /// Opens a connection and runs the session set-up: `AUTH`, `SELECT` and
    /// `HELLO 3` as the target asks. A rejected step is reported on stderr
    /// (as `redis-cli` does) but the connection is still returned.
    pub fn connect(target: &Target) -> Result<Conn, ConnectError> {
        let mut conn = Conn::open(target)?;
        let io_fail = |e: io::Error| {
            ConnectError(format!(
                "Error talking to Ember at {}: {}",
                target.addr(),
                describe_io_error(&e)
            ))
        };
        if let Some(password) = &target.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &target.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            let reply = conn.call(&args).map_err(io_fail)?;
            if let Reply::Error(e) = reply {
                eprintln!("Authentication failed: {}", String::from_utf8_lossy(&e));
            }
        }
        if target.db != 0 {
            let db = target.db.to_string();
            let reply = conn
                .call(&[b"SELECT".as_slice(), db.as_bytes()])
                .map_err(io_fail)?;
            if let Reply::Error(e) = reply {
                eprintln!(
                    "Could not select db {}: {}",
                    target.db,
                    String::from_utf8_lossy(&e)
                );
            }
        }
        if target.resp3 {
            let reply = conn.call(&[b"HELLO".as_slice(), b"3"]).map_err(io_fail)?;
            match reply {
                Reply::Error(e) => {
                    eprintln!("Could not switch to RESP3: {}", String::from_utf8_lossy(&e))
                }
                _ => conn.protocol = 3,
            }
        }
        Ok(conn)
    }

    /// Sends one command without waiting for its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        resp::write_command(&mut self.writer, args)
    }

    /// Reads the next reply.
    pub fn read(&mut self) -> io::Result<Reply> {
        resp::read_reply(&mut self.reader)
    }

    /// Sends a command and waits for its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.send(args)?;
        self.read()
    }

    /// Sets how long a read may block (`None`: forever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// Waits up to `timeout` for reply bytes without consuming any. Returns
    /// false on timeout; end of stream is an `UnexpectedEof` error.
    pub fn wait_readable(&mut self, timeout: Duration) -> io::Result<bool> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        self.set_read_timeout(Some(timeout))?;
        let result = self.reader.fill_buf().map(|b| b.len());
        self.set_read_timeout(None)?;
        match result {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by server",
            )),
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A second handle on the socket for writing from another thread.
    pub fn writer(&self) -> io::Result<Writer> {
        Ok(Writer(self.writer.try_clone()?))
    }
}

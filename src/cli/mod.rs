//! `ember-cli`, the command-line client: one-shot commands, the interactive
//! REPL and the special modes (`--pipe`, `--scan`, `--bigkeys`, `--latency`,
//! `--stat`).
//!
//! It speaks RESP over a blocking socket with its own small codec
//! ([`resp`]) and prints replies the way `redis-cli` does ([`format`]).
//! Nothing here depends on the server modules.

pub mod args;
pub mod conn;
pub mod docs;
pub mod format;
pub mod repl;
pub mod resp;
pub mod split;
pub mod tools;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;

use args::Options;
use conn::{Conn, Target};
use format::{OutputMode, RawDelims};
use resp::Reply;

/// Runs the client with the process's arguments; returns the exit status.
pub fn main() -> i32 {
    run(std::env::args_os())
}

/// Runs the client with the given arguments (the first is the program
/// name); returns the exit status.
pub fn run<I: IntoIterator<Item = OsString>>(argv: I) -> i32 {
    let opts = match Options::try_parse_from(argv) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    if let Some(first) = opts.command.first().and_then(|a| a.to_str())
        && first.len() > 1
        && first.starts_with('-')
    {
        eprintln!("Unrecognized option or missing value: '{first}' (see --help)");
        return 1;
    }
    match run_with(opts) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    }
}

fn os_to_bytes(s: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    s.into_vec()
}

/// Builds the connection target from flags, a URI and the environment.
pub fn target_from(opts: &Options) -> Result<Target, String> {
    let mut target = Target {
        host: opts.host.clone(),
        port: opts.port,
        socket: opts.socket.clone(),
        user: opts.user.clone(),
        password: opts.password.clone().or_else(|| opts.pass.clone()),
        db: opts.db.unwrap_or(0),
        resp3: opts.resp3 && !opts.resp2,
    };
    let mut password_on_command_line = target.password.is_some();
    if let Some(uri) = &opts.uri {
        let u = args::parse_uri(uri)?;
        if let Some(h) = u.host {
            target.host = h;
        }
        if let Some(p) = u.port {
            target.port = p;
        }
        if u.user.is_some() {
            target.user = u.user;
        }
        if u.password.is_some() {
            target.password = u.password;
            password_on_command_line = true;
        }
        if let Some(db) = u.db {
            target.db = db;
        }
    }
    if target.password.is_none() {
        target.password = std::env::var("EMBERCLI_AUTH")
            .or_else(|_| std::env::var("REDISCLI_AUTH"))
            .ok();
    }
    if password_on_command_line && !opts.no_auth_warning {
        eprintln!(
            "Warning: a password on the command line can be seen by other users; \
             prefer the EMBERCLI_AUTH environment variable."
        );
    }
    Ok(target)
}

fn unescape_delim(s: &str) -> Vec<u8> {
    match split::split_args(&format!("\"{}\"", s.replace('"', "\\\""))) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        _ => s.as_bytes().to_vec(),
    }
}

fn run_with(opts: Options) -> Result<i32, String> {
    let target = target_from(&opts)?;
    let mode = if opts.csv {
        OutputMode::Csv
    } else if opts.raw {
        OutputMode::Raw
    } else if opts.no_raw || io::stdout().is_terminal() {
        OutputMode::Standard
    } else {
        OutputMode::Raw
    };
    let mut delims = RawDelims::default();
    if let Some(d) = &opts.item_delim {
        delims.item = unescape_delim(d);
    }
    if let Some(d) = &opts.reply_delim {
        delims.reply = unescape_delim(d);
    }
    let mut session = Session::new(target, mode, delims);
    session.error_exit = opts.error_exit_code;

    if opts.pipe {
        return tools::pipe(&session.target, Duration::from_secs(opts.pipe_timeout));
    }
    if opts.scan {
        return tools::scan(
            &session.target,
            opts.pattern.as_deref(),
            opts.count,
            mode == OutputMode::Standard,
        );
    }
    if opts.bigkeys {
        return tools::bigkeys(&session.target, opts.pattern.as_deref(), opts.count);
    }
    let interval = opts.interval.map(|s| Duration::from_secs_f64(s.max(0.0)));
    if opts.latency {
        return tools::latency(&session.target, interval);
    }
    if opts.stat {
        return tools::stat(&session.target, interval.unwrap_or(Duration::from_secs(1)));
    }

    if opts.command.is_empty() {
        if io::stdin().is_terminal() {
            return Ok(repl::run(session));
        }
        return Ok(session.run_stdin_lines());
    }

    let mut argv: Vec<Vec<u8>> = opts.command.into_iter().map(os_to_bytes).collect();
    if opts.stdin_last_arg {
        let mut data = Vec::new();
        io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| format!("Could not read standard input: {e}"))?;
        argv.push(data);
    }
    if let Err(e) = session.ensure_connected() {
        eprintln!("{e}");
        return Ok(1);
    }
    let repeat = opts.repeat.unwrap_or(1);
    let mut done = 0i64;
    while repeat < 0 || done < repeat {
        if done > 0
            && let Some(i) = interval
        {
            std::thread::sleep(i);
        }
        if session.run_command(&argv).is_err() {
            return Ok(1);
        }
        done += 1;
    }
    Ok(if session.saw_error { 1 } else { 0 })
}

/// Commands whose replies are always printed raw, because they are text
/// meant for people (`INFO`, `CLIENT LIST`, ...).
fn always_raw(args: &[Vec<u8>]) -> bool {
    let word = |i: usize| -> String {
        args.get(i)
            .map(|a| String::from_utf8_lossy(a).to_lowercase())
            .unwrap_or_default()
    };
    let (cmd, sub, n) = (word(0), word(1), args.len());
    match cmd.as_str() {
        "info" | "lolwut" => true,
        "debug" => n >= 2 && (sub == "htstats" || sub == "htstats-key"),
        "memory" => n >= 2 && (sub == "malloc-stats" || sub == "doctor"),
        "cluster" => n == 2 && (sub == "nodes" || sub == "info"),
        "client" => n >= 2 && (sub == "list" || sub == "info"),
        "latency" => (n == 3 && sub == "graph") || (n == 2 && sub == "doctor"),
        _ => false,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, Ctrl-C sets a flag instead of ending the process.
struct CatchInterrupt {
    previous: libc::sighandler_t,
}

impl CatchInterrupt {
    fn new() -> CatchInterrupt {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let handler = on_sigint as extern "C" fn(libc::c_int);
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; the previous handler is restored on drop.
        let previous = unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
        CatchInterrupt { previous }
    }

    fn fired(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for CatchInterrupt {
    fn drop(&mut self) {
        // SAFETY: restores the handler that was installed before.
        unsafe {
            libc::signal(libc::SIGINT, self.previous);
        }
    }
}

/// Why a command could not complete.
#[derive(Debug)]
pub enum CommandFailure {
    /// Could not (re)connect; the message was already printed.
    NotConnected,
    /// The connection broke; the message was already printed.
    ConnectionLost,
}

/// A connection plus how to print what comes back. Shared by the one-shot
/// mode and the REPL.
pub struct Session {
    pub target: Target,
    pub conn: Option<Conn>,
    pub mode: OutputMode,
    pub delims: RawDelims,
    /// `-e`: errors go to stderr and make the exit status 1.
    pub error_exit: bool,
    pub saw_error: bool,
    /// In the REPL a broken connection is re-opened and the command retried.
    pub interactive: bool,
}

impl Session {
    pub fn new(target: Target, mode: OutputMode, delims: RawDelims) -> Session {
        Session {
            target,
            conn: None,
            mode,
            delims,
            error_exit: false,
            saw_error: false,
            interactive: false,
        }
    }

    /// Connects if not connected. The error is already worded for the user.
    pub fn ensure_connected(&mut self) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            let conn = Conn::connect(&self.target).map_err(|e| e.0)?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn print_reply(&mut self, args: &[Vec<u8>], reply: &Reply) {
        if self.error_exit
            && let Reply::Error(e) = reply
        {
            self.saw_error = true;
            let mut err = io::stderr().lock();
            let _ = err.write_all(e);
            let _ = err.write_all(b"\n");
            return;
        }
        let text = if always_raw(args) {
            // Text meant for people is printed as is, without a delimiter.
            format::format_reply(
                reply,
                OutputMode::Raw,
                &RawDelims {
                    item: self.delims.item.clone(),
                    reply: Vec::new(),
                },
            )
        } else {
            format::format_reply(reply, self.mode, &self.delims)
        };
        let mut out = io::stdout().lock();
        let _ = out.write_all(&text);
        let _ = out.flush();
    }

    /// Sends a command and reads its reply, reconnecting once in
    /// interactive mode when the connection turns out to be broken.
    fn round_trip(&mut self, args: &[Vec<u8>]) -> Result<Reply, CommandFailure> {
        let mut attempts = if self.interactive { 2 } else { 1 };
        loop {
            attempts -= 1;
            let conn = match self.ensure_connected() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return Err(CommandFailure::NotConnected);
                }
            };
            match conn.call(args) {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    self.conn = None;
                    if attempts == 0 {
                        report_io_error(&e);
                        return Err(CommandFailure::ConnectionLost);
                    }
                }
            }
        }
    }

    /// Runs one command and prints its reply. Subscriptions and `MONITOR`
    /// keep printing until Ctrl-C or the end of the connection.
    pub fn run_command(&mut self, args: &[Vec<u8>]) -> Result<(), CommandFailure> {
        let Some(first) = args.first() else {
            return Ok(());
        };
        let name = String::from_utf8_lossy(first).to_lowercase();
        if name == "shutdown" {
            // A server that shuts down closes the connection instead of
            // replying: that is success, as redis-cli treats it.
            if let Ok(conn) = self.ensure_connected() {
                match conn.call(args) {
                    Ok(reply) => self.print_reply(args, &reply),
                    Err(_) => self.conn = None,
                }
                return Ok(());
            }
        }
        let reply = self.round_trip(args)?;
        self.note_state_change(&name, args, &reply);
        let streams = matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "ssubscribe" | "monitor"
        );
        if streams && !reply.is_error() {
            eprintln!("Reading messages... (press Ctrl-C to quit)");
            self.print_reply(args, &reply);
            return self.stream(args);
        }
        self.print_reply(args, &reply);
        Ok(())
    }

    /// Tracks `SELECT`, `HELLO` and `AUTH` so prompts and reconnects match
    /// the session the user set up.
    fn note_state_change(&mut self, name: &str, args: &[Vec<u8>], reply: &Reply) {
        if reply.is_error() {
            return;
        }
        let text = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
        match name {
            "select" => {
                if let Some(db) = text(1).and_then(|s| s.parse().ok()) {
                    self.target.db = db;
                }
            }
            "hello" => {
                if let Some(v) = text(1).and_then(|s| s.parse::<u8>().ok()) {
                    self.target.resp3 = v == 3;
                    if let Some(c) = self.conn.as_mut() {
                        c.protocol = v;
                    }
                }
                let mut i = 2;
                while i < args.len() {
                    if text(i).is_some_and(|s| s.eq_ignore_ascii_case("auth")) && i + 2 < args.len()
                    {
                        self.target.user = text(i + 1);
                        self.target.password = text(i + 2);
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
            }
            "auth" => match args.len() {
                2 => {
                    self.target.user = None;
                    self.target.password = text(1);
                }
                3 => {
                    self.target.user = text(1);
                    self.target.password = text(2);
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Prints pushed messages until Ctrl-C or the connection ends.
    fn stream(&mut self, args: &[Vec<u8>]) -> Result<(), CommandFailure> {
        let guard = CatchInterrupt::new();
        loop {
            if guard.fired() {
                // The connection is in a subscribed/monitoring state: replace
                // it with a fresh one (the REPL keeps going).
                println!();
                self.conn = None;
                if self.interactive {
                    self.conn = Conn::connect(&self.target).ok();
                }
                return Ok(());
            }
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            match conn.wait_readable(Duration::from_millis(100)) {
                Ok(false) => continue,
                Ok(true) => match conn.read() {
                    Ok(reply) => self.print_reply(args, &reply),
                    Err(e) => {
                        self.conn = None;
                        report_io_error(&e);
                        return Err(CommandFailure::ConnectionLost);
                    }
                },
                Err(e) => {
                    self.conn = None;
                    report_io_error(&e);
                    return Err(CommandFailure::ConnectionLost);
                }
            }
        }
    }

    /// Reads commands from a non-terminal stdin, one per line, and runs them.
    pub fn run_stdin_lines(&mut self) -> i32 {
        let mut input = String::new();
        let mut data = Vec::new();
        if io::stdin().read_to_end(&mut data).is_err() {
            return 1;
        }
        input.push_str(&String::from_utf8_lossy(&data));
        for line in input.lines() {
            match split::split_args(line) {
                Ok(args) if args.is_empty() => {}
                Ok(args) => {
                    if let Err(CommandFailure::NotConnected) = self.run_command(&args) {
                        return 1;
                    }
                }
                Err(_) => eprintln!("Invalid argument(s)"),
            }
        }
        if self.saw_error { 1 } else { 0 }
    }
}

/// Prints a broken-connection error in plain words.
pub fn report_io_error(e: &io::Error) {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        eprintln!("Error: the server closed the connection");
    } else {
        eprintln!("Error: {}", conn::describe_io_error(e));
    }
}

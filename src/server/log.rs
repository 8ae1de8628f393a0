//! Log lines in Redis's format: `pid:role dd Mon yyyy hh:mm:ss.mmm <lvl> msg`,
//! where the level mark is `.` debug, `-` verbose, `*` notice, `#` warning.
//! Scripts and supervisors scrape these lines, so the format matters.

use crate::config::LogLevel;
use parking_lot::Mutex;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(2);
/// Where lines go: `None` = stdout.
static SINK: Mutex<Option<String>> = Mutex::new(None);
/// Role letter: `C` before the server is initialised, `M` after.
static ROLE: AtomicU8 = AtomicU8::new(b'C');

fn level_num(l: LogLevel) -> u8 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
    }
}

/// Sets the minimum level and the log file (empty = stdout).
pub fn configure(level: LogLevel, logfile: &str) {
    LEVEL.store(level_num(level), Ordering::Relaxed);
    *SINK.lock() = (!logfile.is_empty()).then(|| logfile.to_string());
}

/// Switches the role letter (`M` once running as a primary).
pub fn set_role(role: u8) {
    ROLE.store(role, Ordering::Relaxed);
}

/// Local time as `22 Nov 2026 07:40:14.699`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let millis = now.subsec_millis();
    // SAFETY: localtime_r writes into the tm we own; strftime writes at most
    // buf.len() bytes into buf and returns how many.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%d %b %Y %H:%M:%S".as_ptr(),
            &tm,
        );
        format!("{}.{millis:03}", String::from_utf8_lossy(&buf[..n]))
    }
}

/// Writes one line at `level` if the configured level lets it through.
pub fn log(level: LogLevel, msg: &str) {
    if level_num(level) < LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let mark = match level {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        LogLevel::Warning => '#',
    };
    let line = format!(
        "{}:{} {} {mark} {msg}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp()
    );
    raw(&line);
}

/// Writes pre-formatted text (the banner) to the log sink.
pub fn raw(text: &str) {
    let sink = SINK.lock();
    match &*sink {
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Some(path) => {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(text.as_bytes());
            }
        }
    }
}

pub fn debug(msg: &str) {
    log(LogLevel::Debug, msg)
}

pub fn verbose(msg: &str) {
    log(LogLevel::Verbose, msg)
}

pub fn notice(msg: &str) {
    log(LogLevel::Notice, msg)
}

pub fn warning(msg: &str) {
    log(LogLevel::Warning, msg)
}

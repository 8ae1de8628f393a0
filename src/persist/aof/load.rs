//! Loading AOF files at start-up: each command of a RESP file is replayed
//! through the normal dispatcher by a fake client (replies dropped, nothing
//! propagated since the feed is not active yet). A torn last command is
//! handled as `aof-load-truncated` says, with Redis's log lines.

use crate::commands::{self, Args};
use crate::protocol::reply::{Reply, Resp};
use crate::server::client::{Client, ClientInfo};
use crate::server::log;
use crate::server::shared::Shared;
use std::sync::Arc;

/// What one RESP file held.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// Every command was read.
    Complete,
    /// The file ended inside a command (or inside MULTI); commands up to
    /// this byte offset were applied.
    Truncated(u64),
}

/// A malformed file: Redis refuses to start.
#[derive(Debug)]
pub struct BadFormat;

/// One command parsed from the file.
enum Step {
    /// Arguments as spans into the file, and where the next one starts.
    Command(Vec<(u32, u32)>, usize),
    /// End of file at a command boundary.
    End,
    /// The file ends inside a command.
    Torn,
    Bad,
}

/// Reads a `\r\n`-terminated line starting at `pos`: (line, next pos).
fn line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = &data[pos..];
    let nl = memchr::memchr(b'\n', rest)?;
    let l = &rest[..nl];
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    Some((l, pos + nl + 1))
}

fn number(l: &[u8]) -> Option<i64> {
    std::str::from_utf8(l).ok()?.trim().parse().ok()
}

/// Parses the command at `pos` as Redis's loader does (`*argc`, then
/// `$len` + bytes for each argument).
fn step(data: &[u8], pos: usize) -> Step {
    if pos >= data.len() {
        return Step::End;
    }
    let Some((l, mut p)) = line(data, pos) else {
        return Step::Torn;
    };
    if l.first() != Some(&b'*') {
        return Step::Bad;
    }
    let argc = match number(&l[1..]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Step::Bad,
    };
    let mut spans = Vec::with_capacity(argc);
    for _ in 0..argc {
        let Some((l, next)) = line(data, p) else {
            return Step::Torn;
        };
        if l.first() != Some(&b'$') {
            return Step::Bad;
        }
        let len = match number(&l[1..]) {
            Some(n) if n >= 0 => n as usize,
            _ => return Step::Bad,
        };
        if next + len + 2 > data.len() {
            return Step::Torn;
        }
        if u32::try_from(next + len).is_err() {
            return Step::Bad;
        }
        spans.push((next as u32, (next + len) as u32));
        p = next + len + 2;
    }
    Step::Command(spans, p)
}

/// A client that replays commands: authenticated, never replied to.
pub fn fake_client(srv: &Shared) -> Client {
    let info = Arc::new(ClientInfo::new(
        u64::MAX,
        String::new(),
        String::new(),
        -1,
        false,
    ));
    let mut c = Client::new(srv, info, srv.workers.len() - 1, true);
    c.authenticated = true;
    c.no_evict = true;
    c
}

/// Replays the RESP commands in `data` (the file `name`). `Err` means
/// Redis would refuse to start (the reason is logged).
pub fn replay(srv: &Shared, name: &str, data: &[u8]) -> Result<Loaded, BadFormat> {
    let mut client = fake_client(srv);
    let mut out = Reply::new(Resp::V2);
    let mut pos = 0usize;
    // Where the open MULTI started: a transaction without EXEC at the end
    // is dropped as a torn command would be.
    let mut before_multi = 0usize;
    loop {
        match step(data, pos) {
            Step::Command(spans, next) => {
                let args = Args::new(data, &spans);
                let cmd = args.get(0);
                if srv.table.lookup(cmd).is_none() {
                    log::warning(&format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(cmd)
                    ));
                    return Err(BadFormat);
                }
                if client.multi.is_none() {
                    before_multi = pos;
                }
                commands::execute(srv, &mut client, &mut out, &args);
                out.truncate(0);
                pos = next;
            }
            Step::End => {
                if client.multi.is_some() {
                    log::warning(&format!(
                        "Revert incomplete MULTI/EXEC transaction in AOF file {name}"
                    ));
                    return Ok(Loaded::Truncated(before_multi as u64));
                }
                return Ok(Loaded::Complete);
            }
            Step::Torn => {
                let valid = if client.multi.is_some() {
                    before_multi
                } else {
                    pos
                };
                return Ok(Loaded::Truncated(valid as u64));
            }
            Step::Bad => {
                log::warning(&format!(
                    "Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                ));
                return Err(BadFormat);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn srv() -> Shared {
        Shared::new(Arc::new(Config::default()), 1)
    }

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        crate::storage::feed::encode_command(&mut v, args.iter().map(|a| a.as_bytes()));
        v
    }

    #[test]
    fn replays_commands_and_reports_torn_tails() {
        let s = srv();
        let mut data = [
            cmd(&["SELECT", "0"]),
            cmd(&["SET", "a", "1"]),
            cmd(&["RPUSH", "l", "x", "y"]),
        ]
        .concat();
        let good = data.len();
        assert_eq!(replay(&s, "f", &data).unwrap(), Loaded::Complete);
        data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nx");
        let s = srv();
        assert_eq!(
            replay(&s, "f", &data).unwrap(),
            Loaded::Truncated(good as u64)
        );
        assert!(s.keyspace.view_one(0, b"a").get(b"a").is_some());
        assert!(s.keyspace.view_one(0, b"b").get(b"b").is_none());
    }

    #[test]
    fn an_unfinished_transaction_is_dropped() {
        let s = srv();
        let head = [cmd(&["SELECT", "0"]), cmd(&["SET", "a", "1"])].concat();
        let data = [
            head.clone(),
            cmd(&["MULTI"]),
            cmd(&["SET", "b", "1"]),
            cmd(&["SET", "c", "1"]),
        ]
        .concat();
        assert_eq!(
            replay(&s, "f", &data).unwrap(),
            Loaded::Truncated(head.len() as u64)
        );
        let mut db = s.keyspace.view_one(0, b"b");
        assert!(db.get(b"b").is_none());
    }

    #[test]
    fn garbage_and_unknown_commands_are_refused() {
        assert!(replay(&srv(), "f", b"SET a 1\r\n").is_err());
        assert!(replay(&srv(), "f", &cmd(&["NOSUCHCMD", "x"])).is_err());
        assert!(replay(&srv(), "f", b"*1\r\n#3\r\nfoo\r\n").is_err());
    }
}

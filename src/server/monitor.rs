//! MONITOR: every command a client runs, streamed to the monitoring clients
//! as Redis formats it (`+<secs>.<usecs> [<db> <addr>] "CMD" "arg" …`), with
//! passwords redacted. Free while nobody monitors (one relaxed load per
//! command).

use crate::commands::Args;
use crate::config::OutputLimit;
use crate::server::client::ClientInfo;
use crate::server::shared::Shared;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: RwLock<Vec<Arc<ClientInfo>>>,
}

/// Appends `s` quoted as Redis's `sdscatrepr` does.
fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Whether argument `i` of a command is a secret MONITOR must not show.
fn redacted(args: &Args, i: usize) -> bool {
    let name = args.get(0);
    if name.eq_ignore_ascii_case(b"auth") {
        return i >= 1;
    }
    if name.eq_ignore_ascii_case(b"hello") {
        // HELLO <ver> ... AUTH <user> <pass> ...: user name and password.
        return (2..args.len())
            .any(|j| args.get(j).eq_ignore_ascii_case(b"auth") && (i == j + 1 || i == j + 2));
    }
    false
}

impl Monitors {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    pub fn add(&self, c: &Arc<ClientInfo>) {
        let mut list = self.list.write();
        if !list.iter().any(|m| m.id == c.id) {
            list.push(c.clone());
            self.count.store(list.len(), Ordering::Relaxed);
        }
    }

    pub fn remove(&self, id: u64) {
        let mut list = self.list.write();
        list.retain(|m| m.id != id);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Sends one executed command to every monitor (RESP2 status line),
    /// under `limit` (the `normal` class: a monitor is a normal client for
    /// `client-output-buffer-limit`, as in Redis).
    pub fn feed(
        &self,
        srv: &Shared,
        db: usize,
        from: Option<&ClientInfo>,
        args: &Args,
        limit: &OutputLimit,
    ) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now.as_secs(),
            now.subsec_micros(),
            db,
            match from {
                // A command run by a Lua script.
                None => "lua".to_string(),
                Some(c) if c.unix_socket => format!("unix:{}", c.laddr),
                Some(c) => c.addr.clone(),
            }
        )
        .into_bytes();
        for i in 0..args.len() {
            line.push(b' ');
            if redacted(args, i) {
                quote(&mut line, b"(redacted)");
            } else {
                quote(&mut line, args.get(i));
            }
        }
        line.extend_from_slice(b"\r\n");
        for m in self.list.read().iter() {
            m.mailbox.deliver(srv, m, &line, limit);
        }
    }
}

//! The one stream of executed write commands, which persistence (AOF) and
//! replication consume. Commands never know who listens: the dispatcher
//! appends each write that changed the dataset (in a deterministic form a
//! handler may choose, e.g. `EXPIRE` → `PEXPIREAT`), the keyspace appends
//! `DEL` for keys it expires, and a transaction's writes are wrapped in
//! `MULTI`/`EXEC`.
//!
//! Commands are appended while their shards are still locked, so two
//! commands touching the same key appear in the order they ran; commands on
//! different shards commute. The stream is RESP, with `SELECT` inserted
//! whenever the database changes. While no consumer is attached
//! ([`Feed::active`] is false) nothing is encoded: one relaxed load per
//! write command.
//!
//! The feed fans out, under its one lock, to two consumers: the AOF's
//! buffer (taken by the AOF writer with [`Feed::take`]) and, with the tee
//! on ([`Feed::set_tee`]), the replication backlog (`storage::backlog`),
//! which replicas are sent from. A replica turns the tee off: its backlog
//! holds its primary's stream verbatim ([`Feed::push_repl`]), so offsets
//! stay those of the primary for its own replicas, while its AOF gets the
//! commands it applied. Bytes only replicas see (`PING` keep-alives,
//! `REPLCONF GETACK`) also go through [`Feed::push_repl`].

use super::backlog::Backlog;
use parking_lot::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Appends the RESP multibulk encoding of `args` to `out`.
pub fn encode_command<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(num.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Commands one command (or one transaction) produced: `(db, RESP bytes)`.
pub type Pending = Vec<(usize, Vec<u8>)>;

/// The stream's state behind its lock.
#[derive(Default)]
struct Inner {
    /// Bytes not taken by the consumer yet.
    buf: Vec<u8>,
    /// Database of the last command appended (`SELECT` is inserted when a
    /// command's database differs).
    last_db: Option<usize>,
    /// Bytes appended since start (the end of `buf` in stream offsets).
    offset: u64,
    /// True while the AOF consumes `buf`.
    aof: bool,
    /// True while appended commands are copied into `backlog`.
    tee: bool,
    /// The replication backlog (created with the first replica).
    backlog: Option<Backlog>,
    /// Encoding space when only the tee consumes.
    scratch: Vec<u8>,
}

/// See the module documentation.
#[derive(Default)]
pub struct Feed {
    active: AtomicBool,
    /// Copy of `Inner::offset`, published after each append so that a
    /// connection waiting for durability (`appendfsync always`) reads it
    /// without taking the lock.
    published: AtomicU64,
    inner: Mutex<Inner>,
    /// Called after each append, outside the lock (wakes the consumer).
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Called after the backlog grew (wakes the replicas' senders).
    repl_waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Copy of the backlog's end (`master_repl_offset`), for lock-free reads.
    repl_end: AtomicU64,
    /// Bytes Redis leaves out of `maxmemory`'s count: the AOF buffer not
    /// written yet and the replication buffer kept beyond
    /// `repl-backlog-size` for lagging replicas (published after each
    /// change, read lock-free).
    uncounted: AtomicU64,
    /// The AOF buffer's part of `uncounted` (INFO `mem_aof_buffer`).
    aof_bytes: AtomicU64,
}

impl Inner {
    /// (`uncounted`, AOF buffer bytes) of this state.
    fn uncounted(&self) -> (u64, u64) {
        let aof = if self.aof {
            self.buf.capacity() as u64
        } else {
            0
        };
        let repl = self
            .backlog
            .as_ref()
            .map_or(0, |b| b.histlen().saturating_sub(b.size()));
        (aof + repl, aof)
    }
}

impl Feed {
    /// Bytes `maxmemory` does not count (see the field).
    #[inline]
    pub fn uncounted_bytes(&self) -> u64 {
        self.uncounted.load(Ordering::Relaxed)
    }

    /// The AOF buffer's bytes (INFO `mem_aof_buffer`).
    pub fn aof_buffer_bytes(&self) -> u64 {
        self.aof_bytes.load(Ordering::Relaxed)
    }

    fn publish_uncounted(&self, g: &Inner) {
        let (all, aof) = g.uncounted();
        self.uncounted.store(all, Ordering::Relaxed);
        self.aof_bytes.store(aof, Ordering::Relaxed);
    }

    /// True when a consumer is attached: writes must be appended.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Attaches or detaches the AOF consumer. Detaching drops what was not
    /// taken; the next append after attaching starts with a `SELECT`.
    pub fn set_active(&self, on: bool) {
        let mut g = self.inner.lock();
        if !on {
            g.buf = Vec::new();
        }
        g.aof = on;
        g.last_db = None;
        self.active.store(g.aof || g.tee, Ordering::Relaxed);
        self.publish_uncounted(&g);
    }

    /// Starts or stops copying appended commands into the replication
    /// backlog (creating it, continuing at stream offset `end`, if there is
    /// none). The next command starts with a `SELECT`.
    pub fn set_tee(&self, on: bool, end: u64, size: u64, hard: u64) {
        let mut g = self.inner.lock();
        if on && g.backlog.is_none() {
            g.backlog = Some(Backlog::new(end, size, hard));
            self.repl_end.store(end, Ordering::Release);
        }
        g.tee = on;
        g.last_db = None;
        self.active.store(g.aof || g.tee, Ordering::Relaxed);
    }

    /// Runs `f` on the backlog (None: there is none) under the feed's lock:
    /// nothing is appended meanwhile.
    pub fn with_backlog<R>(&self, f: impl FnOnce(&mut Option<Backlog>) -> R) -> R {
        let mut g = self.inner.lock();
        let r = f(&mut g.backlog);
        let end = g.backlog.as_ref().map(|b| b.end());
        drop(g);
        if let Some(end) = end {
            self.repl_end.store(end, Ordering::Release);
        }
        r
    }

    /// Appends bytes to the replication stream only (not the AOF):
    /// keep-alives, ACK requests, and on a replica its primary's stream.
    pub fn push_repl(&self, bytes: &[u8]) {
        {
            let mut g = self.inner.lock();
            let Some(b) = g.backlog.as_mut() else {
                return;
            };
            b.push(bytes);
            self.repl_end.store(b.end(), Ordering::Release);
            self.publish_uncounted(&g);
        }
        if let Some(w) = self.repl_waker.get() {
            w();
        }
    }

    /// The replication offset: bytes ever put in the backlog's stream.
    pub fn repl_offset(&self) -> u64 {
        self.repl_end.load(Ordering::Acquire)
    }

    /// Installs the function called after the backlog grew.
    pub fn set_repl_waker(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.repl_waker.set(f);
    }

    /// Installs the function called after each append.
    pub fn set_waker(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(f);
    }

    /// Forgets the database of the last command, so the next append starts
    /// with a `SELECT` (a consumer starting a new file does this).
    pub fn reset_db(&self) {
        self.inner.lock().last_db = None;
    }

    /// Appends the commands of one command run; with `wrap` and more than
    /// one command they are wrapped in `MULTI` … `EXEC` (a transaction).
    pub fn append(&self, cmds: &Pending, wrap: bool) {
        if cmds.is_empty() {
            return;
        }
        let teed;
        {
            let mut guard = self.inner.lock();
            let g = &mut *guard;
            // Encoded into the AOF's buffer, or scratch space when only
            // the tee listens.
            let mut scratch = std::mem::take(&mut g.scratch);
            let out = if g.aof { &mut g.buf } else { &mut scratch };
            let start = out.len();
            let wrap = wrap && cmds.len() > 1;
            let mut first = true;
            for (db, bytes) in cmds {
                if g.last_db != Some(*db) {
                    let mut num = itoa::Buffer::new();
                    let n = num.format(*db);
                    encode_command(out, [&b"SELECT"[..], n.as_bytes()].into_iter());
                    g.last_db = Some(*db);
                }
                if wrap && first {
                    out.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
                }
                first = false;
                out.extend_from_slice(bytes);
            }
            if wrap {
                out.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
            }
            let added = (out.len() - start) as u64;
            teed = g.tee;
            if g.tee
                && let Some(b) = g.backlog.as_mut()
            {
                b.push(&out[start..]);
                self.repl_end.store(b.end(), Ordering::Release);
            }
            scratch.clear();
            g.scratch = scratch;
            g.offset += added;
            self.published.store(g.offset, Ordering::Release);
            self.publish_uncounted(g);
        }
        if let Some(w) = self.waker.get() {
            w();
        }
        if teed && let Some(w) = self.repl_waker.get() {
            w();
        }
    }

    /// Takes everything appended so far; returns it with the stream offset
    /// of its end.
    pub fn take(&self) -> (Vec<u8>, u64) {
        let mut g = self.inner.lock();
        let buf = std::mem::take(&mut g.buf);
        self.publish_uncounted(&g);
        (buf, g.offset)
    }

    /// Stream offset of the end of what was appended.
    pub fn offset(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_command(&mut v, args.iter().map(|a| a.as_bytes()));
        v
    }

    #[test]
    fn appends_select_on_database_changes_and_wraps_transactions() {
        let f = Feed::default();
        f.set_active(true);
        f.append(&vec![(0, cmd(&["SET", "a", "1"]))], false);
        f.append(&vec![(0, cmd(&["DEL", "a"]))], false);
        f.append(
            &vec![(3, cmd(&["SET", "b", "2"])), (3, cmd(&["INCR", "c"]))],
            true,
        );
        // A one-command transaction is not wrapped (as Redis 7.0).
        f.append(&vec![(3, cmd(&["INCR", "c"]))], true);
        let (buf, off) = f.take();
        let want = [
            cmd(&["SELECT", "0"]),
            cmd(&["SET", "a", "1"]),
            cmd(&["DEL", "a"]),
            cmd(&["SELECT", "3"]),
            cmd(&["MULTI"]),
            cmd(&["SET", "b", "2"]),
            cmd(&["INCR", "c"]),
            cmd(&["EXEC"]),
            cmd(&["INCR", "c"]),
        ]
        .concat();
        assert_eq!(
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(&want)
        );
        assert_eq!(off, want.len() as u64);
        assert!(f.take().0.is_empty());
        f.reset_db();
        f.append(&vec![(3, cmd(&["DEL", "c"]))], false);
        assert!(f.take().0.starts_with(&cmd(&["SELECT", "3"])));
    }
}

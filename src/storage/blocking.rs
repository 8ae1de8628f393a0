//! Clients blocked on keys (BLPOP, BLMOVE, BLMPOP, BZPOPMIN/BZPOPMAX/BZMPOP,
//! XREAD/XREADGROUP BLOCK): the per-shard registry of [`Waiter`]s and
//! their states.
//!
//! Each shard keeps, under its own lock, a FIFO queue of waiters per
//! (database, key) and a list of keys made "ready" by a write since the
//! last serving pass. A write that may feed a waiter (any change through
//! `Db`, see `Db::signal`) marks the key ready when it has waiters; before
//! the dispatcher releases the shard locks, `Db::serve_ready` walks the
//! ready keys and hands data to the waiters in the order they blocked.
//!
//! A waiter's `state` decides races between the thread that serves it and
//! its own connection (timeout, CLIENT UNBLOCK, disconnect): a server must
//! move it `WAITING → CLAIMED` before touching data, and the connection
//! must move it `WAITING → CANCELLED` before giving up, so exactly one
//! side wins and a popped element is never lost or delivered twice.
//!
//! What "serving" means is type specific, so a waiter carries a
//! [`ServeFn`] and an opaque descriptor (`spec`) set by the command family;
//! this module only knows the queues and the states.

use super::keyspace::Db;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Waiting in the queues of its keys.
pub const WAITING: u8 = 0;
/// A server is handing it data right now (under the key's shard lock).
pub const CLAIMED: u8 = 1;
/// Served: its reply is in `reply`.
pub const SERVED: u8 = 2;
/// Given up (timeout, CLIENT UNBLOCK, disconnect, or finished by a rerun).
pub const CANCELLED: u8 = 3;
/// Data arrived but serving needs shards the server did not hold: the
/// client must run its command again itself. It keeps its place at the
/// head of the queue (no one behind it is served) until it does.
pub const RETRY: u8 = 4;

/// What a serve attempt did.
pub enum Serve {
    /// Served; these are the reply bytes (in the waiter's protocol).
    Done(Vec<u8>),
    /// The key has nothing for this waiter: stop serving this key.
    Empty,
    /// This waiter cannot take from this key now (for example a BLMOVE
    /// whose destination holds another type): try the next waiter.
    Skip,
    /// Serving needs shards that are not locked: ask the client to rerun.
    Retry,
}

/// Serves waiter `w` from `key` (in `w.db`, the view's current database);
/// the waiter is already CLAIMED.
pub type ServeFn = fn(&mut Db, &[u8], &Waiter) -> Serve;

/// One blocked client.
pub struct Waiter {
    pub client_id: u64,
    /// Database of the keys.
    pub db: usize,
    /// Keys it waits on, in the command's order.
    pub keys: Vec<Vec<u8>>,
    /// True when the client speaks RESP3 (the reply is built for it).
    pub resp3: bool,
    /// How to serve it, and the type-specific descriptor it reads.
    pub serve: ServeFn,
    pub spec: Box<dyn Any + Send + Sync>,
    state: AtomicU8,
    reply: Mutex<Option<Vec<u8>>>,
    /// Wakes the blocked connection (a permit is kept if it is not
    /// waiting yet, so no wake-up is lost).
    pub notify: tokio::sync::Notify,
}

impl Waiter {
    pub fn new(
        client_id: u64,
        db: usize,
        keys: Vec<Vec<u8>>,
        resp3: bool,
        serve: ServeFn,
        spec: Box<dyn Any + Send + Sync>,
    ) -> Waiter {
        Waiter {
            client_id,
            db,
            keys,
            resp3,
            serve,
            spec,
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
        }
    }

    #[inline]
    pub fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Atomically moves from `from` to `to`; false if the state was not
    /// `from`.
    pub fn transition(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The reply of a served waiter (once).
    pub fn take_reply(&self) -> Option<Vec<u8>> {
        self.reply.lock().take()
    }

    /// Stores the reply, marks it served and wakes its connection.
    fn complete(&self, reply: Vec<u8>) {
        *self.reply.lock() = Some(reply);
        self.state.store(SERVED, Ordering::Release);
        self.notify.notify_one();
    }
}

/// One shard's blocked clients.
#[derive(Default)]
pub struct BlockRegistry {
    /// FIFO queue of waiters per (database, key).
    pub queues: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    /// Keys written since the last serving pass that have waiters.
    pub ready: Vec<(usize, Vec<u8>)>,
}

impl BlockRegistry {
    #[inline]
    pub fn has_waiters(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Marks (db, key) ready if someone waits on it.
    pub fn mark_ready(&mut self, db: usize, key: &[u8]) {
        // The tuple key needs an owned Vec; only paid when waiters exist.
        let k = (db, key.to_vec());
        if self.queues.contains_key(&k) && !self.ready.contains(&k) {
            self.ready.push(k);
        }
    }

    /// Marks every waited-on key of the databases in `dbs` ready (SWAPDB).
    pub fn mark_all_ready(&mut self, dbs: &[usize]) {
        let keys: Vec<(usize, Vec<u8>)> = self
            .queues
            .keys()
            .filter(|(d, _)| dbs.contains(d))
            .cloned()
            .collect();
        for k in keys {
            if !self.ready.contains(&k) {
                self.ready.push(k);
            }
        }
    }

    pub fn add(&mut self, db: usize, key: &[u8], w: Arc<Waiter>) {
        self.queues
            .entry((db, key.to_vec()))
            .or_default()
            .push_back(w);
    }

    /// Removes `w` from the queue of (db, key); true if it was there. The
    /// key is marked ready when others still wait (the removed waiter may
    /// have been holding the head).
    pub fn remove(&mut self, db: usize, key: &[u8], w: &Arc<Waiter>) -> bool {
        let k = (db, key.to_vec());
        let Some(q) = self.queues.get_mut(&k) else {
            return false;
        };
        let before = q.len();
        q.retain(|x| !Arc::ptr_eq(x, w));
        let found = q.len() != before;
        if q.is_empty() {
            self.queues.remove(&k);
        } else if found && !self.ready.contains(&k) {
            self.ready.push(k);
        }
        found
    }

    /// Number of (waiter, key) registrations (tests, leak checks).
    pub fn registrations(&self) -> usize {
        self.queues.values().map(|q| q.len()).sum()
    }
}

/// Serves the waiters of (db, key) in FIFO order while the key has data
/// for them. Called with the key's shard locked, through `Db`.
pub fn serve_key(db: &mut Db, dbi: usize, key: &[u8]) {
    let mut skip = 0usize;
    loop {
        let Some(w) = db.waiter_at(dbi, key, skip) else {
            return;
        };
        match w.state() {
            WAITING => {}
            RETRY => return,
            // Served, cancelled or being served elsewhere: its connection
            // removes it; drop it from this queue now.
            _ => {
                db.unblock_from(dbi, key, &w);
                continue;
            }
        }
        if !w.transition(WAITING, CLAIMED) {
            continue;
        }
        let saved = db.index;
        db.index = dbi;
        let outcome = (w.serve)(db, key, &w);
        db.index = saved;
        match outcome {
            Serve::Done(reply) => {
                // The ServeFn performed the non-blocking form through `Db`
                // (BLPOP → LPOP, BLMOVE → LMOVE …) and propagated it with
                // `Db::propagate_as`, after the write that woke it.
                db.unblock_from(dbi, key, &w);
                w.complete(reply);
            }
            Serve::Empty => {
                w.transition(CLAIMED, WAITING);
                return;
            }
            Serve::Skip => {
                w.transition(CLAIMED, WAITING);
                skip += 1;
            }
            Serve::Retry => {
                w.transition(CLAIMED, RETRY);
                w.notify.notify_one();
                return;
            }
        }
    }
}

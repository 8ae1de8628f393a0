//! Keyspace notifications: the event classes of `notify-keyspace-events`
//! and the hook through which the keyspace and the commands report events.
//!
//! The storage layer knows nothing of Pub/Sub: the server installs a sink
//! (see `server::notify`) that publishes each event on the
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` channels.
//! While notifications are off (the default) an event costs one relaxed
//! atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Flag bits, the same as the config's parse of `notify-keyspace-events`.
pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
/// Class `g`: DEL, EXPIRE, RENAME …
pub const GENERIC: u32 = 1 << 2;
/// Class `$`.
pub const STRING: u32 = 1 << 3;
/// Class `l`.
pub const LIST: u32 = 1 << 4;
/// Class `s`.
pub const SET: u32 = 1 << 5;
/// Class `h`.
pub const HASH: u32 = 1 << 6;
/// Class `z`.
pub const ZSET: u32 = 1 << 7;
/// Class `x`: a key reached its TTL.
pub const EXPIRED: u32 = 1 << 8;
/// Class `e`: a key was evicted for maxmemory.
pub const EVICTED: u32 = 1 << 9;
/// Class `t`.
pub const STREAM: u32 = 1 << 10;
/// Class `d` (modules: never emitted by Ember).
pub const MODULE: u32 = 1 << 11;
/// Class `n`: a key was created.
pub const NEW: u32 = 1 << 12;
/// Class `m`: a read found no key.
pub const KEY_MISS: u32 = 1 << 13;

/// Receives `(db, event, key, flags)` for every event whose class is on;
/// `flags` says whether the keyspace and/or keyevent channel is wanted.
pub type Sink = Box<dyn Fn(usize, &str, &[u8], u32) + Send + Sync>;

/// The enabled classes and where events go.
#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
    sink: OnceLock<Sink>,
}

impl Notifier {
    /// Sets the enabled classes (the parsed `notify-keyspace-events`).
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Installs where events are delivered (once, at start-up).
    pub fn set_sink(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// True when events of `class` are delivered somewhere.
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        let f = self.flags.load(Ordering::Relaxed);
        f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0
    }

    /// Reports `event` on `key` of database `db`.
    #[inline]
    pub fn emit(&self, class: u32, db: usize, event: &str, key: &[u8]) {
        if self.wants(class) {
            self.emit_slow(db, event, key);
        }
    }

    #[cold]
    fn emit_slow(&self, db: usize, event: &str, key: &[u8]) {
        if let Some(sink) = self.sink.get() {
            sink(db, event, key, self.flags.load(Ordering::Relaxed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn events_reach_the_sink_only_for_enabled_classes() {
        let n = Notifier::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        n.set_sink(Box::new(move |db, ev, key, flags| {
            s2.lock()
                .unwrap()
                .push((db, ev.to_string(), key.to_vec(), flags))
        }));
        n.emit(GENERIC, 0, "del", b"k");
        n.set_flags(GENERIC); // a class but no K/E: still nothing
        n.emit(GENERIC, 0, "del", b"k");
        n.set_flags(GENERIC | KEYEVENT);
        n.emit(STRING, 0, "set", b"k");
        n.emit(GENERIC, 3, "del", b"k");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(3, "del".to_string(), b"k".to_vec(), GENERIC | KEYEVENT)]
        );
    }
}

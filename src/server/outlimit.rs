//! Client output buffer limits (`client-output-buffer-limit`): a client whose
//! replies and Pub/Sub messages pile up unwritten is disconnected once they
//! pass the hard limit of its class, or stay above the soft limit for longer
//! than the soft seconds, as Redis's `checkClientOutputBufferLimits` does.
//!
//! What counts is the client's pending output beyond the first
//! [`REPLY_CHUNK`] bytes (Redis's static reply buffer, which its limits do
//! not count either), shown as CLIENT LIST's `omem`. The connection checks
//! after each command only when its reply buffer has reached
//! [`Trigger::at`] (one compare); a publisher checks the mailbox it appends
//! to; the cron looks at every client with output pending once a second.

use crate::config::{OutputLimit, Settings};
use crate::protocol::reply::REPLY_CHUNK;
use crate::server::client::ClientInfo;
use crate::server::shared::Shared;
use crate::storage::keyspace::unix_ms;
use std::sync::atomic::Ordering;

/// Index of the `normal` class in `Settings::client_output_buffer_limit`.
pub const NORMAL: usize = 0;
/// Index of the `replica` (`slave`) class.
pub const REPLICA: usize = 1;
/// Index of the `pubsub` class.
pub const PUBSUB: usize = 2;

/// The limit class of a client, as Redis's `getClientType` (a MONITOR
/// client counts as normal).
pub fn class_of(info: &ClientInfo) -> usize {
    if info.is_pubsub() { PUBSUB } else { NORMAL }
}

/// Pending output as CLIENT LIST shows it: `(obl, oll, omem)`, where `obl`
/// is what Redis would hold in its static buffer and `oll` the number of
/// 16 KB list blocks beyond it.
pub fn split(pending: usize) -> (usize, usize, usize) {
    let omem = pending.saturating_sub(REPLY_CHUNK);
    (pending - omem, omem.div_ceil(REPLY_CHUNK), omem)
}

/// The pending-output length at which a connection must look closer:
/// `usize::MAX` when its class has no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub at: usize,
}

impl Trigger {
    pub fn new(limit: &OutputLimit) -> Trigger {
        let lowest = match (limit.hard_bytes, limit.soft_bytes) {
            (0, 0) => return Trigger { at: usize::MAX },
            (0, s) => s,
            (h, 0) => h,
            (h, s) => h.min(s),
        };
        Trigger {
            at: (lowest as usize).saturating_add(REPLY_CHUNK),
        }
    }

    /// The trigger of a client's current class.
    pub fn of(settings: &Settings, info: &ClientInfo) -> Trigger {
        Trigger::new(&settings.client_output_buffer_limit[class_of(info)])
    }
}

/// Redis's check: true when `pending` bytes of output break the hard
/// limit, or have been above the soft limit for more than its seconds. The
/// first time the soft limit is seen exceeded its time is recorded; a check
/// below it forgets that time.
pub fn exceeded(info: &ClientInfo, pending: usize, limit: &OutputLimit) -> bool {
    let used = split(pending).2 as u64;
    if used == 0 {
        // As Redis: nothing beyond the static buffer, nothing to check.
        return false;
    }
    if limit.hard_bytes > 0 && used >= limit.hard_bytes {
        return true;
    }
    if limit.soft_bytes > 0 && used >= limit.soft_bytes {
        let now = unix_ms();
        let since = info.obuf_soft_since.load(Ordering::Relaxed);
        if since == 0 {
            info.obuf_soft_since.store(now, Ordering::Relaxed);
            return false;
        }
        // Redis compares whole seconds of its cached clock.
        return (now / 1000 - since / 1000) as u64 > limit.soft_seconds;
    }
    info.obuf_soft_since.store(0, Ordering::Relaxed);
    false
}

/// Disconnects a client over its limit (once), logging Redis's warning with
/// the client's CLIENT LIST description: "scheduled to be closed ASAP" when
/// found while adding output, "closed" when found by the cron.
pub fn close(srv: &Shared, info: &ClientInfo, scheduled: bool) {
    if info.is_killed() {
        return;
    }
    let mut line = String::new();
    crate::commands::connection::describe(&mut line, srv, info, None);
    let how = if scheduled {
        "scheduled to be closed ASAP"
    } else {
        "closed"
    };
    crate::server::log::warning(&format!(
        "Client {line} {how} for overcoming of output buffer limits."
    ));
    info.kill();
}

/// The cron's pass (about once a second, as Redis's `clientsCron` visits
/// every client): a client that stays above its soft limit is closed even
/// when no new output comes.
pub fn cron(srv: &Shared, settings: &Settings) {
    for c in srv.client_list() {
        if c.out_pending.load(Ordering::Relaxed) == 0 && !c.mailbox.has_pending() {
            continue;
        }
        let limit = &settings.client_output_buffer_limit[class_of(&c)];
        if exceeded(&c, c.pending_output(), limit) {
            close(srv, &c, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClientInfo {
        ClientInfo::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), -1, false)
    }

    #[test]
    fn split_counts_beyond_the_static_buffer() {
        assert_eq!(split(0), (0, 0, 0));
        assert_eq!(split(100), (100, 0, 0));
        assert_eq!(split(REPLY_CHUNK), (REPLY_CHUNK, 0, 0));
        assert_eq!(split(REPLY_CHUNK + 1), (REPLY_CHUNK, 1, 1));
        assert_eq!(
            split(REPLY_CHUNK * 3 + 5),
            (REPLY_CHUNK, 3, REPLY_CHUNK * 2 + 5)
        );
    }

    #[test]
    fn trigger_is_the_lowest_limit_past_the_static_buffer() {
        let l = |h, s| OutputLimit {
            hard_bytes: h,
            soft_bytes: s,
            soft_seconds: 1,
        };
        assert_eq!(Trigger::new(&l(0, 0)).at, usize::MAX);
        assert_eq!(Trigger::new(&l(100, 0)).at, REPLY_CHUNK + 100);
        assert_eq!(Trigger::new(&l(0, 50)).at, REPLY_CHUNK + 50);
        assert_eq!(Trigger::new(&l(100, 50)).at, REPLY_CHUNK + 50);
    }

    #[test]
    fn hard_limit_is_immediate_and_soft_limit_waits() {
        let c = info();
        let hard = OutputLimit {
            hard_bytes: 1000,
            soft_bytes: 0,
            soft_seconds: 0,
        };
        assert!(!exceeded(&c, REPLY_CHUNK + 999, &hard));
        assert!(exceeded(&c, REPLY_CHUNK + 1000, &hard));
        // Below the static buffer nothing counts.
        let tiny = OutputLimit {
            hard_bytes: 1,
            soft_bytes: 0,
            soft_seconds: 0,
        };
        assert!(!exceeded(&c, REPLY_CHUNK, &tiny));
        let soft = OutputLimit {
            hard_bytes: 0,
            soft_bytes: 10,
            soft_seconds: 0,
        };
        assert!(!exceeded(&c, REPLY_CHUNK + 20, &soft), "first sighting");
        assert_ne!(c.obuf_soft_since.load(Ordering::Relaxed), 0);
        // Pretend it was first seen two seconds ago.
        c.obuf_soft_since.store(unix_ms() - 2000, Ordering::Relaxed);
        assert!(exceeded(&c, REPLY_CHUNK + 20, &soft));
        // Dropping below the soft limit forgets the time.
        assert!(!exceeded(&c, REPLY_CHUNK + 5, &soft));
        assert_eq!(c.obuf_soft_since.load(Ordering::Relaxed), 0);
    }
}

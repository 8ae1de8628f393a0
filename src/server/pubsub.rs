//! Pub/Sub delivery: who listens to which channel or pattern, and each
//! client's mailbox of messages not yet written to its socket.
//!
//! PUBLISH runs on the publisher's thread: it encodes the message in each
//! receiver's protocol (RESP2 array or RESP3 push) and appends it to the
//! receiver's mailbox under the mailbox's lock, so a publisher's messages
//! arrive in the order it sent them. The receiver's connection task is
//! woken through the mailbox's `Notify` and writes the bytes out. A client
//! whose mailbox plus unwritten replies go over the `client-output-buffer-limit
//! pubsub` hard limit (or over the soft limit for longer than its seconds) is
//! disconnected (`server/outlimit.rs`), so a subscriber that does not read
//! cannot grow the server without bound; a client already disconnected gets
//! nothing more appended.

use crate::config::OutputLimit;
use crate::server::client::ClientInfo;
use crate::server::outlimit;
use crate::server::shared::Shared;
use crate::util::glob::glob_match;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Messages waiting to be written to one client.
#[derive(Default)]
pub struct Mailbox {
    buf: Mutex<Vec<u8>>,
    pending: AtomicBool,
    pub notify: Notify,
}

impl Mailbox {
    /// True when messages wait (cheap check on the connection's hot path).
    #[inline]
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves the waiting bytes to `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut buf = self.buf.lock();
        out.extend_from_slice(&buf);
        buf.clear();
        self.pending.store(false, Ordering::Release);
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a message for `owner` (the client this mailbox belongs to)
    /// and wakes its connection; disconnects it when its pending output
    /// breaks `limit`. Nothing is appended for a client already
    /// disconnected.
    pub(crate) fn deliver(
        &self,
        srv: &Shared,
        owner: &ClientInfo,
        bytes: &[u8],
        limit: &OutputLimit,
    ) {
        if owner.is_killed() {
            return;
        }
        let mut buf = self.buf.lock();
        buf.extend_from_slice(bytes);
        let len = buf.len();
        drop(buf);
        self.pending.store(true, Ordering::Release);
        self.notify.notify_one();
        let pending = len + owner.out_pending.load(Ordering::Relaxed);
        if outlimit::exceeded(owner, pending, limit) {
            outlimit::close(srv, owner, true);
        }
    }
}

type Subscribers = Vec<Arc<ClientInfo>>;

/// Plain channels (SUBSCRIBE/PUBLISH) or shard channels
/// (SSUBSCRIBE/SPUBLISH): separate namespaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Space {
    Plain = 0,
    Shard = 1,
}

/// Every channel and pattern subscription.
#[derive(Default)]
pub struct PubSub {
    channels: [RwLock<HashMap<Vec<u8>, Subscribers>>; 2],
    patterns: RwLock<Vec<(Vec<u8>, Arc<ClientInfo>)>>,
}

/// Appends a RESP bulk string.
fn bulk(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(s.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a `message`/`smessage` (pattern `None`) or `pmessage` for a
/// client speaking RESP2 (`*`) or RESP3 (`>`).
fn encode(
    resp3: bool,
    space: Space,
    pattern: Option<&[u8]>,
    channel: &[u8],
    msg: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + channel.len() + msg.len());
    out.push(if resp3 { b'>' } else { b'*' });
    match pattern {
        None => {
            out.extend_from_slice(b"3\r\n");
            bulk(
                &mut out,
                if space == Space::Shard {
                    b"smessage"
                } else {
                    b"message"
                },
            );
        }
        Some(p) => {
            out.extend_from_slice(b"4\r\n");
            bulk(&mut out, b"pmessage");
            bulk(&mut out, p);
        }
    }
    bulk(&mut out, channel);
    bulk(&mut out, msg);
    out
}

impl PubSub {
    pub fn subscribe(&self, space: Space, channel: &[u8], client: &Arc<ClientInfo>) {
        self.channels[space as usize]
            .write()
            .entry(channel.to_vec())
            .or_default()
            .push(client.clone());
    }

    pub fn unsubscribe(&self, space: Space, channel: &[u8], client_id: u64) {
        let mut map = self.channels[space as usize].write();
        if let Some(list) = map.get_mut(channel) {
            list.retain(|c| c.id != client_id);
            if list.is_empty() {
                map.remove(channel);
            }
        }
    }

    pub fn psubscribe(&self, pattern: &[u8], client: &Arc<ClientInfo>) {
        self.patterns
            .write()
            .push((pattern.to_vec(), client.clone()));
    }

    pub fn punsubscribe(&self, pattern: &[u8], client_id: u64) {
        self.patterns
            .write()
            .retain(|(p, c)| !(c.id == client_id && p == pattern));
    }

    /// Removes every subscription of a client (on disconnect).
    pub fn remove_client(&self, client_id: u64) {
        for map in &self.channels {
            map.write().retain(|_, list| {
                list.retain(|c| c.id != client_id);
                !list.is_empty()
            });
        }
        self.patterns.write().retain(|(_, c)| c.id != client_id);
    }

    /// Delivers `msg` on `channel`; returns the number of receivers
    /// (a client counts once per matching subscription, as in Redis).
    pub fn publish(
        &self,
        srv: &Shared,
        space: Space,
        channel: &[u8],
        msg: &[u8],
        limit: &OutputLimit,
    ) -> i64 {
        let mut n = 0;
        let mut encoded: [Option<Vec<u8>>; 2] = [None, None];
        if let Some(list) = self.channels[space as usize].read().get(channel) {
            for c in list {
                let resp3 = c.resp.load(Ordering::Relaxed) == 3;
                let bytes = encoded[resp3 as usize]
                    .get_or_insert_with(|| encode(resp3, space, None, channel, msg));
                c.mailbox.deliver(srv, c, bytes, limit);
                n += 1;
            }
        }
        if space == Space::Shard {
            return n;
        }
        for (pattern, c) in self.patterns.read().iter() {
            if glob_match(pattern, channel, false) {
                let resp3 = c.resp.load(Ordering::Relaxed) == 3;
                let bytes = encode(resp3, space, Some(pattern), channel, msg);
                c.mailbox.deliver(srv, c, &bytes, limit);
                n += 1;
            }
        }
        n
    }

    /// Channels with at least one subscriber, optionally matching a pattern.
    pub fn channels(&self, space: Space, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.channels[space as usize]
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a channel.
    pub fn numsub(&self, space: Space, channel: &[u8]) -> usize {
        self.channels[space as usize]
            .read()
            .get(channel)
            .map_or(0, |l| l.len())
    }

    /// Number of pattern subscriptions (all clients).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

/// Connects the keyspace's notifier to Pub/Sub: each event is published on
/// `__keyspace@<db>__:<key>` (message: the event name) and/or
/// `__keyevent@<db>__:<event>` (message: the key), as `notify-keyspace-events`
/// asks; the classes follow CONFIG SET.
pub fn install_notifications(srv: &std::sync::Arc<crate::server::shared::Shared>) {
    use crate::storage::notify::{KEYEVENT, KEYSPACE};
    let weak = std::sync::Arc::downgrade(srv);
    srv.keyspace.notifier.set_flags(srv.settings().notify_flags);
    srv.keyspace
        .notifier
        .set_sink(Box::new(move |db, event, key, flags| {
            let Some(srv) = weak.upgrade() else { return };
            let limit = srv.settings().client_output_buffer_limit[outlimit::PUBSUB];
            let mut channel = Vec::with_capacity(24 + key.len().max(event.len()));
            if flags & KEYSPACE != 0 {
                channel.extend_from_slice(format!("__keyspace@{db}__:").as_bytes());
                channel.extend_from_slice(key);
                srv.pubsub
                    .publish(&srv, Space::Plain, &channel, event.as_bytes(), &limit);
            }
            if flags & KEYEVENT != 0 {
                channel.clear();
                channel.extend_from_slice(format!("__keyevent@{db}__:{event}").as_bytes());
                srv.pubsub
                    .publish(&srv, Space::Plain, &channel, key, &limit);
            }
        }));
    let weak = std::sync::Arc::downgrade(srv);
    srv.config.on_change(
        "notify-keyspace-events",
        Box::new(move |s: &crate::config::Settings| {
            if let Some(srv) = weak.upgrade() {
                srv.keyspace.notifier.set_flags(s.notify_flags);
            }
            Ok(())
        }),
    );
}

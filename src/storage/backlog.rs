//! The replication backlog: the most recent bytes of the replication
//! stream, addressed by stream offset, from which every replica is sent
//! its stream (each at its own position) and from which a reconnecting
//! replica is served a partial resync (`+CONTINUE`).
//!
//! As Redis 7's shared replication buffer, it keeps at least
//! `repl-backlog-size` bytes, and more while a registered reader (a
//! replica being sent the stream) still needs older bytes, up to a hard
//! limit past which that reader is dropped (its sender then finds its
//! position gone and closes the link, as Redis closes a replica over its
//! output buffer limit).
//!
//! Offsets: `end` is the number of bytes ever written (Redis's
//! `master_repl_offset`); the buffer holds stream bytes `[end - len, end)`,
//! so Redis's `repl_backlog_first_byte_offset` is `end - len + 1`.

use std::collections::VecDeque;

/// See the module documentation.
pub struct Backlog {
    data: VecDeque<u8>,
    end: u64,
    /// `repl-backlog-size`.
    size: u64,
    /// Most bytes kept for a lagging reader before it is dropped.
    hard: u64,
    /// Readers (id, next stream index they need).
    readers: Vec<(u64, u64)>,
}

impl Backlog {
    /// An empty backlog whose stream continues at `end`.
    pub fn new(end: u64, size: u64, hard: u64) -> Backlog {
        Backlog {
            data: VecDeque::new(),
            end,
            size: size.max(1),
            hard,
            readers: Vec::new(),
        }
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// Stream index of the oldest byte held.
    pub fn start(&self) -> u64 {
        self.end - self.data.len() as u64
    }

    pub fn histlen(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn set_limits(&mut self, size: u64, hard: u64) {
        self.size = size.max(1);
        self.hard = hard;
        self.trim();
    }

    /// Appends stream bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
        self.end += bytes.len() as u64;
        // Trimming is amortised: only once the excess is worth a move.
        if self.data.len() as u64 > self.size + self.size.min(1 << 20) {
            self.trim();
        }
    }

    /// Drops bytes older than both `repl-backlog-size` and every reader's
    /// position; drops readers lagging more than the hard limit.
    fn trim(&mut self) {
        let end = self.end;
        if self.hard > 0 {
            self.readers.retain(|&(_, pos)| end - pos <= self.hard);
        }
        let mut keep_from = end.saturating_sub(self.size);
        for &(_, pos) in &self.readers {
            keep_from = keep_from.min(pos);
        }
        let start = self.start();
        if keep_from > start {
            self.data.drain(..(keep_from - start) as usize);
        }
    }

    /// True when a replica that has everything before stream index `pos`
    /// can be served from here.
    pub fn covers(&self, pos: u64) -> bool {
        pos >= self.start() && pos <= self.end
    }

    /// Registers a reader at `pos` (its sender reads from there on).
    pub fn add_reader(&mut self, id: u64, pos: u64) {
        self.readers.retain(|r| r.0 != id);
        self.readers.push((id, pos));
    }

    pub fn remove_reader(&mut self, id: u64) {
        self.readers.retain(|r| r.0 != id);
    }

    /// Copies up to `max` bytes from `pos` into `out` and moves reader
    /// `id` past them. `None` when the reader was dropped or `pos` is no
    /// longer held.
    pub fn read(&mut self, id: u64, pos: u64, max: usize, out: &mut Vec<u8>) -> Option<u64> {
        let r = self.readers.iter_mut().find(|r| r.0 == id)?;
        if !(pos >= self.end - self.data.len() as u64 && pos <= self.end) {
            return None;
        }
        let from = (pos - (self.end - self.data.len() as u64)) as usize;
        let n = (self.data.len() - from).min(max);
        let (a, b) = self.data.as_slices();
        if from < a.len() {
            let take = n.min(a.len() - from);
            out.extend_from_slice(&a[from..from + take]);
            out.extend_from_slice(&b[..n - take]);
        } else {
            let f = from - a.len();
            out.extend_from_slice(&b[f..f + n]);
        }
        r.1 = pos + n as u64;
        Some(pos + n as u64)
    }

    /// Copies stream bytes `[pos, end)` (for a partial resync check or a
    /// test); `None` if not held.
    pub fn copy_from(&self, pos: u64) -> Option<Vec<u8>> {
        if !self.covers(pos) {
            return None;
        }
        let from = (pos - self.start()) as usize;
        Some(self.data.range(from..).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_size_bytes_and_what_readers_need() {
        let mut b = Backlog::new(100, 10, 1000);
        assert_eq!((b.start(), b.end()), (100, 100));
        b.push(b"0123456789");
        b.push(b"abcdefghij");
        b.push(b"ABCDEFGHIJ");
        // Trimmed down to 10 once past 20.
        assert_eq!(b.end(), 130);
        assert!(b.histlen() >= 10 && b.histlen() <= 20);
        assert_eq!(b.copy_from(120).unwrap(), b"ABCDEFGHIJ");
        assert!(!b.covers(105));
        // A reader holds bytes back.
        b.add_reader(7, 121);
        b.push(&[b'x'; 40]);
        let mut out = Vec::new();
        assert_eq!(b.read(7, 121, 5, &mut out), Some(126));
        assert_eq!(out, b"BCDEF");
        out.clear();
        let end = b.read(7, 126, 1000, &mut out).unwrap();
        assert_eq!(end, 170);
        assert_eq!(out.len(), 44);
        // A reader past the hard limit is dropped.
        let mut b = Backlog::new(0, 4, 8);
        b.add_reader(1, 0);
        b.push(&[1; 9]);
        assert!(b.read(1, 0, 10, &mut Vec::new()).is_none());
    }
}

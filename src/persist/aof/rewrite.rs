//! Turning the dataset into an AOF base file.
//!
//! A rewrite takes its base from the copy-on-serialise snapshot
//! (`storage::snapshot`, as BGSAVE does), encoding each key with
//! [`resp_record`] or as an RDB record; [`walk_locked`] serialises under
//! every shard lock instead, when another snapshot (a BGSAVE) is running.

use crate::storage::feed::encode_command;
use crate::storage::keyspace::Db;
use crate::storage::value::{NO_EXPIRE, Value};
use std::io::{self, Write};

/// Receives every live key of the dataset, database by database.
pub trait BaseSink {
    fn key(&mut self, db: usize, key: &[u8], value: &Value, expire: i64) -> io::Result<()>;
    /// Called once after the last key.
    fn finish(&mut self) -> io::Result<()>;
}

/// Feeds every live (not yet expired) key under the locks `db` holds
/// (all shards) to `sink`, database by database. Returns the key count.
pub fn walk_locked(db: &mut Db, sink: &mut dyn BaseSink) -> io::Result<u64> {
    let now = crate::storage::keyspace::unix_ms();
    let ndb = db.keyspace().databases();
    let mut n = 0;
    for dbi in 0..ndb {
        for shard in db.shards_mut() {
            let t = &shard.dbs[dbi];
            for (k, e) in t.main.iter() {
                let expire = t.expire_of(k.as_slice(), e).unwrap_or(NO_EXPIRE);
                if expire <= now {
                    continue;
                }
                sink.key(dbi, k.as_slice(), &e.value, expire)?;
                n += 1;
            }
        }
    }
    sink.finish()?;
    Ok(n)
}

/// Elements per command when a collection is rewritten (Redis's
/// `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// Writes the dataset as RESP commands (the base with
/// `aof-use-rdb-preamble no`): `SET`, `RPUSH`, `SADD`, `HMSET`, `ZADD` in batches
/// of 64 elements, `PEXPIREAT` for keys with a TTL, `SELECT` before each
/// database's keys.
pub struct RespSink<W: Write> {
    out: W,
    db: Option<usize>,
    buf: Vec<u8>,
    /// `buf` goes to `out` once this long.
    flush_at: usize,
}

/// Appends the RESP commands that recreate one key (no `SELECT`) to
/// `buf`: the snapshot encoder of a RESP base. Keys already expired are
/// left out.
pub fn resp_record(buf: &mut Vec<u8>, key: &[u8], value: &Value, expire: i64) {
    if expire <= crate::storage::keyspace::unix_ms() {
        return;
    }
    let mut s = RespSink {
        out: io::sink(),
        db: Some(0),
        buf: std::mem::take(buf),
        flush_at: usize::MAX,
    };
    // Nothing is written to `out`: cannot fail.
    let _ = s.key(0, key, value, expire);
    *buf = s.buf;
}

impl<W: Write> RespSink<W> {
    pub fn new(out: W) -> Self {
        RespSink {
            out,
            db: None,
            buf: Vec::with_capacity(64 * 1024),
            flush_at: 32 * 1024,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn batched<'a>(&mut self, cmd: &[u8], key: &[u8], items: impl Iterator<Item = Vec<&'a [u8]>>) {
        let mut args: Vec<&[u8]> = Vec::with_capacity(2 + ITEMS_PER_CMD * 2);
        let mut count = 0;
        for item in items {
            if args.is_empty() {
                args.push(cmd);
                args.push(key);
            }
            args.extend(item);
            count += 1;
            if count == ITEMS_PER_CMD {
                encode_command(&mut self.buf, args.iter().copied());
                args.clear();
                count = 0;
            }
        }
        if !args.is_empty() {
            encode_command(&mut self.buf, args.iter().copied());
        }
    }
}

impl<W: Write> RespSink<W> {
    /// A stream as Redis's rewrite writes it: one `XADD` per entry (or an
    /// `XADD … MAXLEN 0` that leaves an empty stream with the right last
    /// id), `XSETID` with the counters, then each group (`XGROUP CREATE …
    /// ENTRIESREAD`), its pending entries (`XCLAIM … TIME RETRYCOUNT JUSTID
    /// FORCE`) and its consumers without pending entries
    /// (`XGROUP CREATECONSUMER`).
    fn stream(&mut self, key: &[u8], st: &crate::storage::stream::Stream) {
        use crate::storage::stream::StreamId;
        let mut n = itoa::Buffer::new();
        if st.is_empty() {
            let last = st.last_id.to_bytes();
            encode_command(
                &mut self.buf,
                [&b"XADD"[..], key, b"MAXLEN", b"0", &last, b"x", b"y"].into_iter(),
            );
        } else {
            for e in st.range(StreamId::new(0, 0), StreamId::new(u64::MAX, u64::MAX)) {
                let id = e.id.to_bytes();
                let mut args: Vec<&[u8]> = vec![b"XADD", key, &id];
                for (f, v) in e.pairs() {
                    args.push(f);
                    args.push(v);
                }
                encode_command(&mut self.buf, args.iter().copied());
            }
        }
        let (last, maxdel) = (st.last_id.to_bytes(), st.max_deleted_id.to_bytes());
        let added = n.format(st.entries_added).to_string();
        encode_command(
            &mut self.buf,
            [
                &b"XSETID"[..],
                key,
                &last,
                b"ENTRIESADDED",
                added.as_bytes(),
                b"MAXDELETEDID",
                &maxdel,
            ]
            .into_iter(),
        );
        for (name, g) in &st.groups {
            let gid = g.last_id.to_bytes();
            let read = n.format(g.entries_read).to_string();
            encode_command(
                &mut self.buf,
                [
                    &b"XGROUP"[..],
                    b"CREATE",
                    key,
                    name,
                    &gid,
                    b"ENTRIESREAD",
                    read.as_bytes(),
                ]
                .into_iter(),
            );
            for (id, p) in &g.pel {
                let idb = id.to_bytes();
                let time = n.format(p.delivery_time).to_string();
                let count = itoa::Buffer::new().format(p.delivery_count).to_string();
                encode_command(
                    &mut self.buf,
                    [
                        &b"XCLAIM"[..],
                        key,
                        name,
                        &p.consumer,
                        b"0",
                        &idb,
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ]
                    .into_iter(),
                );
            }
            for (cname, c) in &g.consumers {
                if c.pel.is_empty() {
                    encode_command(
                        &mut self.buf,
                        [&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname].into_iter(),
                    );
                }
            }
        }
    }
}

impl<W: Write> BaseSink for RespSink<W> {
    fn key(&mut self, db: usize, key: &[u8], value: &Value, expire: i64) -> io::Result<()> {
        let mut num = itoa::Buffer::new();
        if self.db != Some(db) {
            encode_command(
                &mut self.buf,
                [&b"SELECT"[..], num.format(db).as_bytes()].into_iter(),
            );
            self.db = Some(db);
        }
        match value {
            Value::Int(i) => {
                let mut nb = itoa::Buffer::new();
                encode_command(
                    &mut self.buf,
                    [&b"SET"[..], key, nb.format(*i).as_bytes()].into_iter(),
                );
            }
            Value::Str(s) => {
                encode_command(&mut self.buf, [&b"SET"[..], key, s.as_slice()].into_iter())
            }
            Value::List(l) => self.batched(b"RPUSH", key, l.iter().map(|e| vec![e])),
            Value::Set(s) => {
                // Integer members need their decimal text to outlive the batch.
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
                self.batched(b"SADD", key, members.iter().map(|m| vec![m.as_slice()]));
            }
            Value::Hash(h) => self.batched(b"HMSET", key, h.iter().map(|(f, v)| vec![f, v])),
            Value::Stream(st) => self.stream(key, st),
            Value::ZSet(z) => {
                // `%.17g` scores, as Redis's rewrite writes them.
                let mut pairs: Vec<(Vec<u8>, &[u8])> = Vec::with_capacity(z.len());
                z.walk(0, z.len(), false, |score, member| {
                    let mut sc = Vec::new();
                    crate::util::float::fmt_double(score, &mut sc);
                    pairs.push((sc, member));
                });
                self.batched(
                    b"ZADD",
                    key,
                    pairs.iter().map(|(s, m)| vec![s.as_slice(), *m]),
                );
            }
        }
        if expire != NO_EXPIRE {
            encode_command(
                &mut self.buf,
                [&b"PEXPIREAT"[..], key, num.format(expire).as_bytes()].into_iter(),
            );
        }
        if self.buf.len() >= self.flush_at {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

//! The full-sync payload: an RDB of the whole dataset at a cut, on the
//! primary side; loaded into an emptied keyspace on the replica side.
//!
//! Primary side, a **sync job**: replicas that need a full sync join the
//! job pending for their payload form (disk-style `$<len>` or diskless
//! `$EOF:`); the first one starts its producer thread. The thread waits
//! `repl-diskless-sync-delay` (diskless only: replicas arriving meanwhile
//! share the transfer) and for any running snapshot (a BGSAVE, an AOF
//! rewrite, another job) to end, then takes the cut with every shard
//! locked: the snapshot (`storage::snapshot`), the stream offset every
//! member's backlog reader starts at, the replid — one point in time. The
//! members then get [`Msg::Cut`] and the locks are gone: the snapshot is
//! walked while clients run. Diskless, the RDB is broadcast in chunks to
//! every member's sender as it is produced (a bounded channel each: the
//! slowest replica paces the walk); disk-style it goes to a temp file whose
//! handle every member then sends ([`TempRdb`], removed after the last).

use crate::persist::bgsave::{lower_priority, rdb_encoder, write_walk};
use crate::persist::convert;
use crate::persist::rdb::writer::Writer;
use crate::persist::snapshot::{self, LoadError};
use crate::server::log;
use crate::server::shared::Shared;
use crate::storage::snapshot::Step;
use parking_lot::Mutex;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// Bytes per diskless chunk.
const CHUNK: usize = 64 * 1024;
/// Chunks queued per replica before the walk waits for it.
const QUEUE: usize = 32;

/// What a replica's sender receives from its sync job.
pub enum Msg {
    /// The cut: the stream starts at `off` (the backlog reader is
    /// registered there), under `replid`.
    Cut { off: u64, replid: String },
    /// Diskless: the next bytes of the RDB.
    Bytes(Arc<[u8]>),
    /// Diskless: the RDB is complete.
    End,
    /// Disk-style: the complete RDB file.
    File(Arc<TempRdb>),
    /// The payload could not be produced.
    Failed,
}

/// The RDB file of a disk-style transfer; removed when the last sender
/// drops it.
pub struct TempRdb {
    pub path: PathBuf,
    pub len: u64,
}

impl Drop for TempRdb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One replica of a job.
struct Member {
    id: u64,
    tx: mpsc::Sender<Msg>,
}

/// Full-sync jobs (`Replication::jobs`).
#[derive(Default)]
pub struct SyncJobs {
    server: OnceLock<Weak<Shared>>,
    /// Members waiting for a cut, by form (index 1: diskless).
    pending: Mutex<[Option<Vec<Member>>; 2]>,
    /// Jobs walking a snapshot (counted as Redis counts a child process).
    walking: AtomicUsize,
    next_id: AtomicU64,
}

impl SyncJobs {
    /// Called once the server's `Arc` exists (producers hold one).
    pub fn attach(&self, srv: &Arc<Shared>) {
        let _ = self.server.set(Arc::downgrade(srv));
    }

    /// True while a job is producing a payload (the AOF rewrite and
    /// BGSAVE SCHEDULE wait for it, as for Redis's replication child).
    pub fn active(&self) -> bool {
        self.walking.load(Ordering::SeqCst) > 0
    }

    /// Replica `id` joins the pending job of its form (starting one if
    /// none waits). Its sender reads the job's messages from the receiver;
    /// dropping it leaves the job.
    pub fn join(&self, id: u64, diskless: bool) -> mpsc::Receiver<Msg> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut p = self.pending.lock();
        let slot = &mut p[diskless as usize];
        if let Some(members) = slot {
            members.push(Member { id, tx });
            return rx;
        }
        let Some(srv) = self.server.get().and_then(|w| w.upgrade()) else {
            let _ = tx.try_send(Msg::Failed);
            return rx;
        };
        *slot = Some(vec![Member { id, tx }]);
        drop(p);
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let spawned = std::thread::Builder::new()
            .name("ember-repl-sync".into())
            .spawn(move || produce(srv, diskless, n));
        if spawned.is_err()
            && let Some(members) = self.pending.lock()[diskless as usize].take()
        {
            for m in members {
                let _ = m.tx.try_send(Msg::Failed);
            }
        }
        rx
    }
}

/// A job's producer thread (see the module documentation).
fn produce(srv: Arc<Shared>, diskless: bool, n: u64) {
    lower_priority();
    let jobs = &srv.repl.jobs;
    let delay = srv.settings().repl_diskless_sync_delay;
    if diskless && delay > 0 {
        // Replicas arriving meanwhile share this transfer.
        std::thread::sleep(Duration::from_secs(delay));
    }
    // The cut, once no other snapshot runs.
    let (mut walker, sizes, mut members) = loop {
        {
            let mut db = srv.keyspace.view_all(0);
            if !srv.bgsave.in_progress() && !db.snapshot_running() {
                let mut members = jobs.pending.lock()[diskless as usize]
                    .take()
                    .unwrap_or_default();
                members.retain(|m| !m.tx.is_closed());
                if members.is_empty() {
                    return;
                }
                let s = srv.settings();
                let encoder = rdb_encoder(s.rdbcompression, convert::thresholds(&s));
                let Ok((walker, cut)) = db.begin_snapshot(encoder) else {
                    // Not expected (checked under the same locks): wait.
                    let mut p = jobs.pending.lock();
                    p[diskless as usize]
                        .get_or_insert_with(Vec::new)
                        .append(&mut members);
                    drop(p);
                    drop(db);
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                jobs.walking.fetch_add(1, Ordering::SeqCst);
                let off = super::ensure_backlog(&srv);
                let feed = &srv.keyspace.feed;
                // A sender that has already left dropped its receiver
                // before removing its reader (under this same lock).
                feed.with_backlog(|b| {
                    if let Some(b) = b {
                        for m in &members {
                            if !m.tx.is_closed() {
                                b.add_reader(m.id, off);
                            }
                        }
                    }
                });
                // The stream to these replicas starts with a SELECT.
                feed.reset_db();
                let replid = srv.replid.lock().0.clone();
                srv.repl
                    .sync_full
                    .fetch_add(members.len() as u64, Ordering::Relaxed);
                members.retain(|m| {
                    m.tx.try_send(Msg::Cut {
                        off,
                        replid: replid.clone(),
                    })
                    .is_ok()
                });
                break (walker, cut.sizes, members);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    log::notice(&format!(
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    ));
    let s = srv.settings();
    let (compress, checksum) = (s.rdbcompression, s.rdbchecksum);
    let delay_us = s.rdb_key_save_delay.max(0) as u64;
    let never = AtomicBool::new(false);
    let res: io::Result<Step> = if diskless {
        let out = Broadcast {
            members: std::mem::take(&mut members),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut w = Writer::new(out, compress, checksum);
        (|| {
            snapshot::write_header(
                &mut w,
                crate::commands::server::info::memory_in_use(),
                false,
            )?;
            let step = write_walk(&mut w, &mut walker, &srv.keyspace, &sizes, delay_us, &never)?;
            if step == Step::Done {
                let mut out = w.finish()?;
                out.flush()?;
                out.send(|| Msg::End);
            }
            Ok(step)
        })()
    } else {
        let path = PathBuf::from(format!("temp-{}-repl-{n}.rdb", std::process::id()));
        let written = (|| {
            let file = std::fs::File::create(&path)?;
            let mut w = Writer::new(
                io::BufWriter::with_capacity(1 << 20, file),
                compress,
                checksum,
            );
            snapshot::write_header(
                &mut w,
                crate::commands::server::info::memory_in_use(),
                false,
            )?;
            let step = write_walk(&mut w, &mut walker, &srv.keyspace, &sizes, delay_us, &never)?;
            if step == Step::Done {
                let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
                let len = file.metadata()?.len();
                let rdb = Arc::new(TempRdb {
                    path: path.clone(),
                    len,
                });
                for m in members.drain(..) {
                    let _ = m.tx.blocking_send(Msg::File(rdb.clone()));
                }
            }
            Ok(step)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        written
    };
    match res {
        Ok(Step::Done) => {}
        Ok(_) => {
            log::warning("Background transfer terminated by signal 10");
            for m in members {
                let _ = m.tx.try_send(Msg::Failed);
            }
        }
        Err(e) => {
            walker.cancel(&srv.keyspace);
            log::warning(&format!("Background transfer error: {e}"));
            for m in members {
                let _ = m.tx.try_send(Msg::Failed);
            }
        }
    }
    jobs.walking.fetch_sub(1, Ordering::SeqCst);
}

/// The diskless RDB output: chunks sent to every member still listening;
/// an error once none is.
struct Broadcast {
    members: Vec<Member>,
    buf: Vec<u8>,
}

impl Broadcast {
    fn send(&mut self, msg: impl Fn() -> Msg) {
        self.members.retain(|m| m.tx.blocking_send(msg()).is_ok());
    }
}

impl Write for Broadcast {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk: Arc<[u8]> = Arc::from(&self.buf[..]);
            self.buf.clear();
            self.send(|| Msg::Bytes(chunk.clone()));
        }
        if self.members.is_empty() {
            return Err(io::Error::other("no replica left"));
        }
        Ok(())
    }
}

/// Replaces the dataset with the RDB `data` (every database flushed first).
pub fn load(srv: &Shared, data: &[u8]) -> Result<u64, String> {
    let s = srv.settings();
    let mut db = srv.keyspace.view_all(0);
    db.flush(None);
    match snapshot::load_bytes(data, &mut db, &s) {
        Ok((st, _)) => {
            srv.note_load(&st);
            Ok(st.loaded)
        }
        Err(LoadError::NotFound) => Err("empty payload".into()),
        Err(LoadError::Failed(m)) => Err(m),
    }
}

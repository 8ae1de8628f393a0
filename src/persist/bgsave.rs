//! BGSAVE: the RDB written by a background thread from a point-in-time
//! snapshot of the keyspace (`storage::snapshot`: copy-on-serialise per
//! key, no fork, no copy of the dataset), through a temp file, fsync and
//! rename as SAVE does. Keeps Redis's bookkeeping: one save at a time,
//! `BGSAVE SCHEDULE`, the `INFO persistence` fields, the dirty counter at
//! the cut, and the abort SHUTDOWN and FLUSHALL perform.

use crate::persist::convert;
use crate::persist::rdb::writer::Writer;
use crate::server::log;
use crate::server::shared::Shared;
use crate::storage::keyspace::{Db, unix_ms};
use crate::storage::snapshot::{Encoder, Progress, Step};
use parking_lot::Mutex;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

/// Why a BGSAVE could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// One is already running (`ERR Background save already in progress`).
    InProgress,
    /// The thread or the file could not be created (`ERR`).
    Failed,
}

/// The running save.
struct Running {
    id: u64,
    started: Instant,
    aborted: Arc<AtomicBool>,
    progress: Arc<Progress>,
    keys_total: u64,
    tmp: PathBuf,
}

struct State {
    running: Option<Running>,
    /// `BGSAVE SCHEDULE` (or BGSAVE in EXEC) waiting for the cron.
    scheduled: bool,
    /// Seconds the last background save took (-1: none yet).
    last_secs: i64,
}

/// The server's background-save state (`Shared::bgsave`).
pub struct BgSave {
    server: OnceLock<Weak<Shared>>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

impl Default for BgSave {
    fn default() -> Self {
        BgSave {
            server: OnceLock::new(),
            state: Mutex::new(State {
                running: None,
                scheduled: false,
                last_secs: -1,
            }),
            next_id: AtomicU64::new(1),
        }
    }
}

/// The RDB record encoder the snapshot uses for every key.
pub(crate) fn rdb_encoder(compress: bool, th: crate::persist::rdb::writer::Thresholds) -> Encoder {
    Arc::new(move |buf: &mut Vec<u8>, key: &[u8], e, expire| {
        let mut w = Writer::new(buf, compress, false);
        // Writing to a Vec cannot fail.
        let _ = convert::write_entry(&mut w, key, e, expire, &th);
    })
}

impl BgSave {
    /// Called once the server's `Arc` exists (the save thread holds one).
    pub fn attach(&self, srv: &Arc<Shared>) {
        let _ = self.server.set(Arc::downgrade(srv));
    }

    /// True while a background save runs (`rdb_bgsave_in_progress`).
    pub fn in_progress(&self) -> bool {
        self.state.lock().running.is_some()
    }

    /// Marks a save to start as soon as possible (`BGSAVE SCHEDULE`).
    pub fn schedule(&self) {
        self.state.lock().scheduled = true;
    }

    /// True when a scheduled save waits.
    pub fn is_scheduled(&self) -> bool {
        self.state.lock().scheduled
    }

    /// Starts a background save of this instant. `db` must hold every
    /// shard (the cut); the thread starts writing once they are released.
    pub fn start(&self, db: &mut Db) -> Result<(), StartError> {
        let srv = self
            .server
            .get()
            .and_then(|w| w.upgrade())
            .ok_or(StartError::Failed)?;
        let mut st = self.state.lock();
        if st.running.is_some() || db.snapshot_running() {
            return Err(StartError::InProgress);
        }
        let settings = srv.settings();
        let encoder = rdb_encoder(settings.rdbcompression, convert::thresholds(&settings));
        let (walker, cut) = db
            .begin_snapshot(encoder)
            .map_err(|_| StartError::InProgress)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tmp = PathBuf::from(format!("temp-{}-{id}.rdb", std::process::id()));
        let aborted = Arc::new(AtomicBool::new(false));
        let progress = walker.progress();
        let dirty_at_cut = srv.dirty.load(Ordering::Relaxed);
        srv.rdb_saves.fetch_add(1, Ordering::Relaxed);
        srv.last_save_try.store(unix_ms() / 1000, Ordering::Relaxed);
        let job = Job {
            srv: srv.clone(),
            id,
            tmp: tmp.clone(),
            aborted: aborted.clone(),
            dirty_at_cut,
            sizes: cut.sizes.clone(),
            compress: settings.rdbcompression,
            checksum: settings.rdbchecksum,
            dbfilename: PathBuf::from(&settings.dbfilename),
            key_delay_us: settings.rdb_key_save_delay.max(0) as u64,
        };
        let spawned = std::thread::Builder::new()
            .name("ember-bgsave".into())
            .spawn(move || job.run(walker));
        if spawned.is_err() {
            db.abort_snapshot();
            return Err(StartError::Failed);
        }
        st.running = Some(Running {
            id,
            started: Instant::now(),
            aborted,
            progress,
            keys_total: cut.keys(),
            tmp,
        });
        st.scheduled = false;
        log::notice(&format!(
            "Background saving started by pid {}",
            std::process::id()
        ));
        Ok(())
    }

    /// Cancels the running save, if any (`db` holds every shard), as Redis
    /// kills its saving child (SHUTDOWN, FLUSHALL): the temp file is
    /// removed and the previous RDB stays. Returns true if one ran.
    pub fn abort(&self, db: &mut Db) -> bool {
        let mut st = self.state.lock();
        let Some(r) = st.running.take() else {
            return false;
        };
        r.aborted.store(true, Ordering::SeqCst);
        db.abort_snapshot();
        let _ = std::fs::remove_file(&r.tmp);
        st.last_secs = r.started.elapsed().as_secs() as i64;
        true
    }

    /// Cron: starts a scheduled save when nothing else runs.
    pub fn cron(&self, srv: &Shared) {
        if !self.is_scheduled() || self.in_progress() || srv.aof.rewrite_in_progress() {
            return;
        }
        let mut db = srv.keyspace.view_all(0);
        let _ = self.start(&mut db);
    }

    /// The `INFO persistence` fields this module owns, in Redis's order
    /// slots: (current_save_keys_processed, current_save_keys_total,
    /// rdb_bgsave_in_progress, rdb_last_bgsave_time_sec,
    /// rdb_current_bgsave_time_sec).
    pub fn info(&self) -> (u64, u64, u8, i64, i64) {
        let st = self.state.lock();
        match &st.running {
            Some(r) => (
                r.progress.keys.load(Ordering::Relaxed),
                r.keys_total,
                1,
                st.last_secs,
                r.started.elapsed().as_secs() as i64,
            ),
            None => (0, 0, 0, st.last_secs, -1),
        }
    }

    /// Blocks until no background save runs (tests, DEBUG).
    pub fn wait(&self) {
        while self.in_progress() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// How a save ended.
enum Outcome {
    Ok,
    Failed,
    Aborted,
}

/// Everything the save thread needs.
struct Job {
    srv: Arc<Shared>,
    id: u64,
    tmp: PathBuf,
    aborted: Arc<AtomicBool>,
    dirty_at_cut: u64,
    sizes: Vec<(u64, u64)>,
    compress: bool,
    checksum: bool,
    dbfilename: PathBuf,
    /// `rdb-key-save-delay` at the start (µs per key; tests).
    key_delay_us: u64,
}

impl Job {
    fn run(self, mut walker: crate::storage::snapshot::Walker) {
        lower_priority();
        let srv = self.srv.clone();
        let outcome = match self.write(&mut walker) {
            Ok(Step::Done) => self.publish(),
            Ok(_) => Outcome::Aborted,
            Err(e) => {
                walker.cancel(&srv.keyspace);
                log::warning(&format!("Write error saving DB on disk: {e}"));
                Outcome::Failed
            }
        };
        if !matches!(outcome, Outcome::Ok) {
            let _ = std::fs::remove_file(&self.tmp);
        }
        let bg = &srv.bgsave;
        let mut st = bg.state.lock();
        if st.running.as_ref().is_some_and(|r| r.id == self.id) {
            let r = st.running.take().expect("checked");
            st.last_secs = r.started.elapsed().as_secs() as i64;
        }
        drop(st);
        match outcome {
            Outcome::Ok => {
                let _ = srv
                    .dirty
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                        Some(d.saturating_sub(self.dirty_at_cut))
                    });
                set_status(&srv, true);
                log::notice("Background saving terminated with success");
            }
            Outcome::Failed => {
                set_status(&srv, false);
                log::warning("Background saving error");
            }
            Outcome::Aborted => {
                log::warning("Background saving terminated by signal 10");
            }
        }
    }

    /// Writes the whole RDB to the temp file and fsyncs it.
    fn write(&self, walker: &mut crate::storage::snapshot::Walker) -> io::Result<Step> {
        // Created under the state lock `abort` takes: either abort comes
        // first and no file is made, or it comes after and removes it (a
        // SHUTDOWN may exit before this thread cleans up).
        let st = self.srv.bgsave.state.lock();
        if self.aborted.load(Ordering::SeqCst) {
            return Ok(Step::Aborted);
        }
        let created = std::fs::File::create(&self.tmp);
        drop(st);
        let file = created.inspect_err(|e| {
            let cwd = std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "unknown".into());
            log::warning(&format!(
                "Failed opening the temp RDB file {} (in server root dir {cwd}) for saving: {e}",
                self.tmp.display()
            ));
        })?;
        let mut w = Writer::new(
            BufWriter::with_capacity(1 << 20, file),
            self.compress,
            self.checksum,
        );
        crate::persist::snapshot::write_header(
            &mut w,
            crate::commands::server::info::memory_in_use(),
            false,
        )?;
        let step = write_walk(
            &mut w,
            walker,
            &self.srv.keyspace,
            &self.sizes,
            self.key_delay_us,
            &self.aborted,
        )?;
        if step != Step::Done {
            return Ok(step);
        }
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(Step::Done)
    }

    /// Renames the temp file over `dbfilename` unless the save was
    /// aborted meanwhile (checked under the state lock abort takes).
    fn publish(&self) -> Outcome {
        let st = self.srv.bgsave.state.lock();
        if self.aborted.load(Ordering::SeqCst) {
            return Outcome::Aborted;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.dbfilename) {
            drop(st);
            log::warning(&format!(
                "Error moving temp DB file {} on the final destination {} (in server root dir): {e}",
                self.tmp.display(),
                self.dbfilename.display()
            ));
            return Outcome::Failed;
        }
        if let Ok(d) = std::fs::File::open(".") {
            let _ = d.sync_all();
        }
        self.srv.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
        drop(st);
        log::notice("DB saved on disk");
        Outcome::Ok
    }
}

/// Gives the save thread a lower CPU priority (nice 10) than the workers:
/// on a busy machine the workers' requests go first, the save takes the
/// remaining CPU (never none: the scheduler shares by weight).
pub(crate) fn lower_priority() {
    // SAFETY: `gettid` and `setpriority` take plain integers and touch no
    // memory of ours; a failure only leaves the priority unchanged.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// Records how the last save ended (`rdb_last_bgsave_status`); a failure
/// makes writes answer MISCONF while `stop-writes-on-bgsave-error` is on
/// and save points are set (`replication::refuse`).
pub fn set_status(srv: &Shared, ok: bool) {
    srv.last_save_ok.store(ok, Ordering::Relaxed);
    srv.repl.save_failed.store(!ok, Ordering::Relaxed);
    srv.repl.update_gate(&srv.settings());
}

/// Writes every record of `walker`'s snapshot after the RDB header already
/// in `w`: database selectors (repeated when a database comes in several
/// pieces) and size hints (once), then the records. `key_delay_us` is
/// `rdb-key-save-delay`, slept per key outside any lock; `aborted` stops
/// the walk ([`Step::Aborted`]). The caller writes the trailer.
pub(crate) fn write_walk<W: io::Write>(
    w: &mut Writer<W>,
    walker: &mut crate::storage::snapshot::Walker,
    ks: &crate::storage::keyspace::Keyspace,
    sizes: &[(u64, u64)],
    key_delay_us: u64,
    aborted: &AtomicBool,
) -> io::Result<Step> {
    let mut cur: Option<usize> = None;
    let mut announced = vec![false; sizes.len()];
    let mut sink = |c: usize, bytes: &[u8]| -> io::Result<()> {
        if aborted.load(Ordering::Relaxed) {
            return Err(io::Error::other("aborted"));
        }
        if cur != Some(c) {
            w.select_db(c as u64)?;
            if !announced[c] {
                announced[c] = true;
                w.resize_db(sizes[c].0, sizes[c].1)?;
            }
            cur = Some(c);
        }
        w.raw(bytes)
    };
    let progress = walker.progress();
    let mut written = 0;
    loop {
        match walker.step(ks, &mut sink) {
            Err(_) if aborted.load(Ordering::Relaxed) => return Ok(Step::Aborted),
            Err(e) => return Err(e),
            Ok(Step::More) => {}
            Ok(other) => return Ok(other),
        }
        if key_delay_us > 0 {
            // Outside any lock: the keys of this step cost their delay.
            let now = progress.keys.load(Ordering::Relaxed);
            let n = now - written;
            written = now;
            let until = Instant::now() + std::time::Duration::from_micros(key_delay_us * n);
            while !aborted.load(Ordering::Relaxed) && Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

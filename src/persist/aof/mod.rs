//! The append-only file, in Redis 7's multi-part format: a directory
//! (`appenddirname`) holding a manifest, one base file (the dataset at the
//! last rewrite) and incremental files of RESP commands written since.
//!
//! Threads and promises:
//! - the **writer** thread consumes the feed (`storage::feed`) as soon as
//!   anything is appended and `write(2)`s it to the current incremental
//!   file. With `appendfsync always` it then fsyncs and publishes the
//!   stream offset that is durable ([`Aof::fsynced`]); connections wait
//!   for that offset to reach the feed's end after their read batch before
//!   sending replies (group commit: one fsync serves every client whose
//!   writes it covered). The wait is async; with AOF off or another policy
//!   the hot path pays one relaxed load ([`Aof::must_wait`]).
//! - the **fsync** thread, with `everysec`, fsyncs once a second whatever
//!   was written (`no` leaves it to the OS).
//! - a **rewrite** (BGREWRITEAOF, the automatic one, `CONFIG SET appendonly
//!   yes`) runs on its own thread. It takes a consistent view by locking
//!   every shard, which stops all writers and so fixes the cut point in the
//!   feed: what came before goes to the old incremental file, a new one is
//!   opened (and recorded in the manifest) for what comes after, and the
//!   dataset is serialised as the new base while the locks are still held
//!   (clients wait for that long; see `rewrite.rs`). The manifest then
//!   switches to the new base and increment atomically (temp file, fsync,
//!   rename) and the old files are deleted.

pub mod load;
pub mod manifest;
pub mod rewrite;

use crate::config::{AppendFsync, Settings};
use crate::server::log;
use crate::server::shared::Shared;
use manifest::{AofFile, FileType, Manifest};
use parking_lot::{Condvar, Mutex};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Writes an AOF base file at `path` from `db` (every shard locked): an RDB
/// (with `aof-base 1`) when `rdb` (`aof-use-rdb-preamble yes`), else RESP
/// commands. Returns the file, written but not yet fsynced.
fn write_base(
    srv: &Shared,
    db: &mut crate::storage::keyspace::Db,
    path: &Path,
    rdb: bool,
) -> std::io::Result<File> {
    let out = std::io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    if rdb {
        let st = srv.settings();
        let mut shards: Vec<&mut crate::storage::keyspace::Shard> = db.shards_mut().collect();
        let out = crate::persist::snapshot::write_rdb_as(
            out,
            &mut shards,
            st.rdbcompression,
            st.rdbchecksum,
            crate::commands::server::info::memory_in_use(),
            &crate::persist::convert::thresholds(&st),
            true,
        )?;
        return out.into_inner().map_err(|e| e.into_error());
    }
    let mut sink = rewrite::RespSink::new(out);
    rewrite::walk_locked(db, &mut sink)?;
    sink.into_inner().into_inner().map_err(|e| e.into_error())
}

/// Starts the snapshot a rewrite's base is written from (`db` holds every
/// shard); `None` when another snapshot (a BGSAVE) is running.
fn snapshot_base(
    srv: &Shared,
    db: &mut crate::storage::keyspace::Db,
    rdb: bool,
) -> Option<(crate::storage::snapshot::Walker, Vec<(u64, u64)>)> {
    use crate::storage::snapshot::Encoder;
    let st = srv.settings();
    let encoder: Encoder = if rdb {
        let (compress, th) = (st.rdbcompression, crate::persist::convert::thresholds(&st));
        std::sync::Arc::new(move |buf: &mut Vec<u8>, key: &[u8], e, at| {
            let mut w = crate::persist::rdb::writer::Writer::new(buf, compress, false);
            let _ = crate::persist::convert::write_entry(&mut w, key, e, at, &th);
        })
    } else {
        std::sync::Arc::new(|buf: &mut Vec<u8>, key: &[u8], e, at: Option<i64>| {
            rewrite::resp_record(
                buf,
                key,
                &e.value,
                at.unwrap_or(crate::storage::value::NO_EXPIRE),
            );
        })
    };
    db.begin_snapshot(encoder)
        .ok()
        .map(|(w, cut)| (w, cut.sizes))
}

/// Writes the base at `path` from a snapshot walk (clients run meanwhile).
fn write_base_from(
    srv: &Shared,
    (mut walker, sizes): (crate::storage::snapshot::Walker, Vec<(u64, u64)>),
    path: &Path,
    rdb: bool,
) -> std::io::Result<File> {
    use crate::storage::snapshot::Step;
    let out = std::io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let st = srv.settings();
    let mut cur: Option<usize> = None;
    let step;
    let out = if rdb {
        let mut w =
            crate::persist::rdb::writer::Writer::new(out, st.rdbcompression, st.rdbchecksum);
        crate::persist::snapshot::write_header(
            &mut w,
            crate::commands::server::info::memory_in_use(),
            true,
        )?;
        let mut announced = vec![false; sizes.len()];
        step = walker.run(&srv.keyspace, &mut |c, bytes| {
            if cur != Some(c) {
                w.select_db(c as u64)?;
                if !announced[c] {
                    announced[c] = true;
                    w.resize_db(sizes[c].0, sizes[c].1)?;
                }
                cur = Some(c);
            }
            w.raw(bytes)
        });
        w.finish()?
    } else {
        let mut out = out;
        step = walker.run(&srv.keyspace, &mut |c, bytes| {
            if cur != Some(c) {
                let mut sel = Vec::new();
                crate::storage::feed::encode_command(
                    &mut sel,
                    [&b"SELECT"[..], c.to_string().as_bytes()].into_iter(),
                );
                out.write_all(&sel)?;
                cur = Some(c);
            }
            out.write_all(bytes)
        });
        out
    };
    match step {
        Ok(Step::Done) => {}
        Ok(_) => return Err(std::io::Error::other("the snapshot was cancelled")),
        Err(e) => {
            walker.cancel(&srv.keyspace);
            return Err(e);
        }
    }
    out.into_inner().map_err(|e| e.into_error())
}

/// What a rewrite or start needs from the configuration.
#[derive(Clone, Debug)]
pub struct Params {
    /// The AOF directory (`dir`/`appenddirname`).
    pub dir: PathBuf,
    /// `appendfilename`: the prefix of every file name.
    pub prefix: String,
    pub policy: AppendFsync,
    pub rdb_preamble: bool,
}

impl Params {
    pub fn from_settings(s: &Settings) -> Params {
        Params {
            dir: Path::new(&s.dir).join(&s.appenddirname),
            prefix: s.appendfilename.clone(),
            policy: s.appendfsync,
            rdb_preamble: s.aof_use_rdb_preamble,
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}{}", self.prefix, manifest::MANIFEST))
    }
}

/// The open AOF: the file being appended to and the manifest. Locked by
/// the writer for each write, and by a rewrite while it switches files.
struct Files {
    params: Params,
    manifest: Manifest,
    /// The incremental file being appended to (None: AOF off).
    incr: Option<Arc<File>>,
    /// Sizes for INFO and the automatic rewrite: base file, the increments
    /// before the current one, the current one.
    base_size: u64,
    older_incr_size: u64,
    incr_size: u64,
    /// Bytes taken from the feed that a failed write left unwritten.
    backlog: Vec<u8>,
}

/// `(name, value)` lines of INFO.
pub type InfoFields = Vec<(&'static str, String)>;

/// The server must not start (the reason was logged).
#[derive(Debug)]
pub struct StartFailed;

/// Errors are logged where they happen (`map_err(|e| log::warning(..))`).
impl From<()> for StartFailed {
    fn from(_: ()) -> StartFailed {
        StartFailed
    }
}

/// See the module documentation.
pub struct Aof {
    /// True while replies must wait for fsync (AOF on, `always`).
    always: AtomicBool,
    /// Feed offset known to be on disk.
    fsynced: AtomicU64,
    /// Feed offset written to the file.
    written: AtomicU64,
    /// Notified whenever `fsynced` advances (or `always` is turned off).
    synced: tokio::sync::Notify,
    /// Set by the feed's waker; the writer sleeps on `cv` until it is.
    kick: AtomicBool,
    cv_lock: Mutex<()>,
    cv: Condvar,
    files: Mutex<Files>,
    threads_started: AtomicBool,
    // INFO persistence.
    enabled: AtomicBool,
    rewriting: AtomicBool,
    rewrite_started: Mutex<Option<Instant>>,
    last_rewrite_secs: AtomicI64,
    last_rewrite_ok: AtomicBool,
    rewrites: AtomicU64,
    rewrite_failures: AtomicU64,
    last_write_ok: AtomicBool,
    /// `aof_base_size`: size of the AOF right after the last rewrite/load.
    rewrite_base_size: AtomicU64,
    /// The server, for work started from a command (BGREWRITEAOF).
    server: std::sync::OnceLock<std::sync::Weak<Shared>>,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            always: AtomicBool::new(false),
            fsynced: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: tokio::sync::Notify::new(),
            kick: AtomicBool::new(false),
            cv_lock: Mutex::new(()),
            cv: Condvar::new(),
            files: Mutex::new(Files {
                params: Params {
                    dir: PathBuf::new(),
                    prefix: String::new(),
                    policy: AppendFsync::EverySec,
                    rdb_preamble: false,
                },
                manifest: Manifest::default(),
                incr: None,
                base_size: 0,
                older_incr_size: 0,
                incr_size: 0,
                backlog: Vec::new(),
            }),
            threads_started: AtomicBool::new(false),
            enabled: AtomicBool::new(false),
            rewriting: AtomicBool::new(false),
            rewrite_started: Mutex::new(None),
            last_rewrite_secs: AtomicI64::new(-1),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            rewrite_base_size: AtomicU64::new(0),
            server: std::sync::OnceLock::new(),
        }
    }
}

/// Flushes a directory's entries (a rename or a new file) to disk.
fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn fatal_fsync(e: &std::io::Error) -> ! {
    log::warning(&format!(
        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
    ));
    std::process::exit(1);
}

impl Aof {
    /// True when a connection must wait for fsync before replying: one
    /// relaxed load, the whole cost of AOF on the hot path otherwise.
    #[inline]
    pub fn must_wait(&self) -> bool {
        self.always.load(Ordering::Relaxed)
    }

    /// Feed offset known to be on disk.
    pub fn fsynced(&self) -> u64 {
        self.fsynced.load(Ordering::Acquire)
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn rewrite_in_progress(&self) -> bool {
        self.rewriting.load(Ordering::Relaxed)
    }

    /// Waits (async, no thread blocked) until the feed up to `target` is
    /// on disk, or `always` is turned off.
    pub async fn wait_durable(&self, target: u64) {
        loop {
            let n = self.synced.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.fsynced() >= target || !self.must_wait() {
                return;
            }
            n.await;
        }
    }

    /// The feed's waker: wakes the writer (pays a lock only for the first
    /// append after the writer went to sleep).
    fn kick(&self) {
        if !self.kick.swap(true, Ordering::AcqRel) {
            let _g = self.cv_lock.lock();
            self.cv.notify_one();
        }
    }

    fn publish_synced(&self, off: u64) {
        self.fsynced.fetch_max(off, Ordering::AcqRel);
        self.synced.notify_waiters();
    }

    /// Moves what the feed holds into the current file (the writer's step;
    /// also used at shutdown and at a rewrite's cut). Called with `files`
    /// locked. Returns the feed offset written up to.
    fn drain_feed(&self, srv: &Shared, f: &mut Files) -> u64 {
        let (buf, end) = srv.keyspace.feed.take();
        let Some(file) = f.incr.clone() else {
            return end;
        };
        let data = if f.backlog.is_empty() {
            buf
        } else {
            let mut b = std::mem::take(&mut f.backlog);
            b.extend_from_slice(&buf);
            b
        };
        if data.is_empty() {
            return self.written.load(Ordering::Acquire).max(end);
        }
        match (&*file).write_all(&data) {
            Ok(()) => {
                if !self.last_write_ok.swap(true, Ordering::Relaxed) {
                    log::warning("AOF write error looks solved, Redis can write again.");
                }
                f.incr_size += data.len() as u64;
                self.written.store(end, Ordering::Release);
            }
            Err(e) => {
                if f.params.policy == AppendFsync::Always {
                    log::warning(&format!(
                        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({e})"
                    ));
                    std::process::exit(1);
                }
                if self.last_write_ok.swap(false, Ordering::Relaxed) {
                    log::warning(&format!("Error writing to the AOF file: {e}"));
                }
                // Redis keeps the buffer and retries; a partial write may
                // have landed, so the file is cut back before retrying.
                if let Ok(len) = file.metadata().map(|m| m.len())
                    && len > f.incr_size
                {
                    let _ = file.set_len(f.incr_size);
                }
                f.backlog = data;
            }
        }
        end
    }

    /// One round of the writer: write what is pending, fsync with `always`.
    fn write_round(&self, srv: &Shared) {
        let mut f = self.files.lock();
        if f.incr.is_none() {
            // AOF off: nothing to consume (the feed is inactive, or a
            // rewrite enabling it has not opened the file yet).
            return;
        }
        let end = self.drain_feed(srv, &mut f);
        if f.params.policy == AppendFsync::Always && f.backlog.is_empty() {
            if self.fsynced() < end
                && let Some(file) = &f.incr
                && let Err(e) = file.sync_data()
            {
                fatal_fsync(&e);
            }
            drop(f);
            self.publish_synced(end);
        }
    }

    fn writer_main(self: Arc<Self>, srv: Arc<Shared>) {
        loop {
            {
                let mut g = self.cv_lock.lock();
                if !self.kick.swap(false, Ordering::AcqRel) {
                    // The timeout retries a failed write now and then.
                    self.cv.wait_for(&mut g, Duration::from_millis(100));
                    self.kick.store(false, Ordering::Release);
                }
            }
            self.write_round(&srv);
        }
    }

    fn fsync_main(self: Arc<Self>) {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let (file, written) = {
                let f = self.files.lock();
                if f.params.policy != AppendFsync::EverySec {
                    continue;
                }
                let Some(file) = f.incr.clone() else {
                    continue;
                };
                (file, self.written.load(Ordering::Acquire))
            };
            if written > self.fsynced() {
                if let Err(e) = file.sync_data() {
                    log::warning(&format!("Error during AOF fsync in the background: {e}"));
                    continue;
                }
                self.publish_synced(written);
            }
        }
    }

    fn start_threads(self: &Arc<Self>, srv: &Arc<Shared>) {
        if self.threads_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        srv.keyspace.feed.set_waker(Box::new(move || me.kick()));
        let (me, s) = (self.clone(), srv.clone());
        std::thread::Builder::new()
            .name("ember-aof".into())
            .spawn(move || me.writer_main(s))
            .expect("spawn AOF writer thread");
        let me = self.clone();
        std::thread::Builder::new()
            .name("ember-aof-fsync".into())
            .spawn(move || me.fsync_main())
            .expect("spawn AOF fsync thread");
    }

    /// Writes the manifest: temp file, fsync, rename, fsync the directory.
    fn persist_manifest(f: &Files) -> std::io::Result<()> {
        let p = &f.params;
        let tmp = p.dir.join(format!(
            "{}{}{}",
            manifest::TEMP,
            p.prefix,
            manifest::MANIFEST
        ));
        {
            let mut t = File::create(&tmp)?;
            t.write_all(f.manifest.to_text().as_bytes())?;
            t.sync_all()?;
        }
        std::fs::rename(&tmp, p.manifest_path())?;
        fsync_dir(&p.dir)
    }

    fn open_append(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// Start-up with `appendonly yes`: load the AOF named by the manifest
    /// (the RDB file is not read: AOF wins), or create a base and an
    /// incremental file from the (empty) dataset as Redis does; then open
    /// the incremental file and start consuming the feed. `Err` means the
    /// server must not start (the reason was logged).
    pub fn start_on_boot(self: &Arc<Self>, srv: &Arc<Shared>) -> Result<(), StartFailed> {
        let settings = srv.settings();
        let params = Params::from_settings(&settings);
        let _ = self.server.set(Arc::downgrade(srv));
        self.install_hooks(srv);
        if !settings.appendonly {
            return Ok(());
        }
        if let Err(e) = std::fs::create_dir_all(&params.dir) {
            log::warning(&format!(
                "Can't open or create append-only dir {}: {e}",
                params.dir.display()
            ));
            return Err(StartFailed);
        }
        let mpath = params.manifest_path();
        let mut f = self.files.lock();
        f.params = params.clone();
        if mpath.exists() {
            let text = std::fs::read(&mpath).map_err(|e| {
                log::warning(&format!(
                    "Unable to open the AOF manifest file {}: {e}",
                    mpath.display()
                ))
            })?;
            f.manifest = Manifest::parse(&text).map_err(|e| log::warning(&e))?;
            self.load_files(srv, &mut f, settings.aof_load_truncated)?;
        }
        if f.manifest.base.is_none() && f.manifest.incrs.is_empty() {
            // Nothing on disk: the base is the dataset now (empty; the RDB
            // file is not loaded when AOF is on, as in Redis 7.0).
            let base = f.manifest.next_base(&params.prefix, params.rdb_preamble);
            let path = params.dir.join(&base.name);
            let mut db = srv.keyspace.view_all(0);
            let res = (|| -> std::io::Result<u64> {
                let file = write_base(srv, &mut db, &path, params.rdb_preamble)?;
                file.sync_all()?;
                Ok(file.metadata()?.len())
            })();
            drop(db);
            match res {
                Ok(size) => f.base_size = size,
                Err(e) => {
                    log::warning(&format!(
                        "Can't create the AOF base file {}: {e}",
                        base.name
                    ));
                    return Err(StartFailed);
                }
            }
            log::notice(&format!(
                "Creating AOF base file {} on server start",
                base.name
            ));
            f.manifest.switch_base(base, 0);
        }
        let reopen = f.manifest.incrs.last().cloned();
        let incr = match reopen {
            Some(last) => {
                log::notice(&format!(
                    "Opening AOF incr file {} on server start",
                    last.name
                ));
                last
            }
            None => {
                let i = f.manifest.next_incr(&params.prefix);
                log::notice(&format!(
                    "Creating AOF incr file {} on server start",
                    i.name
                ));
                f.manifest.add_incr(i.clone());
                i
            }
        };
        let path = params.dir.join(&incr.name);
        let file = Self::open_append(&path).map_err(|e| {
            log::warning(&format!(
                "Can't open the append-only file {}: {e}",
                incr.name
            ))
        })?;
        f.incr_size = file.metadata().map(|m| m.len()).unwrap_or(0);
        f.older_incr_size = f
            .manifest
            .incrs
            .iter()
            .filter(|i| i.seq != incr.seq)
            .map(|i| file_size(&params.dir.join(&i.name)))
            .sum();
        f.incr = Some(Arc::new(file));
        let history: Vec<AofFile> = std::mem::take(&mut f.manifest.history);
        Self::persist_manifest(&f)
            .map_err(|e| log::warning(&format!("Can't persist the AOF manifest: {e}")))?;
        for h in history {
            let _ = std::fs::remove_file(params.dir.join(&h.name));
        }
        let _ = fsync_dir(&params.dir);
        drop(f);
        self.activate(srv, params.policy);
        srv.dirty.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Loads base and increments in order (called with `files` locked).
    fn load_files(
        &self,
        srv: &Shared,
        f: &mut Files,
        truncated_ok: bool,
    ) -> Result<(), StartFailed> {
        let start = Instant::now();
        let order: Vec<AofFile> = f.manifest.load_order().cloned().collect();
        let last = order.len().saturating_sub(1);
        let mut total = 0u64;
        for (i, file) in order.iter().enumerate() {
            let path = f.params.dir.join(&file.name);
            let t0 = Instant::now();
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound && file.kind == FileType::Incr =>
                {
                    log::warning(&format!("The AOF file {} doesn't exist", file.name));
                    return Err(StartFailed);
                }
                Err(e) => {
                    log::warning(&format!(
                        "Fatal error: can't open the append log file {} for reading: {e}",
                        file.name
                    ));
                    return Err(StartFailed);
                }
            };
            total += data.len() as u64;
            if data.is_empty() {
                continue;
            }
            let what = if file.kind == FileType::Base {
                "base"
            } else {
                "incr"
            };
            let rest = if data.starts_with(b"REDIS") {
                log::notice("Reading RDB base file on AOF loading...");
                let used = crate::persist::load_rdb_preamble(srv, &data).map_err(|e| {
                    log::warning(&format!(
                        "Error reading the RDB base file {}, AOF loading aborted: {e}",
                        file.name
                    ))
                })?;
                if used < data.len() {
                    log::notice("Reading the remaining AOF tail...");
                }
                used
            } else {
                0
            };
            match load::replay(srv, &file.name, &data[rest..]) {
                Err(load::BadFormat) => return Err(StartFailed),
                Ok(load::Loaded::Complete) => {}
                Ok(load::Loaded::Truncated(valid)) => {
                    let valid = valid + rest as u64;
                    if i != last {
                        log::warning("Fatal error: the truncated file is not the last file");
                        return Err(StartFailed);
                    }
                    if !truncated_ok {
                        log::warning(&format!(
                            "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                            file.name
                        ));
                        return Err(StartFailed);
                    }
                    log::warning(&format!(
                        "!!! Warning: short read while loading the AOF file {}!!!",
                        file.name
                    ));
                    log::warning(&format!(
                        "!!! Truncating the AOF {} at offset {valid} !!!",
                        file.name
                    ));
                    let cut = OpenOptions::new().write(true).open(&path).and_then(|h| {
                        h.set_len(valid)?;
                        h.sync_all()
                    });
                    if let Err(e) = cut {
                        log::warning(&format!("Error truncating the AOF file {}: {e}", file.name));
                        return Err(StartFailed);
                    }
                    total -= data.len() as u64 - valid;
                    log::warning(&format!(
                        "AOF {} loaded anyway because aof-load-truncated is enabled",
                        file.name
                    ));
                }
            }
            if file.kind == FileType::Base {
                f.base_size = file_size(&path);
            }
            log::notice(&format!(
                "DB loaded from {what} file {}: {:.3} seconds",
                file.name,
                t0.elapsed().as_secs_f64()
            ));
        }
        log::notice(&format!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f64()
        ));
        self.rewrite_base_size.store(total, Ordering::Relaxed);
        Ok(())
    }

    /// The AOF is on: consume the feed from its current end.
    fn activate(self: &Arc<Self>, srv: &Arc<Shared>, policy: AppendFsync) {
        let feed = &srv.keyspace.feed;
        if !feed.active() {
            feed.set_active(true);
        }
        let off = feed.offset();
        self.written.store(off, Ordering::Release);
        self.fsynced.fetch_max(off, Ordering::AcqRel);
        self.enabled.store(true, Ordering::Relaxed);
        self.always
            .store(policy == AppendFsync::Always, Ordering::Relaxed);
        self.start_threads(srv);
    }

    /// `CONFIG SET appendonly no`: write and fsync what is pending, close.
    fn stop(&self, srv: &Shared) {
        let mut f = self.files.lock();
        if f.incr.is_some() {
            self.drain_feed(srv, &mut f);
            if let Some(file) = &f.incr {
                let _ = file.sync_data();
            }
        }
        f.incr = None;
        srv.keyspace.feed.set_active(false);
        self.enabled.store(false, Ordering::Relaxed);
        self.always.store(false, Ordering::Relaxed);
        drop(f);
        self.synced.notify_waiters();
    }

    /// At shutdown: write and fsync what is pending.
    pub fn shutdown(&self, srv: &Shared) {
        let mut f = self.files.lock();
        if f.incr.is_none() {
            return;
        }
        log::notice("Calling fsync() on the AOF file.");
        self.drain_feed(srv, &mut f);
        if let Some(file) = &f.incr {
            let _ = file.sync_data();
        }
    }

    /// CONFIG SET hooks: `appendonly` (turning on rewrites first, as
    /// Redis), `appendfsync`.
    fn install_hooks(self: &Arc<Self>, srv: &Arc<Shared>) {
        let (me, s) = (self.clone(), Arc::downgrade(srv));
        srv.config.on_change(
            "appendonly",
            Box::new(move |st: &Settings| {
                let Some(srv) = s.upgrade() else {
                    return Ok(());
                };
                if st.appendonly && !me.enabled() {
                    if let Err(e) =
                        std::fs::create_dir_all(Path::new(&st.dir).join(&st.appenddirname))
                    {
                        return Err(format!("Can't open or create append-only dir: {e}"));
                    }
                    me.start_rewrite(&srv, Params::from_settings(st))
                        .map_err(|e| e.to_string())?;
                } else if !st.appendonly && me.enabled() {
                    me.stop(&srv);
                }
                Ok(())
            }),
        );
        let me = self.clone();
        srv.config.on_change(
            "appendfsync",
            Box::new(move |st: &Settings| {
                let mut f = me.files.lock();
                f.params.policy = st.appendfsync;
                me.always.store(
                    me.enabled() && st.appendfsync == AppendFsync::Always,
                    Ordering::Relaxed,
                );
                drop(f);
                me.synced.notify_waiters();
                Ok(())
            }),
        );
        let me = self.clone();
        srv.config.on_change(
            "aof-use-rdb-preamble",
            Box::new(move |st: &Settings| {
                me.files.lock().params.rdb_preamble = st.aof_use_rdb_preamble;
                Ok(())
            }),
        );
    }

    /// BGREWRITEAOF: starts a rewrite on its own thread. The error is
    /// Redis's reply text.
    pub fn bgrewrite(self: &Arc<Self>) -> Result<(), &'static str> {
        let srv = self
            .server
            .get()
            .and_then(|w| w.upgrade())
            .ok_or("ERR the server is not running")?;
        let srv = &srv;
        let params = {
            let f = self.files.lock();
            if self.enabled() {
                f.params.clone()
            } else {
                drop(f);
                Params::from_settings(&srv.settings())
            }
        };
        if !self.enabled() {
            std::fs::create_dir_all(&params.dir)
                .map_err(|_| "ERR Can't open or create append-only dir")?;
        }
        self.start_rewrite(srv, params)
    }

    fn start_rewrite(
        self: &Arc<Self>,
        srv: &Arc<Shared>,
        params: Params,
    ) -> Result<(), &'static str> {
        if self.rewriting.swap(true, Ordering::SeqCst) {
            return Err("ERR Background append only file rewriting already in progress");
        }
        *self.rewrite_started.lock() = Some(Instant::now());
        let (me, s) = (self.clone(), srv.clone());
        let spawned = std::thread::Builder::new()
            .name("ember-aof-rewrite".into())
            .spawn(move || {
                let start = Instant::now();
                let ok = match me.rewrite(&s, params) {
                    Ok(()) => true,
                    Err(e) => {
                        log::warning(&format!("Background AOF rewrite failed: {e}"));
                        false
                    }
                };
                me.last_rewrite_secs
                    .store(start.elapsed().as_secs() as i64, Ordering::Relaxed);
                me.last_rewrite_ok.store(ok, Ordering::Relaxed);
                if ok {
                    me.rewrites.fetch_add(1, Ordering::Relaxed);
                    me.rewrite_failures.store(0, Ordering::Relaxed);
                    log::notice("Background AOF rewrite finished successfully");
                } else {
                    me.rewrite_failures.fetch_add(1, Ordering::Relaxed);
                }
                *me.rewrite_started.lock() = None;
                me.rewriting.store(false, Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.rewriting.store(false, Ordering::SeqCst);
            return Err("ERR Can't start the AOF rewrite thread");
        }
        Ok(())
    }

    /// The rewrite itself (see the module documentation).
    fn rewrite(self: &Arc<Self>, srv: &Arc<Shared>, params: Params) -> std::io::Result<()> {
        let was_on = self.enabled();
        let tmp_base = params.dir.join(format!(
            "{}rewriteaof-bg-{}.aof",
            manifest::TEMP,
            std::process::id()
        ));
        let (new_incr, new_base, base_size) = {
            // Every shard locked: no command can append to the feed, so
            // the feed's current end is the point in time of the base.
            let mut db = srv.keyspace.view_all(0);
            let mut f = self.files.lock();
            if was_on {
                self.drain_feed(srv, &mut f);
                if let Some(file) = &f.incr {
                    file.sync_data()?;
                }
                self.publish_synced(self.written.load(Ordering::Acquire));
            } else {
                f.params = params.clone();
                // A manifest left by an earlier run names the files this
                // rewrite replaces.
                if let Ok(text) = std::fs::read(params.manifest_path()) {
                    f.manifest = Manifest::parse(&text).unwrap_or_default();
                }
            }
            let incr = f.manifest.next_incr(&params.prefix);
            let file = Self::open_append(&params.dir.join(&incr.name))?;
            log::notice(&format!(
                "Creating AOF incr file {} on background rewrite",
                incr.name
            ));
            log::notice("Background append only file rewriting started");
            if was_on {
                // Recorded now, so writes after the cut are loaded even if
                // the rewrite never completes.
                f.manifest.add_incr(incr.clone());
                Self::persist_manifest(&f)?;
                f.older_incr_size += f.incr_size;
            }
            f.incr = Some(Arc::new(file));
            f.incr_size = 0;
            let feed = &srv.keyspace.feed;
            // The new file starts with a SELECT.
            feed.reset_db();
            drop(f);
            if !was_on {
                self.activate(srv, params.policy);
                // Replies wait for fsync only once the AOF is complete.
                self.always.store(false, Ordering::Relaxed);
            }
            let base = self
                .files
                .lock()
                .manifest
                .next_base(&params.prefix, params.rdb_preamble);
            // The dataset at this cut: from a snapshot walked after the
            // locks are released, or (a BGSAVE holds the snapshot) while
            // still locked.
            let file = match snapshot_base(srv, &mut db, params.rdb_preamble) {
                Some(walker) => {
                    drop(db);
                    write_base_from(srv, walker, &tmp_base, params.rdb_preamble)?
                }
                None => {
                    let f = write_base(srv, &mut db, &tmp_base, params.rdb_preamble)?;
                    drop(db);
                    f
                }
            };
            file.sync_all()?;
            let size = file.metadata()?.len();
            log::notice(&format!(
                "Successfully created the temporary AOF base file {}",
                tmp_base.file_name().unwrap_or_default().to_string_lossy()
            ));
            (incr, base, size)
        };
        log::notice("Background AOF rewrite terminated with success");
        std::fs::rename(&tmp_base, params.dir.join(&new_base.name))?;
        log::notice(&format!(
            "Successfully renamed the temporary AOF base file {} into {}",
            tmp_base.file_name().unwrap_or_default().to_string_lossy(),
            new_base.name
        ));
        let mut f = self.files.lock();
        if f.incr.is_none() {
            // Turned off meanwhile.
            return Ok(());
        }
        if !was_on {
            f.manifest.add_incr(new_incr.clone());
        }
        f.manifest.switch_base(new_base, new_incr.seq);
        let history = std::mem::take(&mut f.manifest.history);
        Self::persist_manifest(&f)?;
        f.base_size = base_size;
        f.older_incr_size = 0;
        self.rewrite_base_size.store(base_size, Ordering::Relaxed);
        if !was_on || params.policy == AppendFsync::Always {
            self.always
                .store(f.params.policy == AppendFsync::Always, Ordering::Relaxed);
        }
        drop(f);
        for h in history {
            log::notice(&format!(
                "Removing the history file {} in the background",
                h.name
            ));
            let _ = std::fs::remove_file(params.dir.join(&h.name));
        }
        Ok(())
    }

    /// Cron: starts the automatic rewrite when the AOF grew past
    /// `auto-aof-rewrite-percentage` of its size after the last rewrite
    /// (and is over `auto-aof-rewrite-min-size`).
    pub fn cron(self: &Arc<Self>, s: &Settings) {
        if !self.enabled() || self.rewrite_in_progress() || s.auto_aof_rewrite_percentage == 0 {
            return;
        }
        let cur = self.current_size();
        if cur <= s.auto_aof_rewrite_min_size {
            return;
        }
        let base = self.rewrite_base_size.load(Ordering::Relaxed).max(1);
        let growth = (cur * 100 / base) as i64 - 100;
        if growth >= s.auto_aof_rewrite_percentage as i64 {
            log::notice(&format!(
                "Starting automatic rewriting of AOF on {growth}% growth"
            ));
            let _ = self.bgrewrite();
        }
    }

    fn current_size(&self) -> u64 {
        let f = self.files.lock();
        f.base_size + f.older_incr_size + f.incr_size
    }

    /// The AOF fields of `INFO persistence` (Redis 7.0's names and
    /// order): those always shown, then those shown while AOF is on.
    pub fn info_fields(&self) -> (InfoFields, InfoFields) {
        let on = self.enabled();
        let cur_rewrite = self
            .rewrite_started
            .lock()
            .map(|t| t.elapsed().as_secs() as i64)
            .unwrap_or(-1);
        let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
        let head = vec![
            ("aof_enabled", (on as u8).to_string()),
            (
                "aof_rewrite_in_progress",
                (self.rewrite_in_progress() as u8).to_string(),
            ),
            ("aof_rewrite_scheduled", "0".into()),
            (
                "aof_last_rewrite_time_sec",
                self.last_rewrite_secs.load(Ordering::Relaxed).to_string(),
            ),
            ("aof_current_rewrite_time_sec", cur_rewrite.to_string()),
            (
                "aof_last_bgrewrite_status",
                ok(self.last_rewrite_ok.load(Ordering::Relaxed)),
            ),
            (
                "aof_rewrites",
                self.rewrites.load(Ordering::Relaxed).to_string(),
            ),
            (
                "aof_rewrites_consecutive_failures",
                self.rewrite_failures.load(Ordering::Relaxed).to_string(),
            ),
            (
                "aof_last_write_status",
                ok(self.last_write_ok.load(Ordering::Relaxed)),
            ),
            ("aof_last_cow_size", "0".into()),
        ];
        let mut tail = Vec::new();
        if on {
            let backlog = self.files.lock().backlog.len();
            tail = vec![
                ("aof_current_size", self.current_size().to_string()),
                (
                    "aof_base_size",
                    self.rewrite_base_size.load(Ordering::Relaxed).to_string(),
                ),
                ("aof_pending_rewrite", "0".into()),
                ("aof_buffer_length", backlog.to_string()),
                ("aof_pending_bio_fsync", "0".into()),
                ("aof_delayed_fsync", "0".into()),
            ];
        }
        (head, tail)
    }
}

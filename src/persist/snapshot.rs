//! Snapshots of the whole keyspace: SAVE (serialise every database under
//! the all-shards lock into `temp-<pid>.rdb`, fsync, rename over
//! `dbfilename`, so a crash mid-save never destroys the previous file) and
//! loading a file into an empty keyspace (at startup and DEBUG RELOAD).

use crate::config::Settings;
use crate::persist::convert::{self, LoadLimits};
use crate::persist::rdb::reader::{Item, Reader};
use crate::persist::rdb::writer::{Thresholds, Writer};
use crate::server::log;
use crate::storage::keyspace::{Db, Keyspace, Shard, unix_ms};
use crate::storage::value::Entry;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Writes the whole RDB of every database in `shards` (all of them,
/// locked) to `out`.
pub fn write_rdb<W: Write>(
    out: W,
    shards: &mut [&mut Shard],
    compress: bool,
    checksum: bool,
    used_mem: u64,
    th: &Thresholds,
) -> io::Result<W> {
    write_rdb_as(out, shards, compress, checksum, used_mem, th, false)
}

/// [`write_rdb`], saying in the `aof-base` aux field whether the file is
/// the RDB preamble of an AOF base.
pub fn write_rdb_as<W: Write>(
    out: W,
    shards: &mut [&mut Shard],
    compress: bool,
    checksum: bool,
    used_mem: u64,
    th: &Thresholds,
    aof_base: bool,
) -> io::Result<W> {
    let mut w = Writer::new(out, compress, checksum);
    write_header(&mut w, used_mem, aof_base)?;
    let databases = shards.first().map_or(0, |s| s.dbs.len());
    for db in 0..databases {
        let (keys, expires) = shards.iter().fold((0, 0), |(k, e), s| {
            (k + s.dbs[db].main.len(), e + s.dbs[db].expires.len())
        });
        if keys == 0 {
            continue;
        }
        w.select_db(db as u64)?;
        w.resize_db(keys as u64, expires as u64)?;
        for s in shards.iter() {
            let t = &s.dbs[db];
            for (k, e) in t.main.iter() {
                let expire = t.expire_of(k.as_slice(), e);
                convert::write_entry(&mut w, k, e, expire, th)?;
            }
        }
    }
    w.finish()
}

/// The magic, version and aux fields every RDB Ember writes starts with.
pub fn write_header<W: Write>(w: &mut Writer<W>, used_mem: u64, aof_base: bool) -> io::Result<()> {
    w.header()?;
    w.aux("redis-ver", crate::server::REDIS_VERSION.as_bytes())?;
    w.aux("redis-bits", b"64")?;
    w.aux("ctime", (unix_ms() / 1000).to_string().as_bytes())?;
    w.aux("used-mem", used_mem.to_string().as_bytes())?;
    w.aux("aof-base", if aof_base { b"1" } else { b"0" })
}

/// A save that did not complete (the reason is in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveFailed;

/// SAVE: writes the snapshot through a temp file and renames it over
/// `dbfilename` (in the working directory, which is `dir`). `db` must hold
/// every shard. Logs as Redis does; the error is already logged.
pub fn save(db: &mut Db, settings: &Settings, used_mem: u64) -> Result<(), SaveFailed> {
    let tmp = format!("temp-{}.rdb", std::process::id());
    let file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            let cwd = std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "unknown".into());
            log::warning(&format!(
                "Failed opening the temp RDB file {tmp} (in server root dir {cwd}) for saving: {e}"
            ));
            return Err(SaveFailed);
        }
    };
    let mut shards: Vec<&mut Shard> = db.shards_mut().collect();
    let res = write_rdb(
        BufWriter::with_capacity(1 << 16, file),
        &mut shards,
        settings.rdbcompression,
        settings.rdbchecksum,
        used_mem,
        &convert::thresholds(settings),
    )
    .and_then(|bw| bw.into_inner().map_err(|e| e.into_error()))
    .and_then(|f| f.sync_all())
    .and_then(|_| std::fs::rename(&tmp, &settings.dbfilename));
    match res {
        Ok(()) => {
            // Make the rename durable too.
            if let Ok(d) = std::fs::File::open(".") {
                let _ = d.sync_all();
            }
            log::notice("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            log::warning(&format!("Write error saving DB on disk: {e}"));
            Err(SaveFailed)
        }
    }
}

/// What a load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub loaded: u64,
    pub expired: u64,
    pub empty_skipped: u64,
}

/// Why a load failed (already logged in Redis's words).
#[derive(Debug)]
pub enum LoadError {
    /// No such file: not an error at startup.
    NotFound,
    /// The file is corrupt or unreadable.
    Failed(String),
}

/// Loads `path` into `db` (a view over every shard, on an empty keyspace).
/// Keys already expired are dropped, empty collections skipped, as Redis
/// does when loading as a master.
/// With `merge`, a key already present is replaced (DEBUG RELOAD MERGE);
/// otherwise a duplicate is an error.
pub fn load_file(
    path: &Path,
    db: &mut Db,
    settings: &Settings,
    merge: bool,
) -> Result<LoadStats, LoadError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LoadError::NotFound),
        Err(e) => {
            let msg = format!("Fatal error loading the DB: {e}. Exiting.");
            log::warning(&msg);
            return Err(LoadError::Failed(msg));
        }
    };
    let size = file.metadata().ok().map(|m| m.len());
    let r = Reader::new(BufReader::with_capacity(1 << 16, file), size).map_err(internal_error)?;
    load_from(r, db, settings, merge).map(|(st, _)| st)
}

/// Loads an RDB held in memory (an AOF base file's preamble) into `db`;
/// returns the stats and the bytes used (the RDB ends there).
pub fn load_bytes(
    data: &[u8],
    db: &mut Db,
    settings: &Settings,
) -> Result<(LoadStats, u64), LoadError> {
    let r = Reader::new(data, Some(data.len() as u64)).map_err(internal_error)?;
    load_from(r, db, settings, false)
}

/// Logs a decoding error as Redis does and wraps it.
fn internal_error(e: crate::persist::rdb::RdbError) -> LoadError {
    let msg = format!(
        "Internal error in RDB reading offset {}, function at rdb.rs -> {}",
        e.offset, e.msg
    );
    log::warning(&msg);
    LoadError::Failed(msg)
}

/// Reads every record of `r` into `db`.
fn load_from<R: std::io::Read>(
    mut r: Reader<R>,
    db: &mut Db,
    settings: &Settings,
    merge: bool,
) -> Result<(LoadStats, u64), LoadError> {
    let fail = |msg: String| {
        log::warning(&msg);
        LoadError::Failed(msg)
    };
    let internal = internal_error;
    let lim = LoadLimits::from_settings(settings);
    let databases = db.keyspace().databases();
    let now = unix_ms();
    let lru_now = db.keyspace().lru_clock();
    let lfu = db.keyspace().lfu_mode();
    let stamp_now = db.keyspace().new_stamp();
    let lfu_minutes = db.keyspace().lfu_minutes();
    let mut stats = LoadStats::default();
    let mut cur = 0usize;
    loop {
        let at = r.offset();
        match r.next_item().map_err(internal)? {
            Item::Eof => break,
            Item::Aux { key, value } => {
                let v = String::from_utf8_lossy(&value);
                match &key[..] {
                    b"redis-ver" => log::notice(&format!("Loading RDB produced by version {v}")),
                    b"ctime" => {
                        if let Ok(t) = v.parse::<i64>() {
                            let age = (now / 1000 - t).max(0);
                            log::notice(&format!("RDB age {age} seconds"));
                        }
                    }
                    b"used-mem" => {
                        if let Ok(u) = v.parse::<u64>() {
                            log::notice(&format!(
                                "RDB memory usage when created {:.2} Mb",
                                u as f64 / (1024.0 * 1024.0)
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Item::SelectDb(n) => {
                if n as usize >= databases {
                    return Err(fail(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting\n"
                    )));
                }
                cur = n as usize;
            }
            Item::ResizeDb { keys, expires } => db.reserve_in(cur, keys, expires),
            Item::Function(_) => {
                log::warning(
                    "The RDB file contains a function library: Ember has no functions; skipped",
                );
            }
            Item::Key(k) => {
                if convert::is_empty_collection(&k.value) {
                    log::warning(&format!(
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&k.key)
                    ));
                    stats.empty_skipped += 1;
                    continue;
                }
                if k.expire_ms.is_some_and(|e| e < now) {
                    stats.expired += 1;
                    continue;
                }
                let value = convert::to_storage(k.value, lim).map_err(|e| {
                    internal(crate::persist::rdb::RdbError {
                        offset: at,
                        msg: format!("{e} (key '{}')", String::from_utf8_lossy(&k.key)),
                    })
                })?;
                let mut entry = Entry::new(value, stamp_now);
                // As Redis: a FREQ record counts under an LFU policy, an
                // IDLE record under any other.
                if lfu {
                    if let Some(freq) = k.freq {
                        entry.lru = (lfu_minutes << 8) | freq as u32;
                    }
                } else if let Some(idle) = k.idle {
                    entry.lru = lru_now.wrapping_sub(idle.min(u32::MAX as u64) as u32);
                }
                let expire = k.expire_ms.unwrap_or(crate::storage::value::NO_EXPIRE);
                if merge {
                    db.insert_entry_in(cur, &k.key, entry, expire);
                } else if !db.load_entry_in(cur, &k.key, entry, expire) {
                    return Err(fail(format!(
                        "RDB has duplicated key '{}' in DB {cur}",
                        String::from_utf8_lossy(&k.key)
                    )));
                }
                stats.loaded += 1;
            }
        }
    }
    let used = r.offset();
    if stats.empty_skipped > 0 {
        log::notice(&format!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            stats.loaded, stats.expired, stats.empty_skipped
        ));
    } else {
        log::notice(&format!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            stats.loaded, stats.expired
        ));
    }
    Ok((stats, used))
}

/// Loads `dbfilename` at startup. Returns `None` when the server must not
/// start (a corrupt file): the reason is logged.
pub fn load_at_startup(ks: &Keyspace, settings: &Settings) -> Option<LoadStats> {
    let start = Instant::now();
    let mut db = ks.view_all(0);
    match load_file(Path::new(&settings.dbfilename), &mut db, settings, false) {
        Ok(st) => {
            log::notice(&format!(
                "DB loaded from disk: {:.3} seconds",
                start.elapsed().as_secs_f64()
            ));
            Some(st)
        }
        Err(LoadError::NotFound) => Some(LoadStats::default()),
        Err(LoadError::Failed(_)) => {
            log::warning("Terminating server after rdb file reading failure.");
            None
        }
    }
}

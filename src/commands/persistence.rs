//! Persistence commands: SAVE (a blocking snapshot), BGSAVE (a background
//! one, `persist::bgsave`), DUMP and RESTORE
//! (one value in Redis's serialisation format), plus the helpers SHUTDOWN,
//! DEBUG RELOAD and the cron's save points use to save. The format itself
//! lives in `persist/`.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::persist::bgsave::StartError;
use crate::persist::convert::{self, ConvertError, LoadLimits};
use crate::persist::rdb::reader::decode_dump_payload;
use crate::persist::snapshot::{self, SaveFailed};
use crate::server::shared::Shared;
use crate::storage::keyspace::{Db, unix_ms};
use crate::storage::notify;
use crate::storage::value::Entry;
use crate::util::num::parse_i64;
use std::sync::atomic::Ordering;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "save",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        // A consistent view: every shard stays locked while writing.
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Writes the dataset to disk, blocking the server meanwhile.",
        handler: save,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bgsave",
        arity: -1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        // Every shard locked for a moment: the snapshot's cut.
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously saves the database(s) to disk.",
        handler: bgsave,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "dump",
        arity: 2,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "generic",
        since: "2.6.0",
        summary: "Returns a key's value serialised in the RDB format.",
        handler: dump,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "restore",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW | acl::DANGEROUS,
        keys: Keys::ONE,
        group: "generic",
        since: "2.6.0",
        summary: "Creates a key from a DUMP payload.",
        handler: restore,
        ..CommandDef::DEFAULT
    },
];

/// Saves the snapshot through `db` (all shards locked) and updates the
/// save statistics. Errors are logged by the writer.
pub fn save_locked(srv: &Shared, db: &mut Db) -> Result<(), SaveFailed> {
    srv.rdb_saves.fetch_add(1, Ordering::Relaxed);
    save_quietly(srv, db)
}

/// [`save_locked`] not counted in `rdb_saves` (Redis's internal `rdbSave`:
/// FLUSHALL's save).
pub fn save_quietly(srv: &Shared, db: &mut Db) -> Result<(), SaveFailed> {
    let settings = srv.settings();
    let used = crate::commands::server::info::memory_in_use();
    let res = snapshot::save(db, &settings, used);
    if res.is_ok() {
        srv.dirty.store(0, Ordering::Relaxed);
        srv.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
        crate::persist::bgsave::set_status(srv, true);
    }
    // A failed SAVE leaves `rdb_last_bgsave_status` as it was (Redis).
    srv.last_save_try.store(unix_ms() / 1000, Ordering::Relaxed);
    res
}

/// The save before exiting (SHUTDOWN, SIGTERM).
pub fn final_save(srv: &Shared, db: &mut Db) -> Result<(), SaveFailed> {
    crate::server::log::notice("Saving the final RDB snapshot before exiting.");
    save_locked(srv, db)
}

/// Cancels a running BGSAVE as Redis kills its saving child (SHUTDOWN,
/// SIGTERM, FLUSHALL); `db` holds every shard.
pub fn kill_bgsave(srv: &Shared, db: &mut Db) {
    if srv.bgsave.in_progress() {
        crate::server::log::warning("There is a child saving an .rdb. Killing it!");
        srv.bgsave.abort(db);
    }
}

/// The cron's save points: when `changes` writes happened within
/// `seconds`, start a BGSAVE (unless a save or an AOF rewrite runs).
/// After a failure the next try waits 5 seconds, as Redis does.
pub fn cron_save_points(srv: &Shared) {
    let settings = srv.settings();
    if settings.save.is_empty() || srv.bgsave.in_progress() || srv.aof.rewrite_in_progress() {
        return;
    }
    let now = unix_ms() / 1000;
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let last = srv.lastsave.load(Ordering::Relaxed);
    let retry_ok = srv.last_save_ok.load(Ordering::Relaxed)
        || now - srv.last_save_try.load(Ordering::Relaxed) > 5;
    for &(secs, changes) in &settings.save {
        if dirty >= changes && now - last >= secs as i64 && retry_ok {
            crate::server::log::notice(&format!("{changes} changes in {secs} seconds. Saving..."));
            let mut db = srv.keyspace.view_all(0);
            let _ = srv.bgsave.start(&mut db);
            return;
        }
    }
}

fn save(ctx: &mut Ctx, _args: &Args) {
    if ctx.srv.bgsave.in_progress() || ctx.srv.repl.jobs.active() {
        return ctx.out.err("ERR Background save already in progress");
    }
    match save_locked(ctx.srv, ctx.db) {
        Ok(()) => ctx.out.ok(),
        Err(SaveFailed) => ctx.out.err("ERR"),
    }
}

/// BGSAVE [SCHEDULE]: starts a background save of this instant (the
/// dispatcher holds every shard: the cut). Inside EXEC, or while an AOF
/// rewrite runs, it is scheduled as Redis does.
fn bgsave(ctx: &mut Ctx, args: &Args) {
    let schedule = match args.len() {
        1 => false,
        2 if args.get(1).eq_ignore_ascii_case(b"schedule") => true,
        _ => return ctx.syntax_error(),
    };
    let bg = &ctx.srv.bgsave;
    if bg.in_progress() {
        ctx.out.err("ERR Background save already in progress");
    } else if ctx.srv.aof.rewrite_in_progress() || ctx.client.in_exec {
        if schedule || ctx.client.in_exec {
            bg.schedule();
            ctx.out.simple(b"Background saving scheduled");
        } else {
            ctx.out.err(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. \
                 Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            );
        }
    } else {
        match bg.start(ctx.db) {
            Ok(()) => ctx.out.simple(b"Background saving started"),
            Err(StartError::InProgress) => ctx.out.err("ERR Background save already in progress"),
            Err(StartError::Failed) => ctx.out.err("ERR"),
        }
    }
}

/// Saves then reloads the file (DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]).
pub fn debug_reload(ctx: &mut Ctx, args: &Args) {
    let (mut merge, mut flush, mut do_save) = (false, true, true);
    for a in args.iter().skip(2) {
        match &a.to_ascii_lowercase()[..] {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => do_save = false,
            _ => {
                ctx.out
                    .err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
    }
    let dirty_before = ctx.db.dirty;
    if do_save && save_locked(ctx.srv, ctx.db).is_err() {
        ctx.out.err("ERR");
        return;
    }
    if flush {
        ctx.db.flush(None);
    }
    let settings = ctx.srv.settings();
    let res = snapshot::load_file(
        std::path::Path::new(&settings.dbfilename),
        ctx.db,
        &settings,
        merge,
    );
    ctx.db.dirty = dirty_before;
    match res {
        Ok(st) => {
            ctx.srv.note_load(&st);
            crate::server::log::notice("DB reloaded by DEBUG RELOAD");
            ctx.out.ok();
        }
        Err(_) => ctx
            .out
            .err("ERR Error trying to load the RDB dump, check server logs."),
    }
}

fn dump(ctx: &mut Ctx, args: &Args) {
    let compress = ctx.client.settings.rdbcompression;
    match ctx.db.get(args.get(1)) {
        None => ctx.out.null(),
        Some(e) => {
            let th = convert::thresholds(&ctx.client.settings);
            let p = convert::dump_payload(&e.value, compress, &th);
            ctx.out.bulk(&p);
        }
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].
fn restore(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let (mut replace, mut absttl) = (false, false);
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        match &args.get(j).to_ascii_lowercase()[..] {
            b"replace" => replace = true,
            b"absttl" => absttl = true,
            b"idletime" if more >= 1 && freq.is_none() => {
                let Some(n) = parse_i64(args.get(j + 1)) else {
                    return ctx.not_integer();
                };
                if n < 0 {
                    return ctx.out.err("ERR Invalid IDLETIME value, must be >= 0");
                }
                idle = Some(n);
                j += 1;
            }
            b"freq" if more >= 1 && idle.is_none() => {
                let Some(n) = parse_i64(args.get(j + 1)) else {
                    return ctx.not_integer();
                };
                if !(0..=255).contains(&n) {
                    return ctx
                        .out
                        .err("ERR Invalid FREQ value, must be >= 0 and <= 255");
                }
                freq = Some(n);
                j += 1;
            }
            _ => return ctx.syntax_error(),
        }
        j += 1;
    }
    if !replace && ctx.db.get_for_write(key).is_some() {
        return ctx.out.err("BUSYKEY Target key name already exists.");
    }
    let Some(mut ttl) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    if ttl < 0 {
        return ctx.out.err("ERR Invalid TTL value, must be >= 0");
    }
    let Some(decoded) = decode_dump_payload(args.get(3)) else {
        return ctx
            .out
            .err("ERR DUMP payload version or checksum are wrong");
    };
    let value = match decoded {
        Ok(v) if !convert::is_empty_collection(&v) => v,
        _ => return ctx.out.err("ERR Bad data format"),
    };
    let lim = LoadLimits::from_settings(&ctx.client.settings);
    let value = match convert::to_storage(value, lim) {
        Ok(v) => v,
        Err(ConvertError::Unsupported(t)) => {
            return ctx.out.error(
                format!("ERR Bad data format: {t} values are not supported yet by Ember")
                    .as_bytes(),
            );
        }
        Err(ConvertError::Invalid(_)) => return ctx.out.err("ERR Bad data format"),
    };
    let deleted = replace && ctx.db.remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(ctx.db.now());
    }
    if ttl != 0 && ttl <= unix_ms() {
        // Already expired: the key is not created; an old one REPLACE
        // deleted is reported and propagated as a DEL.
        if deleted {
            ctx.propagate_as(&[b"DEL", key]);
            ctx.notify(notify::GENERIC, "del", key);
        }
        return ctx.out.ok();
    }
    let ks = ctx.db.keyspace();
    let clock = ks.lru_clock();
    let mut entry = Entry::new(value, ks.new_stamp());
    let expire = if ttl != 0 {
        ttl
    } else {
        crate::storage::value::NO_EXPIRE
    };
    if ttl != 0 && !absttl && ctx.propagating() {
        // Replicas and the AOF get the absolute time.
        let mut rewritten: Vec<&[u8]> = args.iter().collect();
        let at = ttl.to_string();
        rewritten[2] = at.as_bytes();
        rewritten.push(b"ABSTTL");
        ctx.propagate_as(&rewritten);
    }
    // As Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy,
    // IDLETIME under any other.
    if ks.lfu_mode() {
        if let Some(freq) = freq {
            entry.lru = (ks.lfu_minutes() << 8) | freq as u32;
        }
    } else if let Some(idle) = idle {
        entry.lru = clock.wrapping_sub(idle.min(u32::MAX as i64) as u32);
    }
    let db = ctx.db.index;
    ctx.db.insert_entry_in(db, key, entry, expire);
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
}

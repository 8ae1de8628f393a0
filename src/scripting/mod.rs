//! The Lua bridge behind EVAL/EVALSHA/SCRIPT: one Lua 5.1 interpreter
//! (mlua, vendored) for the whole server, Redis 7.0's sandbox and `redis`
//! API over it (`sandbox.lua`), the script cache, and the state of the
//! running script that other threads read (BUSY, SCRIPT KILL).
//!
//! A script runs from the EVAL handler with every shard locked (EVAL is
//! declared `Keys::All`, like EXEC), so scripts are serialised by those
//! locks and the interpreter's mutex is never contended by two scripts.
//! Each `redis.call` goes through [`crate::commands::call`] over the same
//! locked view: notifications, WATCH, dirty counts, MONITOR (`[db lua]`),
//! statistics and the feed see every command; the view wraps the script's
//! writes in `MULTI`/`EXEC` when there are several. A count hook (every
//! 100 000 instructions) stops a script once SCRIPT KILL asked for it.

pub mod convert;
pub mod libs;

use crate::commands::{self, Args, Ctx, Table as CommandTable, flags};
use crate::protocol::reply::{Reply, Resp};
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// Script flags of a `#!lua flags=...` shebang.
pub const NO_WRITES: u32 = 1 << 0;
pub const ALLOW_OOM: u32 = 1 << 1;
pub const ALLOW_STALE: u32 = 1 << 2;
pub const NO_CLUSTER: u32 = 1 << 3;
pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
/// No shebang: Redis's EVAL compatibility mode.
pub const EVAL_COMPAT: u32 = 1 << 5;

const FLAG_NAMES: &[(&str, u32)] = &[
    ("no-writes", NO_WRITES),
    ("allow-oom", ALLOW_OOM),
    ("allow-stale", ALLOW_STALE),
    ("no-cluster", NO_CLUSTER),
    ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
];

const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// What other threads see of the running script.
struct RunState {
    /// Origin of the millisecond clock below.
    base: Instant,
    running: AtomicBool,
    /// Start, in ms since [`Engine::base`].
    started: AtomicU64,
    /// `busy-reply-threshold` of the running script's client.
    threshold: AtomicU64,
    kill: AtomicBool,
    /// A write command was called: SCRIPT KILL refuses.
    wrote: AtomicBool,
    slow_logged: AtomicBool,
    /// Name (sha) of the running script, for the log.
    name: Mutex<String>,
    /// Redis's rand48 state for `math.random`.
    rand: AtomicU64,
    /// `redis.setresp`: 3 for RESP3 replies from `redis.call`, else 2.
    resp: AtomicU8,
    /// `redis.set_repl` flags (0 = propagate nothing).
    repl: AtomicU8,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            base: Instant::now(),
            running: AtomicBool::new(false),
            started: AtomicU64::new(0),
            threshold: AtomicU64::new(0),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            slow_logged: AtomicBool::new(false),
            name: Mutex::new(String::new()),
            // rand48's state before any seeding, which Redis keeps for
            // the life of the process (never reseeded per script).
            rand: AtomicU64::new(0x1234_ABCD_330E),
            resp: AtomicU8::new(2),
            repl: AtomicU8::new(3),
        }
    }
}

impl RunState {
    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    /// Running for longer than its client's `busy-reply-threshold`.
    fn busy(&self) -> bool {
        self.running.load(Relaxed)
            && self.now_ms().saturating_sub(self.started.load(Relaxed))
                >= self.threshold.load(Relaxed)
    }

    /// Logs a script over its busy threshold, once per run.
    fn check_slow(&self) {
        if self.busy() && !self.slow_logged.swap(true, Relaxed) {
            let elapsed = self.now_ms().saturating_sub(self.started.load(Relaxed));
            crate::server::log::warning(&format!(
                "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: {}.",
                self.name.lock()
            ));
        }
    }
}

/// One cached script.
struct Script {
    func: Function,
    flags: u32,
}

/// The interpreter and what lives in it.
struct Vm {
    lua: Lua,
    /// Globals the scripts see (KEYS and ARGV are set here).
    globals: Table,
    /// The protected environment given to each script.
    env: Table,
    /// `xpcall(f, handler)`.
    runner: Function,
    /// The `redis` table (the per-run `call` and `pcall` go there).
    api: Table,
    scripts: HashMap<String, Script>,
}

/// The scripting engine of a server.
pub struct Engine {
    vm: Mutex<Option<Vm>>,
    run: Arc<RunState>,
    cached: AtomicUsize,
    cached_bytes: AtomicUsize,
    lua_memory: AtomicUsize,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            vm: Mutex::new(None),
            run: Arc::default(),
            cached: AtomicUsize::new(0),
            cached_bytes: AtomicUsize::new(0),
            lua_memory: AtomicUsize::new(0),
        }
    }
}

/// SHA1 of a script body, in lowercase hex.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Reads a script's shebang: its flags and the length of the first line
/// (kept out of the compiled body, its newline kept for line numbers).
pub fn shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((EVAL_COMPAT, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let first = String::from_utf8_lossy(&body[..end]);
    let mut parts = first.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match FLAG_NAMES.iter().find(|(n, _)| *n == f) {
                Some((_, bit)) => flags |= bit,
                None => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}

/// `redisLrand48`'s generator (the libc rand48 LCG), as Redis seeds it.
fn rand48_seed(seed: i32) -> u64 {
    (((seed as u32 as u64) << 16) | 0x330E) & 0xFFFF_FFFF_FFFF
}

fn rand48_next(state: &AtomicU64) -> i64 {
    let x = state.load(Relaxed);
    let next = (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & 0xFFFF_FFFF_FFFF;
    state.store(next, Relaxed);
    (next >> 17) as i64
}

fn new_vm(run: &Arc<RunState>) -> mlua::Result<Vm> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let helpers = lua.create_table()?;
    helpers.set("version", "7.0.15")?;
    helpers.set("version_num", 0x0007_000f)?;
    helpers.set("api", api_table(&lua, run)?)?;
    helpers.set(
        "error_text",
        lua.create_function(|_, v: Value| {
            // (message, raised without the script's position, raised
            // as a plain string by a library function)
            Ok(match v {
                Value::Error(e) => match root_message(&e) {
                    Some(m) => {
                        if let Some(plain) = m.strip_prefix('\u{1}') {
                            (Some(plain.to_string()), true, false)
                        } else if let Some(s) = m.strip_prefix(libs::PLAIN) {
                            (Some(s.to_string()), false, true)
                        } else {
                            (Some(m), false, false)
                        }
                    }
                    None => (None, false, false),
                },
                _ => (None, false, false),
            })
        })?,
    )?;
    let st = run.clone();
    helpers.set(
        "random",
        lua.create_function(move |_, args: mlua::Variadic<f64>| {
            const MAX: i64 = i32::MAX as i64;
            let r = (rand48_next(&st.rand) % MAX) as f64 / MAX as f64;
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = args[0] as i32 as f64;
                    if u < 1.0 {
                        return Err(mlua::Error::runtime(
                            "bad argument #1 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * u).floor() + 1.0)
                }
                2 => {
                    let (l, u) = (args[0] as i32 as f64, args[1] as i32 as f64);
                    if l > u {
                        return Err(mlua::Error::runtime(
                            "bad argument #2 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * (u - l + 1.0)).floor() + l)
                }
                _ => Err(mlua::Error::runtime("wrong number of arguments")),
            }
        })?,
    )?;
    let st = run.clone();
    helpers.set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            st.rand.store(rand48_seed(seed as i32), Relaxed);
            Ok(())
        })?,
    )?;
    let libs = lua.create_table()?;
    libs::register(&lua, &libs)?;
    helpers.set("libs", libs)?;
    // The line of the innermost frame of the script's own code (not a
    // library function), for error messages.
    helpers.set(
        "script_line",
        lua.create_function(|lua, ()| {
            for level in 1.. {
                let found = lua.inspect_stack(level, |d| {
                    let src = d.source();
                    let name = src.source.as_deref().unwrap_or("").to_string();
                    (src.what != "C" && name != "=sandbox").then(|| (name, d.current_line()))
                });
                match found {
                    None => return Ok((None, None)),
                    Some(Some((name, line))) => return Ok((Some(name), line)),
                    Some(None) => {}
                }
            }
            Ok((None, None))
        })?,
    )?;
    let api: Table = helpers.get("api")?;
    let (globals, env, runner): (Table, Table, Function) = lua
        .load(include_str!("sandbox.lua"))
        .set_name("=sandbox")
        .call(helpers)?;
    let st = run.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            st.check_slow();
            if st.kill.load(Relaxed) {
                return Err(mlua::Error::runtime(
                    "ERR Script killed by user with SCRIPT KILL...",
                ));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok(Vm {
        lua,
        globals,
        env,
        runner,
        api,
        scripts: HashMap::new(),
    })
}

/// The state of one run that `redis.call` works with.
struct Run<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a, 'k>,
    readonly: bool,
    reply: Reply,
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
    state: &'c RunState,
}

/// `redis.call`/`redis.pcall`: `(true, value)` or `(false, {err=...})`.
fn redis_call(lua: &Lua, run: &mut Run, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let fail = |msg: &str| -> mlua::Result<(bool, Value)> { Ok((false, err_table(lua, msg)?)) };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    run.buf.clear();
    run.spans.clear();
    for v in args.iter() {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone())? {
                Some(s) => s,
                None => {
                    return fail("ERR Lua redis lib command arguments must be strings or integers");
                }
            },
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        };
        let start = run.buf.len() as u32;
        run.buf.extend_from_slice(&s.as_bytes());
        run.spans.push((start, run.buf.len() as u32));
    }
    let srv = run.ctx.srv;
    let args = Args::new(&run.buf, &run.spans);
    let Some((mut def, mut id)) = srv.table.lookup(args.get(0)) else {
        return fail("ERR Unknown Redis command called from script");
    };
    if !def.subcommands.is_empty() && args.len() >= 2 {
        match CommandTable::subcommand(def, id, args.get(1)) {
            Some(found) => (def, id) = found,
            None => return fail("ERR Unknown Redis command called from script"),
        }
    }
    let argc = args.len() as i32;
    if (def.arity > 0 && argc != def.arity) || argc < -def.arity {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    if def.has(flags::NOSCRIPT) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if def.has(flags::WRITE) {
        if run.readonly {
            return fail("ERR Write commands are not allowed from read-only scripts.");
        }
        run.state.wrote.store(true, Relaxed);
    }
    run.reply.truncate(0);
    run.reply.set_resp(if run.state.resp.load(Relaxed) == 3 {
        Resp::V3
    } else {
        Resp::V2
    });
    let pending = run.ctx.db.pending_len();
    let errors = run.reply.error_count();
    commands::call(
        srv,
        run.ctx.client,
        &mut run.reply,
        &args,
        def,
        id,
        errors,
        run.ctx.db,
    );
    if run.state.repl.load(Relaxed) == 0 {
        run.ctx.db.truncate_pending(pending);
    }
    let parsed = convert::resp_to_lua(lua, run.reply.bytes())?;
    Ok((!parsed.error, parsed.value))
}

/// An `{err=msg}` table.
fn err_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(Value::Table(t))
}

/// The `err` text of an error table.
fn error_field(v: &Value) -> String {
    match v {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// The message an API function raised (a Rust error crossing Lua).
fn root_message(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::RuntimeError(m) => Some(m.clone()),
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        _ => None,
    }
}

/// Raises `msg` from an API function.
fn raise<T>(msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::RuntimeError(msg.to_string()))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// A number, or a string holding one (Lua's own coercion).
fn lua_number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        other => number(other),
    }
}

/// The `redis` table's functions that do not need the running command
/// (`call` and `pcall` are added for each run).
fn api_table(lua: &Lua, run: &Arc<RunState>) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    api.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return raise("ERR wrong number of arguments");
            }
            let bytes = match lua.coerce_string(args[0].clone())? {
                Some(s) => s.as_bytes().to_vec(),
                None => Vec::new(),
            };
            Ok(sha1_hex(&bytes))
        })?,
    )?;
    for (name, tag) in [("error_reply", "err"), ("status_reply", "ok")] {
        api.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let s = match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                    // Redis raises this one without the script's position.
                    _ => return raise("\u{1}ERR wrong number or type of arguments"),
                };
                let mut v = s;
                if tag == "err" {
                    // "-CODE message" keeps its code; a lone word gets ERR.
                    if v.first() == Some(&b'-') {
                        v.remove(0);
                    }
                    if !v.contains(&b' ') {
                        v.splice(0..0, b"ERR ".iter().copied());
                    }
                }
                let t = lua.create_table()?;
                t.raw_set(tag, lua.create_string(&v)?)?;
                Ok(t)
            })?,
        )?;
    }
    api.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return raise("ERR redis.log() requires two arguments or more.");
            }
            let Some(level) = number(&args[0]) else {
                return raise("ERR First argument must be a number (log level).");
            };
            if !(0.0..=3.0).contains(&level) || level.fract() != 0.0 {
                return raise("ERR Invalid debug level.");
            }
            let mut parts = Vec::new();
            for v in args.iter().skip(1) {
                if let Some(s) = lua.coerce_string(v.clone())? {
                    parts.push(s.to_string_lossy());
                }
            }
            let msg = parts.join(" ");
            use crate::server::log;
            match level as u8 {
                0 => log::debug(&msg),
                1 => log::verbose(&msg),
                2 => log::notice(&msg),
                _ => log::warning(&msg),
            }
            Ok(())
        })?,
    )?;
    let st = run.clone();
    api.set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return raise("ERR redis.setresp() requires one argument.");
            }
            let v = number(&args[0]).unwrap_or(0.0);
            if v != 2.0 && v != 3.0 {
                return raise("ERR RESP version must be 2 or 3.");
            }
            st.resp.store(v as u8, Relaxed);
            Ok(())
        })?,
    )?;
    let st = run.clone();
    api.set(
        "set_repl",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return raise("ERR redis.set_repl() requires two arguments.");
            }
            // As lua_tointeger: what is not a number is 0.
            let v = lua_number(&args[0]).unwrap_or(0.0).trunc();
            if !(0.0..=3.0).contains(&v) {
                return raise(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            st.repl.store(v as u8, Relaxed);
            Ok(())
        })?,
    )?;
    api.set(
        "acl_check_cmd",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return raise("ERR Please specify at least one argument for this redis lib call");
            }
            let name = lua.coerce_string(args[0].clone())?;
            let table = CommandTable::new(&[]);
            if name.is_none_or(|n| table.lookup(&n.as_bytes()).is_none()) {
                return raise("ERR Invalid command passed to redis.acl_check_cmd()");
            }
            Ok(true)
        })?,
    )?;
    Ok(api)
}

/// How a script is named by the command.
pub enum Source<'b> {
    Body(&'b [u8]),
    Sha(&'b [u8]),
}

impl Engine {
    fn now_ms(&self) -> u64 {
        self.run.now_ms()
    }

    /// True while a script has run longer than its busy threshold: other
    /// clients' commands (but `allow_busy` ones) get [`busy_error`].
    #[inline]
    pub fn busy(&self) -> bool {
        self.run.busy()
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn cached(&self) -> usize {
        self.cached.load(Relaxed)
    }

    /// Bytes of the cached scripts' bodies (INFO `used_memory_scripts_eval`).
    pub fn cached_bytes(&self) -> usize {
        self.cached_bytes.load(Relaxed)
    }

    /// Memory of the Lua interpreter (INFO `used_memory_lua`), as of the
    /// last script run or SCRIPT command.
    pub fn lua_memory(&self) -> usize {
        self.lua_memory.load(Relaxed)
    }

    fn with_vm<R>(&self, f: impl FnOnce(&mut Vm) -> R) -> Result<R, String> {
        let mut guard = self.vm.lock();
        if guard.is_none() {
            *guard = Some(new_vm(&self.run).map_err(|e| format!("ERR {e}"))?);
        }
        let vm = guard.as_mut().expect("just created");
        let r = f(vm);
        self.lua_memory.store(vm.lua.used_memory(), Relaxed);
        Ok(r)
    }

    /// Compiles `body` into the cache (if new); returns its sha.
    fn load_in(&self, vm: &mut Vm, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if vm.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang(body)?;
        let func = vm
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_environment(vm.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        vm.scripts.insert(sha.clone(), Script { func, flags });
        self.cached.fetch_add(1, Relaxed);
        self.cached_bytes.fetch_add(body.len(), Relaxed);
        Ok(sha)
    }

    /// SCRIPT LOAD.
    pub fn load(&self, body: &[u8]) -> Result<String, String> {
        self.with_vm(|vm| self.load_in(vm, body))?
    }

    /// SCRIPT EXISTS of one sha.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.vm
            .lock()
            .as_ref()
            .is_some_and(|vm| vm.scripts.contains_key(&sha))
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh interpreter.
    pub fn flush(&self) {
        let old = self.vm.lock().take();
        self.cached.store(0, Relaxed);
        self.cached_bytes.store(0, Relaxed);
        self.lua_memory.store(0, Relaxed);
        drop(old);
    }

    /// SCRIPT KILL.
    pub fn kill(&self, out: &mut Reply) {
        if !self.run.running.load(Relaxed) {
            out.err("NOTBUSY No scripts in execution right now.");
        } else if self.run.wrote.load(Relaxed) {
            out.err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        } else {
            self.run.kill.store(true, Relaxed);
            out.ok();
        }
    }

    /// EVAL/EVALSHA and their `_RO` forms: `keys` and `argv` become KEYS
    /// and ARGV. Writes the reply into `ctx.out`.
    pub fn eval(&self, ctx: &mut Ctx, source: Source, readonly: bool, keys: Args, argv: Args) {
        let mut guard = self.vm.lock();
        if guard.is_none() {
            match new_vm(&self.run) {
                Ok(vm) => *guard = Some(vm),
                Err(e) => return ctx.out.err(&format!("ERR {e}")),
            }
        }
        let vm = guard.as_mut().expect("just created");
        let sha = match source {
            Source::Body(body) => match self.load_in(vm, body) {
                Ok(sha) => sha,
                Err(e) => return ctx.out.err(&e),
            },
            Source::Sha(sha) => {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                if sha.len() != 40 || !vm.scripts.contains_key(&sha) {
                    return ctx.out.err("NOSCRIPT No matching script. Please use EVAL.");
                }
                sha
            }
        };
        let script = &vm.scripts[&sha];
        let (func, script_flags) = (script.func.clone(), script.flags);
        let readonly = readonly || script_flags & NO_WRITES != 0;
        if let Err(e) = self.set_args(vm, keys, argv) {
            return ctx.out.err(&format!("ERR {e}"));
        }
        // Start the run: visible to other threads from here.
        let st = &*self.run;
        *st.name.lock() = sha.clone();
        st.kill.store(false, Relaxed);
        st.wrote.store(false, Relaxed);
        st.slow_logged.store(false, Relaxed);
        st.threshold
            .store(ctx.client.settings.busy_reply_threshold, Relaxed);
        st.started.store(self.now_ms(), Relaxed);
        st.running.store(true, Relaxed);
        // Cleared however the run ends (a panic is caught by the
        // dispatcher: other clients must not stay BUSY).
        struct Running<'r>(&'r RunState);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.running.store(false, Relaxed);
            }
        }
        let running = Running(st);

        ctx.db.wrap_in_multi();
        let caller_db = ctx.client.db;
        let was_in_exec = ctx.client.in_exec;
        ctx.client.in_exec = true;
        ctx.client.in_script = true;
        let lua = vm.lua.clone();
        let runner = vm.runner.clone();
        let api = vm.api.clone();
        st.resp.store(2, Relaxed);
        st.repl.store(3, Relaxed);
        let run = std::cell::RefCell::new(Run {
            ctx: &mut *ctx,
            readonly,
            reply: Reply::new(Resp::V2),
            buf: Vec::new(),
            spans: Vec::new(),
            state: st,
        });
        let result: mlua::Result<(bool, Value)> = lua.scope(|scope| {
            api.raw_set(
                "call",
                scope.create_function(|lua, args: MultiValue| {
                    let (ok, v) = redis_call(lua, &mut run.borrow_mut(), args)?;
                    if ok {
                        return Ok(v);
                    }
                    Err(mlua::Error::RuntimeError(error_field(&v)))
                })?,
            )?;
            api.raw_set(
                "pcall",
                scope.create_function(|lua, args: MultiValue| {
                    Ok(redis_call(lua, &mut run.borrow_mut(), args)?.1)
                })?,
            )?;
            runner.call(func)
        });
        drop(run);
        drop(running);
        ctx.client.in_exec = was_in_exec;
        ctx.client.in_script = false;
        ctx.client.select(caller_db);
        let killed = st.kill.swap(false, Relaxed);
        match result {
            Ok((true, v)) => convert::lua_to_reply(&lua, &v, ctx.out),
            Ok((false, v)) => {
                let mut msg = Vec::new();
                let (mut source, mut line) = (None, None);
                if let Value::Table(t) = &v {
                    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                        msg = e.as_bytes().to_vec();
                    }
                    if let Ok(Value::String(s)) = t.raw_get::<Value>("source") {
                        source = Some(s.to_string_lossy());
                    }
                    line = match t.raw_get::<Value>("line") {
                        Ok(Value::Integer(n)) => Some(n),
                        Ok(Value::Number(n)) => Some(n as i64),
                        _ => None,
                    };
                }
                if killed {
                    crate::server::log::warning("Lua script killed by user with SCRIPT KILL.");
                    msg = b"ERR Script killed by user with SCRIPT KILL...".to_vec();
                }
                if let (Some(source), Some(line)) = (source, line) {
                    msg.extend_from_slice(
                        format!(" script: {sha}, on {source}:{line}.").as_bytes(),
                    );
                }
                ctx.out.error(&msg);
            }
            Err(e) => ctx.out.err(&format!("ERR Error running script {sha}, {e}")),
        }
        // Drop KEYS/ARGV so their strings can be collected.
        let _ = vm.globals.raw_set("KEYS", Value::Nil);
        let _ = vm.globals.raw_set("ARGV", Value::Nil);
        self.lua_memory.store(vm.lua.used_memory(), Relaxed);
    }

    fn set_args(&self, vm: &Vm, keys: Args, argv: Args) -> mlua::Result<()> {
        for (name, list) in [("KEYS", keys), ("ARGV", argv)] {
            let t = vm.lua.create_table_with_capacity(list.len(), 0)?;
            for (i, a) in list.iter().enumerate() {
                t.raw_set(i + 1, vm.lua.create_string(a)?)?;
            }
            vm.globals.raw_set(name, t)?;
        }
        Ok(())
    }
}

/// The error other clients get while a script is busy.
pub fn busy_error() -> &'static str {
    BUSY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_and_errors() {
        assert_eq!(shebang(b"return 1"), Ok((EVAL_COMPAT, 0)));
        assert_eq!(shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            shebang(b"#!lua  flags=no-writes,allow-oom \nreturn 1"),
            Ok((NO_WRITES | ALLOW_OOM, 33))
        );
        assert_eq!(
            shebang(b"#!lua"),
            Err("ERR Invalid script shebang".to_string())
        );
        assert_eq!(
            shebang(b"#!luax\n"),
            Err("ERR Unexpected engine in script shebang: #!luax".to_string())
        );
        assert_eq!(
            shebang(b"#!lua flags=bogus\n"),
            Err("ERR Unexpected flag in script shebang: bogus".to_string())
        );
        assert_eq!(
            shebang(b"#!lua name=x\n"),
            Err("ERR Unknown lua shebang option: name=x".to_string())
        );
    }

    #[test]
    fn rand48_matches_redis_sequence() {
        // math.random(1000000) twice on a fresh redis-server: 396465, 840486.
        let st = RunState::default().rand;
        let max = i32::MAX as i64;
        let draw = || {
            let r = (rand48_next(&st) % max) as f64 / max as f64;
            (r * 1_000_000.0).floor() as i64 + 1
        };
        assert_eq!(draw(), 396465);
        assert_eq!(draw(), 840486);
    }
}

//! `maxmemory` on the server side: what counts as used memory, the
//! settings pushed into the keyspace's evictor (at start and on CONFIG
//! SET), and the check the dispatcher makes before a command runs
//! (Redis's `processCommand` part on `maxmemory`).
//!
//! Used memory is the counting allocator's live bytes (`used_memory`)
//! minus what Redis does not count: the AOF buffer not written yet and the
//! replication buffer kept beyond `repl-backlog-size` for lagging replicas
//! (`Feed::uncounted_bytes`, INFO's `mem_not_counted_for_evict`).

use crate::commands::{CommandDef, flags};
use crate::config::{MaxmemoryPolicy, Settings};
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::shared::Shared;
use crate::storage::evict::{Outcome, Policy};
use std::sync::Arc;

/// Redis's `shared.oomerr`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Bytes Redis would compare with `maxmemory`.
pub fn used_for_eviction(srv: &Shared) -> u64 {
    crate::alloc::allocated()
        .unwrap_or(0)
        .saturating_sub(srv.keyspace.feed.uncounted_bytes())
}

fn policy(p: MaxmemoryPolicy) -> Policy {
    match p {
        MaxmemoryPolicy::VolatileLru => Policy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu => Policy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom => Policy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl => Policy::VolatileTtl,
        MaxmemoryPolicy::AllkeysLru => Policy::AllkeysLru,
        MaxmemoryPolicy::AllkeysLfu => Policy::AllkeysLfu,
        MaxmemoryPolicy::AllkeysRandom => Policy::AllkeysRandom,
        MaxmemoryPolicy::NoEviction => Policy::NoEviction,
    }
}

/// Pushes the eviction settings into the keyspace.
pub fn apply(srv: &Shared, s: &Settings) {
    let p = policy(s.maxmemory_policy);
    let ks = &srv.keyspace;
    ks.set_lfu_mode(p.lfu());
    // A replica that ignores maxmemory leaves eviction to its primary:
    // the limit is still shown but never acted on.
    ks.evict.configure(
        s.maxmemory,
        p,
        s.maxmemory_samples,
        s.maxmemory_eviction_tenacity,
        s.lfu_log_factor,
        s.lfu_decay_time,
    );
}

/// Applies the settings now and on every CONFIG SET of one of them.
pub fn install(srv: &Arc<Shared>) {
    apply(srv, &srv.settings());
    for name in [
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "maxmemory-eviction-tenacity",
        "lfu-log-factor",
        "lfu-decay-time",
    ] {
        let weak = Arc::downgrade(srv);
        srv.config.on_change(
            name,
            Box::new(move |s: &Settings| {
                if let Some(srv) = weak.upgrade() {
                    apply(&srv, s);
                }
                Ok(())
            }),
        );
    }
}

/// True when eviction is off for this server now (Redis's
/// `isSafeToPerformEvictions`): a replica with `replica-ignore-maxmemory`.
fn exempt(srv: &Shared, client: &Client) -> bool {
    client.settings.replica_ignore_maxmemory && srv.repl.is_replica()
}

/// Goes on with an eviction that stopped at its time limit (Redis's
/// eviction time proc, which runs between events until memory is under
/// the limit): runs after run, for at most half of the cron's `period`.
pub fn cron(srv: &Shared, period: std::time::Duration) {
    if !srv.keyspace.evict.running() || srv.repl.is_replica() {
        return;
    }
    let start = std::time::Instant::now();
    while srv.keyspace.perform_evictions(&|| used_for_eviction(srv)) == Outcome::Running
        && start.elapsed() < period / 2
    {}
}

/// The check before a command, called only with a `maxmemory` set: evicts
/// what the policy allows, then refuses the command as Redis would when
/// memory is still over the limit. Returns true when it answered the
/// command (an error) and the command must not run.
#[cold]
pub fn check(
    srv: &Shared,
    client: &mut Client,
    out: &mut Reply,
    def: &'static CommandDef,
    id: usize,
) -> bool {
    if client.no_evict || exempt(srv, client) {
        return false;
    }
    let outcome = srv.keyspace.perform_evictions(&|| used_for_eviction(srv));
    if outcome != Outcome::Fail {
        return false;
    }
    let is_exec = def.name == "exec";
    let mut reject = def.has(flags::DENYOOM)
        || (is_exec
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.cmds.iter().any(|q| q.def.has(flags::DENYOOM))));
    // Queuing inside MULTI can take any amount of memory: everything but
    // EXEC, DISCARD, QUIT and RESET is refused.
    if client.multi.is_some() && !matches!(def.name, "exec" | "discard" | "quit" | "reset") {
        reject = true;
    }
    if !reject {
        return false;
    }
    if is_exec {
        // Redis's execCommandAbort: the transaction is discarded.
        out.err(&format!(
            "EXECABORT Transaction discarded because of: {OOM}"
        ));
        client.set_multi(None);
        client.unwatch_all(srv);
    } else {
        out.err(OOM);
        client.abort_multi();
    }
    client.note_rejected(srv, Some(id), out);
    true
}

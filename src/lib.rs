//! Ember: a Redis 7.0-compatible in-memory data server.
//!
//! The crate is organised so that each concern lives in one place:
//! - [`protocol`]: RESP2/RESP3 request parsing and reply encoding over byte
//!   buffers. Knows nothing about commands or sockets.
//! - [`storage`]: the keyspace (shards of databases), values and their
//!   encodings, expiry. Knows nothing about the network.
//! - [`commands`]: one module per command family, each declaring its commands'
//!   metadata next to the handlers; the dispatch table is built from them.
//! - [`server`]: listeners, connections, client state, worker threads, limits.
//! - [`persist`]: the append-only file (and RDB) in Redis's formats.
//! - [`config`]: `redis.conf` directives, parsing, `CONFIG GET/SET/REWRITE`.
//! - [`util`]: number parsing and formatting as Redis does it, glob matching.
//! - [`alloc`]: the global allocator (mimalloc counting the bytes in use)
//!   and the allocator options the server runs with.
//! - [`cli`]: the `ember-cli` command-line client (independent of the rest).
//!
//! See `ARCHITECTURE.md` at the repository root for the request flow and the
//! invariants that hold across modules.

pub mod alloc;
pub mod cli;
pub mod commands;
pub mod config;
pub mod persist;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod storage;
pub mod util;

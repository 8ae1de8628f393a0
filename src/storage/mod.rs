//! Data structures and the keyspace; nothing here knows about commands,
//! replies or sockets.

pub mod backlog;
pub mod blocking;
pub mod dict;
pub mod evict;
pub mod feed;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod list;
pub mod notify;
pub mod set;
pub mod snapshot;
pub mod stream;
pub mod value;
pub mod watch;
pub mod zset;

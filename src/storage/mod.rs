//! The keyspace and the data structures behind values.

pub mod dict;

//! Small helpers shared by every layer: Redis-exact number parsing and
//! formatting, and Redis glob-style pattern matching.

pub mod args;
pub mod float;
pub mod glob;
pub mod num;

#[cfg(test)]
mod oracle;

//! Command families and the dispatch table.

//! Conversion between RDB values and storage values.

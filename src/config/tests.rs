//! Unit tests for the config module (filled below).

//! SAVE and load.

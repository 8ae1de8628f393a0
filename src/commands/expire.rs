//! Expiry commands: EXPIRE family, TTL family, PERSIST.

use super::CommandDef;

pub const COMMANDS: &[CommandDef] = &[];

//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO.

use super::CommandDef;

pub const COMMANDS: &[CommandDef] = &[];

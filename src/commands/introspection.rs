//! COMMAND and its subcommands: the command table as clients see it.

use super::CommandDef;

pub const COMMANDS: &[CommandDef] = &[];

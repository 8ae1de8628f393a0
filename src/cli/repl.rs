//! The interactive REPL: line editing and history (rustyline), tab
//! completion of command names, argument hints as you type and `help`
//! pages, all taken from the server's `COMMAND DOCS`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::docs::Docs;
use super::split::split_args;
use super::{CommandFailure, Session};

/// Words handled by the REPL itself rather than sent to the server.
const LOCAL_COMMANDS: &[&str] = &["HELP", "QUIT", "EXIT", "CONNECT", "CLEAR"];

/// The rustyline helper: completion and hints from the shared docs table.
pub struct CliHelper {
    docs: Rc<RefCell<Docs>>,
    hints: Rc<RefCell<bool>>,
}

/// Keeps the case the user is typing in: lower case unless the word so far
/// has an upper-case letter.
fn match_case(candidate: &str, typed: &str) -> String {
    if typed.chars().any(|c| c.is_ascii_uppercase()) {
        candidate.to_uppercase()
    } else {
        candidate.to_lowercase()
    }
}

impl CliHelper {
    /// Candidates for the word ending at `pos`; returns its start.
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        let head = &line[..pos];
        let start = head
            .rfind(|c: char| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let word = &head[start..];
        let before: Vec<&str> = head[..start].split_whitespace().collect();
        let docs = self.docs.borrow();
        let upper = word.to_uppercase();
        let mut names: Vec<String> = match before.as_slice() {
            [] => docs
                .top_level_names()
                .map(str::to_string)
                .chain(LOCAL_COMMANDS.iter().map(|s| s.to_string()))
                .collect(),
            [first] if first.eq_ignore_ascii_case("help") => {
                if word.starts_with('@') {
                    docs.groups().into_iter().map(|g| format!("@{g}")).collect()
                } else {
                    docs.top_level_names().map(str::to_string).collect()
                }
            }
            [first] => docs.subcommands_of(first).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        names.retain(|n| n.to_uppercase().starts_with(&upper));
        names.sort();
        names.dedup();
        let pairs = names
            .into_iter()
            .map(|n| {
                let shown = if n.starts_with('@') {
                    n
                } else {
                    match_case(&n, word)
                };
                Pair {
                    display: shown.clone(),
                    replacement: shown,
                }
            })
            .collect();
        (start, pairs)
    }

    /// The hint for a line: the arguments still to type.
    pub fn hint_for(&self, line: &str) -> Option<String> {
        if !*self.hints.borrow() {
            return None;
        }
        let args: Vec<String> = split_args(line)
            .ok()?
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let docs = self.docs.borrow();
        let (doc, used) = docs.lookup(&args)?;
        let ends_with_space = line.ends_with(|c: char| c.is_ascii_whitespace());
        let hint = if ends_with_space {
            doc.hint_after(args.len() - used)
        } else if args.len() == used {
            // Still on the command name: show the whole syntax after a space.
            let full = doc.syntax();
            if full.is_empty() {
                return None;
            }
            format!(" {full}")
        } else {
            return None;
        };
        (!hint.is_empty()).then_some(hint)
    }
}

impl Completer for CliHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for CliHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        self.hint_for(line)
    }
}

impl Highlighter for CliHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

impl Validator for CliHelper {}
impl Helper for CliHelper {}

/// Where history is kept: `$EMBERCLI_HISTFILE`, else
/// `~/.embercli_history`. An empty value or `/dev/null` turns it off.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("EMBERCLI_HISTFILE") {
        Some(p) if p.is_empty() || p == "/dev/null" => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".embercli_history")),
    }
}

/// Lines that carry a password are not written to the history file.
fn is_secret(args: &[Vec<u8>]) -> bool {
    let first = args
        .first()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .unwrap_or_default();
    match first.as_str() {
        "auth" | "migrate" => true,
        "hello" | "acl" => args
            .iter()
            .any(|a| a.eq_ignore_ascii_case(b"auth") || a.first() == Some(&b'>')),
        _ => false,
    }
}

const GENERAL_HELP: &str = "ember-cli: interactive client for Ember
Type a command and its arguments to run it, for example: set greeting hello
      \"help <command>\" shows a command's syntax and summary
      \"help @<group>\" lists the commands of a group (help @string, help @list, ...)
      \"help <Tab>\" completes command and group names
      \"connect <host> <port>\" switches to another server
      \"clear\" clears the screen; \"quit\", \"exit\" or Ctrl-D leave
      \"N <command>\" runs the command N times
      \":set hints\" / \":set nohints\" turn the argument hints on and off
";

fn prompt(session: &Session) -> String {
    if session.conn.is_none() {
        return "not connected> ".to_string();
    }
    let mut p = session.target.addr();
    if session.target.db != 0 {
        p.push_str(&format!("[{}]", session.target.db));
    }
    p.push_str("> ");
    p
}

fn fetch_docs(session: &mut Session) -> Docs {
    match session.conn.as_mut().map(|c| c.call(&["COMMAND", "DOCS"])) {
        Some(Ok(reply)) if !reply.is_error() => Docs::from_reply(reply),
        Some(Err(_)) => {
            session.conn = None;
            Docs::default()
        }
        _ => Docs::default(),
    }
}

/// Runs the REPL until `quit`, Ctrl-D or Ctrl-C; returns the exit status.
pub fn run(mut session: Session) -> i32 {
    session.interactive = true;
    if let Err(e) = session.ensure_connected() {
        eprintln!("{e}");
    }
    let docs = Rc::new(RefCell::new(fetch_docs(&mut session)));
    let hints = Rc::new(RefCell::new(true));
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(1000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<CliHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("Could not start line editing: {e}");
            return session.run_stdin_lines();
        }
    };
    rl.set_helper(Some(CliHelper {
        docs: docs.clone(),
        hints: hints.clone(),
    }));
    let history = history_path();
    if let Some(path) = &history {
        let _ = rl.load_history(path);
    }

    loop {
        let line = match rl.readline(&prompt(&session)) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("Error reading input: {e}");
                break;
            }
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let args = match split_args(trimmed) {
            Ok(a) => a,
            Err(_) => {
                println!("Invalid argument(s)");
                continue;
            }
        };
        if !is_secret(&args) {
            let _ = rl.add_history_entry(trimmed);
            if let Some(path) = &history {
                let _ = rl.save_history(path);
            }
        }
        let words: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let first = words[0].to_lowercase();
        match first.as_str() {
            "quit" | "exit" => break,
            "help" | "?" => {
                if words.len() == 1 {
                    print!("{GENERAL_HELP}");
                } else if docs.borrow().is_empty() {
                    println!("No command documentation: the server did not answer COMMAND DOCS.");
                } else {
                    match docs.borrow().help(&words[1..]) {
                        Some(text) => print!("{text}"),
                        None => println!("No help for '{}'.", words[1..].join(" ")),
                    }
                }
                continue;
            }
            "clear" => {
                let _ = rl.clear_screen();
                continue;
            }
            ":set" => {
                match words.get(1).map(|s| s.to_lowercase()).as_deref() {
                    Some("hints") => *hints.borrow_mut() = true,
                    Some("nohints") => *hints.borrow_mut() = false,
                    _ => println!("Unknown preference; use :set hints or :set nohints"),
                }
                continue;
            }
            "connect" if (2..=3).contains(&words.len()) => {
                let port = match words.get(2).map(|p| p.parse::<u16>()) {
                    None => 6379,
                    Some(Ok(p)) => p,
                    Some(Err(_)) => {
                        println!("Invalid port: {}", words[2]);
                        continue;
                    }
                };
                session.target.host = words[1].clone();
                session.target.port = port;
                session.target.socket = None;
                session.target.db = 0;
                session.conn = None;
                if let Err(e) = session.ensure_connected() {
                    eprintln!("{e}");
                }
                *docs.borrow_mut() = fetch_docs(&mut session);
                continue;
            }
            _ => {}
        }

        // "N command" repeats the command N times.
        let (times, command) = match words[0].parse::<u64>() {
            Ok(n) if args.len() > 1 => (n, &args[1..]),
            _ => (1, &args[..]),
        };
        for _ in 0..times {
            match session.run_command(command) {
                Ok(()) => {}
                Err(CommandFailure::NotConnected) | Err(CommandFailure::ConnectionLost) => break,
            }
        }
        if docs.borrow().is_empty() && session.conn.is_some() {
            *docs.borrow_mut() = fetch_docs(&mut session);
        }
    }
    if let Some(path) = &history {
        let _ = rl.save_history(path);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_history() {
        let a = |s: &str| split_args(s).unwrap();
        assert!(is_secret(&a("AUTH pw")));
        assert!(is_secret(&a("hello 3 auth u p")));
        assert!(is_secret(&a("acl setuser bob on >secret")));
        assert!(!is_secret(&a("set k v")));
    }

    #[test]
    fn case_follows_the_user() {
        assert_eq!(match_case("GET", "ge"), "get");
        assert_eq!(match_case("GET", "Ge"), "GET");
    }
}

//! Command documentation fetched from the server with `COMMAND DOCS`: the
//! argument syntax shown as hints while typing, `help <command>` and
//! `help @group` pages, and the names used for tab completion.

use std::collections::BTreeMap;

use super::resp::Reply;

/// One argument of a command, as `COMMAND DOCS` describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArgDoc {
    pub name: String,
    pub kind: String,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    pub children: Vec<ArgDoc>,
}

/// The documentation of one command or subcommand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandDoc {
    /// Upper-case name; subcommands are `CONTAINER SUB` (e.g. `CONFIG GET`).
    pub name: String,
    pub summary: String,
    pub since: String,
    pub group: String,
    pub args: Vec<ArgDoc>,
}

impl ArgDoc {
    /// The argument without its optional brackets.
    fn render_core(&self) -> String {
        let body = match self.kind.as_str() {
            "pure-token" => return self.token.clone().unwrap_or_else(|| self.name.clone()),
            "oneof" => self
                .children
                .iter()
                .map(ArgDoc::render)
                .collect::<Vec<_>>()
                .join("|"),
            "block" => self
                .children
                .iter()
                .map(ArgDoc::render)
                .collect::<Vec<_>>()
                .join(" "),
            _ => self.name.clone(),
        };
        let one = match &self.token {
            Some(t) => format!("{t} {body}"),
            None => body.clone(),
        };
        if self.multiple {
            let again = if self.multiple_token {
                one.clone()
            } else {
                body
            };
            format!("{one} [{again} ...]")
        } else {
            one
        }
    }

    /// The argument as written in a syntax line, e.g. `[EX seconds]`.
    pub fn render(&self) -> String {
        let core = self.render_core();
        if self.optional {
            format!("[{core}]")
        } else {
            core
        }
    }
}

impl CommandDoc {
    /// The arguments as one syntax line: `key value [NX|XX] ...`.
    pub fn syntax(&self) -> String {
        self.args
            .iter()
            .map(ArgDoc::render)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Text shown after what the user typed, given how many arguments
    /// (after the command name) are complete. Required arguments already
    /// typed are dropped; hints stop shrinking at the first optional or
    /// repeatable argument.
    pub fn hint_after(&self, typed: usize) -> String {
        let mut skip = 0;
        while skip < typed
            && skip < self.args.len()
            && !self.args[skip].optional
            && !self.args[skip].multiple
        {
            skip += 1;
        }
        self.args[skip..]
            .iter()
            .map(ArgDoc::render)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The key/value pairs of a map reply, or of a flat RESP2 array holding
/// alternating keys and values.
fn pairs(reply: Reply) -> Vec<(String, Reply)> {
    let flat = match reply {
        Reply::Map(p) => p,
        Reply::Array(items) => {
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        _ => Vec::new(),
    };
    flat.into_iter()
        .filter_map(|(k, v)| k.as_text().map(|k| (k, v)))
        .collect()
}

fn parse_arg(reply: Reply) -> ArgDoc {
    let mut arg = ArgDoc::default();
    for (key, value) in pairs(reply) {
        match key.as_str() {
            "name" => arg.name = value.as_text().unwrap_or_default(),
            "type" => arg.kind = value.as_text().unwrap_or_default(),
            "token" => arg.token = value.as_text(),
            "flags" => {
                for flag in value.into_items().unwrap_or_default() {
                    match flag.as_text().as_deref() {
                        Some("optional") => arg.optional = true,
                        Some("multiple") => arg.multiple = true,
                        Some("multiple_token") => arg.multiple_token = true,
                        _ => {}
                    }
                }
            }
            "arguments" => {
                arg.children = value
                    .into_items()
                    .unwrap_or_default()
                    .into_iter()
                    .map(parse_arg)
                    .collect()
            }
            _ => {}
        }
    }
    arg
}

/// Parses a `COMMAND DOCS` reply (RESP2 or RESP3), subcommands included.
pub fn parse_command_docs(reply: Reply) -> Vec<CommandDoc> {
    let mut out = Vec::new();
    for (name, body) in pairs(reply) {
        let mut doc = CommandDoc {
            name: name.replace('|', " ").to_uppercase(),
            ..CommandDoc::default()
        };
        for (key, value) in pairs(body) {
            match key.as_str() {
                "summary" => doc.summary = value.as_text().unwrap_or_default(),
                "since" => doc.since = value.as_text().unwrap_or_default(),
                "group" => doc.group = value.as_text().unwrap_or_default(),
                "arguments" => {
                    doc.args = value
                        .into_items()
                        .unwrap_or_default()
                        .into_iter()
                        .map(parse_arg)
                        .collect()
                }
                "subcommands" => out.extend(parse_command_docs(value)),
                _ => {}
            }
        }
        out.push(doc);
    }
    out
}

/// All known command docs, by upper-case name.
#[derive(Debug, Clone, Default)]
pub struct Docs {
    pub commands: BTreeMap<String, CommandDoc>,
}

fn group_key(g: &str) -> String {
    g.trim_start_matches('@').replace('_', "-").to_lowercase()
}

impl Docs {
    /// Builds the table from a `COMMAND DOCS` reply.
    pub fn from_reply(reply: Reply) -> Docs {
        Docs {
            commands: parse_command_docs(reply)
                .into_iter()
                .map(|d| (d.name.clone(), d))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Looks up the command named by the first words of `args`, preferring
    /// a subcommand. Returns the doc and how many words named it.
    pub fn lookup(&self, args: &[String]) -> Option<(&CommandDoc, usize)> {
        let first = args.first()?.to_uppercase();
        if let Some(second) = args.get(1)
            && let Some(doc) = self
                .commands
                .get(&format!("{first} {}", second.to_uppercase()))
        {
            return Some((doc, 2));
        }
        self.commands.get(&first).map(|d| (d, 1))
    }

    /// Top-level command names (upper case).
    pub fn top_level_names(&self) -> impl Iterator<Item = &str> {
        self.commands
            .keys()
            .filter(|k| !k.contains(' '))
            .map(String::as_str)
    }

    /// Subcommand names of a container command (upper case, second word).
    pub fn subcommands_of<'a>(&'a self, container: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{} ", container.to_uppercase());
        self.commands
            .keys()
            .filter_map(move |k| k.strip_prefix(prefix.as_str()))
    }

    /// The distinct groups, sorted.
    pub fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = self.commands.values().map(|d| d.group.clone()).collect();
        g.sort();
        g.dedup();
        g.retain(|g| !g.is_empty());
        g
    }

    /// The text printed by `help <topic>`, or `None` when nothing matches.
    pub fn help(&self, topic: &[String]) -> Option<String> {
        let first = topic.first()?;
        if first.starts_with('@') {
            let wanted = group_key(first);
            let mut text = String::new();
            for doc in self
                .commands
                .values()
                .filter(|d| group_key(&d.group) == wanted)
            {
                text.push_str(&format!(
                    "\n  {} {}\n  summary: {}\n  since: {}\n",
                    doc.name,
                    doc.syntax(),
                    doc.summary,
                    doc.since
                ));
            }
            return (!text.is_empty()).then(|| text + "\n");
        }
        let page = |doc: &CommandDoc| {
            format!(
                "\n  {} {}\n  summary: {}\n  since: {}\n  group: {}\n",
                doc.name,
                doc.syntax(),
                doc.summary,
                doc.since,
                doc.group
            )
        };
        match self.lookup(topic) {
            Some((doc, _)) => {
                let mut text = page(doc);
                // A container also lists its subcommands.
                if !doc.name.contains(' ') {
                    for sub in self.subcommands_of(&doc.name) {
                        text.push_str(&page(&self.commands[&format!("{} {sub}", doc.name)]));
                    }
                }
                Some(text + "\n")
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    fn arg(fields: &[(&str, Reply)]) -> Reply {
        Reply::Array(
            fields
                .iter()
                .flat_map(|(k, v)| [bulk(k), v.clone()])
                .collect(),
        )
    }

    fn set_docs() -> Reply {
        let optional = Reply::Array(vec![Reply::Status(b"optional".to_vec())]);
        Reply::Array(vec![
            bulk("set"),
            arg(&[
                ("summary", bulk("Set the string value of a key")),
                ("since", bulk("1.0.0")),
                ("group", bulk("string")),
                (
                    "arguments",
                    Reply::Array(vec![
                        arg(&[("name", bulk("key")), ("type", bulk("key"))]),
                        arg(&[("name", bulk("value")), ("type", bulk("string"))]),
                        arg(&[
                            ("name", bulk("condition")),
                            ("type", bulk("oneof")),
                            ("flags", optional.clone()),
                            (
                                "arguments",
                                Reply::Array(vec![
                                    arg(&[
                                        ("name", bulk("nx")),
                                        ("type", bulk("pure-token")),
                                        ("token", bulk("NX")),
                                    ]),
                                    arg(&[
                                        ("name", bulk("xx")),
                                        ("type", bulk("pure-token")),
                                        ("token", bulk("XX")),
                                    ]),
                                ]),
                            ),
                        ]),
                        arg(&[
                            ("name", bulk("seconds")),
                            ("type", bulk("integer")),
                            ("token", bulk("EX")),
                            ("flags", optional),
                        ]),
                    ]),
                ),
            ]),
        ])
    }

    #[test]
    fn renders_syntax_and_hints() {
        let docs = Docs::from_reply(set_docs());
        let (doc, used) = docs.lookup(&["set".into(), "k".into()]).unwrap();
        assert_eq!(used, 1);
        assert_eq!(doc.syntax(), "key value [NX|XX] [EX seconds]");
        assert_eq!(doc.hint_after(0), "key value [NX|XX] [EX seconds]");
        assert_eq!(doc.hint_after(1), "value [NX|XX] [EX seconds]");
        assert_eq!(doc.hint_after(2), "[NX|XX] [EX seconds]");
        assert_eq!(doc.hint_after(3), "[NX|XX] [EX seconds]");
        let help = docs.help(&["SET".into()]).unwrap();
        assert!(help.contains(
            "  SET key value [NX|XX] [EX seconds]\n  summary: Set the string value of a key\n"
        ));
        assert!(
            docs.help(&["@string".into()])
                .unwrap()
                .contains("since: 1.0.0")
        );
        assert!(docs.help(&["@list".into()]).is_none());
    }

    #[test]
    fn repeated_arguments() {
        let a = ArgDoc {
            name: "key".into(),
            kind: "key".into(),
            multiple: true,
            ..ArgDoc::default()
        };
        assert_eq!(a.render(), "key [key ...]");
        let b = ArgDoc {
            name: "pattern".into(),
            kind: "pattern".into(),
            token: Some("GET".into()),
            optional: true,
            multiple: true,
            multiple_token: true,
            ..ArgDoc::default()
        };
        assert_eq!(b.render(), "[GET pattern [GET pattern ...]]");
    }
}

//! Command-line flags, shaped like `redis-cli`'s: `-h` is the host (help is
//! `--help` only), options stop at the first word that is not one, and
//! everything after it is the command to run.

use std::ffi::OsString;

use clap::{ArgAction, Parser};

/// Command-line client for Ember (and any Redis-compatible server).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ember-cli",
    version,
    disable_help_flag = true,
    disable_version_flag = true,
    override_usage = "ember-cli [OPTIONS] [cmd [arg [arg ...]]]",
    after_help = "Without a command, ember-cli starts an interactive session.\n\
                  Examples:\n  ember-cli -p 6380 incr counter\n  \
                  echo -n value | ember-cli -x set key\n  \
                  ember-cli -r 5 -i 1 info clients\n  \
                  ember-cli --scan --pattern 'user:*'"
)]
pub struct Options {
    /// Server hostname.
    #[arg(short = 'h', value_name = "hostname", default_value = "127.0.0.1")]
    pub host: String,

    /// Server port.
    #[arg(short = 'p', value_name = "port", default_value_t = 6379)]
    pub port: u16,

    /// Server socket (overrides hostname and port).
    #[arg(short = 's', value_name = "socket")]
    pub socket: Option<String>,

    /// Password to use when connecting to the server.
    #[arg(short = 'a', value_name = "password")]
    pub password: Option<String>,

    /// Username to send to AUTH (needs --pass).
    #[arg(long = "user", value_name = "username")]
    pub user: Option<String>,

    /// Alias of -a for consistency with --user.
    #[arg(long = "pass", value_name = "password")]
    pub pass: Option<String>,

    /// Don't warn about passwords given on the command line.
    #[arg(long = "no-auth-warning")]
    pub no_auth_warning: bool,

    /// Server URI: redis://[user[:password]@]host[:port][/db]
    #[arg(short = 'u', value_name = "uri")]
    pub uri: Option<String>,

    /// Database number.
    #[arg(short = 'n', value_name = "db", allow_negative_numbers = true)]
    pub db: Option<i64>,

    /// Execute the command this many times (-1: forever).
    #[arg(short = 'r', value_name = "repeat", allow_negative_numbers = true)]
    pub repeat: Option<i64>,

    /// Seconds to wait between repeats (decimals allowed); also the refresh
    /// interval of --stat and --latency.
    #[arg(short = 'i', value_name = "interval")]
    pub interval: Option<f64>,

    /// Read the last argument from standard input.
    #[arg(short = 'x')]
    pub stdin_last_arg: bool,

    /// Exit with status 1 when the command fails (the error goes to stderr).
    #[arg(short = 'e')]
    pub error_exit_code: bool,

    /// Delimiter between the items of a reply in raw output (default: \n).
    #[arg(short = 'd', value_name = "delimiter")]
    pub item_delim: Option<String>,

    /// Delimiter after each reply in raw output (default: \n).
    #[arg(short = 'D', value_name = "delimiter")]
    pub reply_delim: Option<String>,

    /// Use RESP2 (the default).
    #[arg(short = '2', long = "resp2")]
    pub resp2: bool,

    /// Start the session in RESP3 (HELLO 3).
    #[arg(short = '3', long = "resp3")]
    pub resp3: bool,

    /// Raw output, even on a terminal.
    #[arg(long = "raw")]
    pub raw: bool,

    /// Formatted output, even when piped.
    #[arg(long = "no-raw")]
    pub no_raw: bool,

    /// CSV output.
    #[arg(long = "csv")]
    pub csv: bool,

    /// Mass insertion: send the RESP read from stdin and report the replies.
    #[arg(long = "pipe")]
    pub pipe: bool,

    /// With --pipe, give up after this many seconds without a reply
    /// (0: wait forever).
    #[arg(long = "pipe-timeout", value_name = "n", default_value_t = 30)]
    pub pipe_timeout: u64,

    /// List keys with SCAN.
    #[arg(long = "scan")]
    pub scan: bool,

    /// With --scan or --bigkeys, only keys matching this glob pattern.
    #[arg(long = "pattern", value_name = "pat")]
    pub pattern: Option<String>,

    /// With --scan or --bigkeys, the COUNT hint passed to SCAN.
    #[arg(long = "count", value_name = "count")]
    pub count: Option<u64>,

    /// Sample keys and report the biggest of each type.
    #[arg(long = "bigkeys")]
    pub bigkeys: bool,

    /// Measure round-trip latency with PING continuously.
    #[arg(long = "latency")]
    pub latency: bool,

    /// Live view of server statistics.
    #[arg(long = "stat")]
    pub stat: bool,

    /// Print this help and exit.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    /// The command and its arguments.
    #[arg(
        value_name = "cmd",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..
    )]
    pub command: Vec<OsString>,
}

/// The parts of a `redis://` URI.
#[derive(Debug, Default, PartialEq)]
pub struct Uri {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<i64>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `redis://[[user]:password@]host[:port][/db]`; `ember://` is
/// accepted as a synonym.
pub fn parse_uri(uri: &str) -> Result<Uri, String> {
    let rest = uri
        .strip_prefix("redis://")
        .or_else(|| uri.strip_prefix("ember://"))
        .ok_or_else(|| format!("Invalid URI scheme in {uri:?} (expected redis://)"))?;
    let mut out = Uri::default();
    let (authority, path) = match rest.find('/') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, ""),
    };
    let hostport = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(c) => {
                    if c > 0 {
                        out.user = Some(percent_decode(&userinfo[..c]));
                    }
                    out.password = Some(percent_decode(&userinfo[c + 1..]));
                }
                None => out.password = Some(percent_decode(userinfo)),
            }
            &authority[at + 1..]
        }
        None => authority,
    };
    let (host, port) = match hostport.rfind(':') {
        Some(c) if !hostport.ends_with(']') => (&hostport[..c], Some(&hostport[c + 1..])),
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host.is_empty() {
        out.host = Some(host.to_string());
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        out.port = Some(
            p.parse()
                .map_err(|_| format!("Invalid port in URI: {p:?}"))?,
        );
    }
    if !path.is_empty() {
        out.db = Some(
            path.parse()
                .map_err(|_| format!("Invalid database in URI: {path:?}"))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("ember-cli").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn flags_like_redis_cli() {
        let o = opts(&[
            "-h", "example", "-p", "7000", "-n", "2", "--raw", "set", "-a", "b",
        ]);
        assert_eq!(o.host, "example");
        assert_eq!(o.port, 7000);
        assert_eq!(o.db, Some(2));
        assert!(o.raw);
        assert_eq!(o.password, None);
        assert_eq!(o.command, ["set", "-a", "b"]);
        let o = opts(&["-r", "-1", "-i", "0.5", "ping"]);
        assert_eq!(o.repeat, Some(-1));
        assert_eq!(o.interval, Some(0.5));
    }

    #[test]
    fn parses_uris() {
        assert_eq!(
            parse_uri("redis://bob:s%40cret@host:7000/3").unwrap(),
            Uri {
                host: Some("host".into()),
                port: Some(7000),
                user: Some("bob".into()),
                password: Some("s@cret".into()),
                db: Some(3),
            }
        );
        assert_eq!(
            parse_uri("redis://:pw@h").unwrap(),
            Uri {
                host: Some("h".into()),
                password: Some("pw".into()),
                ..Uri::default()
            }
        );
        assert!(parse_uri("http://x").is_err());
    }
}

//! The special modes: `--pipe` mass insertion, `--scan`, the `--bigkeys`
//! summary, and the `--latency` and `--stat` live views.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::conn::{Conn, Target, describe_io_error};
use super::format::quote;
use super::resp::Reply;

fn connect(target: &Target) -> Result<Conn, String> {
    Conn::connect(target).map_err(|e| e.0)
}

fn io_err(e: io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        "Error: the server closed the connection".to_string()
    } else {
        format!("Error: {}", describe_io_error(&e))
    }
}

/// `--pipe`: streams the RESP on stdin to the server while counting the
/// replies, printing errors to stderr. An `ECHO` of a random marker sent
/// after the data tells when the last reply has arrived.
pub fn pipe(target: &Target, timeout: Duration) -> Result<i32, String> {
    let mut conn = connect(target)?;
    let mut writer = conn.writer().map_err(io_err)?;
    let seed = RandomState::new().hash_one(Instant::now());
    let marker = format!("{seed:016x}{:08x}", std::process::id()).into_bytes();
    let done_writing = Arc::new(AtomicBool::new(false));
    let writer_thread = {
        let marker = marker.clone();
        let done_writing = done_writing.clone();
        std::thread::spawn(move || -> io::Result<()> {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                writer.write_all(&buf[..n])?;
            }
            println!("All data transferred. Waiting for the last reply...");
            let _ = io::stdout().flush();
            writer.write_all(&super::resp::encode_command(&[b"ECHO".as_slice(), &marker]))?;
            writer.flush()?;
            done_writing.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    let (mut errors, mut replies) = (0u64, 0u64);
    let mut last_reply = Instant::now();
    loop {
        match conn.wait_readable(Duration::from_millis(100)) {
            Ok(true) => {}
            Ok(false) => {
                if writer_thread.is_finished() && !done_writing.load(Ordering::SeqCst) {
                    break;
                }
                if done_writing.load(Ordering::SeqCst)
                    && !timeout.is_zero()
                    && last_reply.elapsed() > timeout
                {
                    eprintln!("No reply for {} seconds: giving up.", timeout.as_secs());
                    return Ok(1);
                }
                continue;
            }
            Err(e) => {
                eprintln!("{}", io_err(e));
                return Ok(1);
            }
        }
        let reply = conn.read().map_err(io_err)?;
        last_reply = Instant::now();
        if let Reply::Bulk(b) = &reply
            && *b == marker
        {
            break;
        }
        replies += 1;
        if let Reply::Error(e) = &reply {
            errors += 1;
            let mut err = io::stderr().lock();
            let _ = err.write_all(e);
            let _ = err.write_all(b"\n");
        }
    }
    match writer_thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("Error writing to the server: {}", describe_io_error(&e));
            return Ok(1);
        }
        Err(_) => return Ok(1),
    }
    println!("Last reply received from server.");
    println!("errors: {errors}, replies: {replies}");
    Ok(if errors > 0 { 1 } else { 0 })
}

/// Walks the keyspace with `SCAN`, calling `each` with every batch of keys.
fn scan_keys(
    conn: &mut Conn,
    pattern: Option<&str>,
    count: Option<u64>,
    mut each: impl FnMut(&mut Conn, Vec<Vec<u8>>) -> Result<(), String>,
) -> Result<(), String> {
    let mut cursor = b"0".to_vec();
    loop {
        let mut args: Vec<Vec<u8>> = vec![b"SCAN".to_vec(), cursor.clone()];
        if let Some(p) = pattern {
            args.push(b"MATCH".to_vec());
            args.push(p.as_bytes().to_vec());
        }
        if let Some(c) = count {
            args.push(b"COUNT".to_vec());
            args.push(c.to_string().into_bytes());
        }
        let reply = conn.call(&args).map_err(io_err)?;
        if let Reply::Error(e) = &reply {
            return Err(format!("SCAN failed: {}", String::from_utf8_lossy(e)));
        }
        let mut items = reply.into_items().unwrap_or_default();
        if items.len() != 2 {
            return Err("SCAN failed: unexpected reply".to_string());
        }
        let keys = items.pop().and_then(Reply::into_items).unwrap_or_default();
        cursor = items
            .pop()
            .and_then(|c| c.as_bytes().map(<[u8]>::to_vec))
            .unwrap_or_else(|| b"0".to_vec());
        let keys = keys
            .into_iter()
            .filter_map(|k| k.as_bytes().map(<[u8]>::to_vec))
            .collect();
        each(conn, keys)?;
        if cursor == b"0" {
            return Ok(());
        }
    }
}

/// `--scan`: prints every key (matching the pattern), one per line; quoted
/// when `quoted` (formatted output), raw otherwise.
pub fn scan(
    target: &Target,
    pattern: Option<&str>,
    count: Option<u64>,
    quoted: bool,
) -> Result<i32, String> {
    let mut conn = connect(target)?;
    let stdout = io::stdout();
    scan_keys(&mut conn, pattern, count, |_, keys| {
        let mut out = stdout.lock();
        for key in keys {
            let r = if quoted {
                writeln!(out, "{}", quote(&key))
            } else {
                out.write_all(&key).and_then(|_| out.write_all(b"\n"))
            };
            r.map_err(|e| format!("Error writing output: {e}"))?;
        }
        out.flush()
            .map_err(|e| format!("Error writing output: {e}"))
    })?;
    Ok(0)
}

/// Per-type statistics gathered by `--bigkeys`.
#[derive(Default)]
struct TypeStats {
    keys: u64,
    total: u64,
    biggest: Option<(Vec<u8>, u64)>,
}

fn size_command(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "string" => ("STRLEN", "bytes"),
        "list" => ("LLEN", "items"),
        "set" => ("SCARD", "members"),
        "zset" => ("ZCARD", "members"),
        "hash" => ("HLEN", "fields"),
        "stream" => ("XLEN", "entries"),
        _ => return None,
    })
}

/// `--bigkeys`: scans the keyspace and reports the biggest key of each
/// type plus per-type totals. `TYPE` and size queries are pipelined per
/// `SCAN` batch.
pub fn bigkeys(target: &Target, pattern: Option<&str>, count: Option<u64>) -> Result<i32, String> {
    let mut conn = connect(target)?;
    let total_keys = conn
        .call(&["DBSIZE"])
        .map_err(io_err)?
        .as_int()
        .unwrap_or(0)
        .max(1) as f64;
    println!("\n# Scanning the keyspace for the biggest key of each type and the");
    println!("# average size per type.\n");
    let mut stats: BTreeMap<String, TypeStats> = BTreeMap::new();
    let (mut sampled, mut key_bytes) = (0u64, 0u64);
    scan_keys(&mut conn, pattern, count, |conn, keys| {
        for key in &keys {
            conn.send(&[b"TYPE".as_slice(), key]).map_err(io_err)?;
        }
        let mut kinds = Vec::with_capacity(keys.len());
        for _ in &keys {
            kinds.push(conn.read().map_err(io_err)?.as_text().unwrap_or_default());
        }
        let mut asked = Vec::new();
        for (key, kind) in keys.iter().zip(&kinds) {
            if let Some((cmd, _)) = size_command(kind) {
                conn.send(&[cmd.as_bytes(), key]).map_err(io_err)?;
                asked.push((key, kind));
            }
        }
        for (key, kind) in asked {
            let size = conn.read().map_err(io_err)?.as_int().unwrap_or(0).max(0) as u64;
            sampled += 1;
            key_bytes += key.len() as u64;
            let entry = stats.entry(kind.clone()).or_default();
            entry.keys += 1;
            entry.total += size;
            if entry.biggest.as_ref().is_none_or(|(_, s)| size > *s) {
                entry.biggest = Some((key.clone(), size));
                let unit = size_command(kind).map_or("", |(_, u)| u);
                println!(
                    "[{:05.2}%] Largest {kind:<6} so far: {} with {size} {unit}",
                    (sampled as f64 / total_keys * 100.0).min(100.0),
                    quote(key)
                );
            }
        }
        Ok(())
    })?;
    println!("\n-------- summary -------\n");
    println!("Sampled {sampled} keys in the keyspace.");
    println!(
        "Total key length is {key_bytes} bytes (average {:.2})\n",
        if sampled > 0 {
            key_bytes as f64 / sampled as f64
        } else {
            0.0
        }
    );
    for (kind, s) in &stats {
        if let Some((key, size)) = &s.biggest {
            let unit = size_command(kind).map_or("", |(_, u)| u);
            println!("Largest {kind:>6}: {} with {size} {unit}", quote(key));
        }
    }
    println!();
    for (kind, s) in &stats {
        let unit = size_command(kind).map_or("", |(_, u)| u);
        println!(
            "{} {kind} keys with {} {unit} ({:05.2}% of keys, average size {:.2})",
            s.keys,
            s.total,
            s.keys as f64 * 100.0 / sampled.max(1) as f64,
            s.total as f64 / s.keys.max(1) as f64
        );
    }
    Ok(0)
}

/// `--latency`: pings continuously and shows min/max/average round-trip
/// time in milliseconds. On a terminal the line refreshes in place until
/// Ctrl-C; otherwise one line is printed after `interval` (default 1 s).
pub fn latency(target: &Target, interval: Option<Duration>) -> Result<i32, String> {
    let mut conn = connect(target)?;
    let tty = io::stdout().is_terminal();
    let (mut min, mut max, mut sum, mut samples) = (f64::MAX, 0f64, 0f64, 0u64);
    let started = Instant::now();
    let window = interval.unwrap_or(Duration::from_secs(1));
    loop {
        let t = Instant::now();
        let reply = conn.call(&["PING"]).map_err(io_err)?;
        if let Reply::Error(e) = reply {
            return Err(format!("PING failed: {}", String::from_utf8_lossy(&e)));
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        min = min.min(ms);
        max = max.max(ms);
        sum += ms;
        samples += 1;
        let line = format!(
            "min: {min:.2}, max: {max:.2}, avg: {:.2} ({samples} samples)",
            sum / samples as f64
        );
        if tty {
            print!("\x1b[0G\x1b[2K{line}");
            let _ = io::stdout().flush();
        } else if started.elapsed() >= window {
            println!("{line}");
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn info_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Total keys over all `dbN:keys=...` lines of `INFO`.
fn total_keys(fields: &BTreeMap<String, String>) -> u64 {
    fields
        .iter()
        .filter(|(k, _)| k.starts_with("db") && k[2..].chars().all(|c| c.is_ascii_digit()))
        .filter_map(|(_, v)| {
            v.split(',')
                .find_map(|kv| kv.strip_prefix("keys="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

/// `--stat`: one line of server statistics per interval, with a header
/// every 20 lines, until Ctrl-C.
pub fn stat(target: &Target, interval: Duration) -> Result<i32, String> {
    let mut conn = connect(target)?;
    let mut last_requests: Option<u64> = None;
    let mut line = 0u64;
    loop {
        let reply = conn.call(&["INFO"]).map_err(io_err)?;
        let Some(text) = reply.as_text().filter(|_| !reply.is_error()) else {
            return Err(format!("INFO failed: {:?}", reply.as_text()));
        };
        let f = info_fields(&text);
        let get = |k: &str| f.get(k).cloned().unwrap_or_else(|| "-".to_string());
        if line.is_multiple_of(20) {
            println!(
                "{:<11}{:<10}{:<9}{:<9}{:<22}connections",
                "keys", "mem", "clients", "blocked", "requests"
            );
        }
        let requests: u64 = get("total_commands_processed").parse().unwrap_or(0);
        let delta = last_requests.map_or(0, |l| requests.saturating_sub(l));
        last_requests = Some(requests);
        println!(
            "{:<11}{:<10}{:<9}{:<9}{:<22}{}",
            total_keys(&f),
            get("used_memory_human"),
            get("connected_clients"),
            get("blocked_clients"),
            format!("{requests} (+{delta})"),
            get("total_connections_received")
        );
        let _ = io::stdout().flush();
        line += 1;
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keys_from_info() {
        let f = info_fields(
            "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb5:keys=4,expires=1\r\ndbx:keys=9\r\n",
        );
        assert_eq!(total_keys(&f), 7);
    }
}

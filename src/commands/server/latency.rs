//! The latency monitor (`LATENCY LATEST|HISTORY|RESET|GRAPH|DOCTOR|HISTOGRAM`):
//! per event, the latest samples over `latency-monitor-threshold`, one per
//! second at most (the worst of that second), and the all-time maximum.
//! The dispatcher feeds it `command` / `fast-command` events.

use super::super::{Args, CommandDef, Ctx, Table};
use crate::server::shared::{HIST_BUCKETS, Shared};
use crate::storage::keyspace::unix_ms;
use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event (Redis keeps 160).
pub const SERIES_LEN: usize = 160;

/// One event's samples, oldest first.
#[derive(Default)]
pub struct Series {
    /// (Unix seconds, latency in ms).
    pub samples: VecDeque<(i64, u64)>,
    /// Worst latency ever seen for this event.
    pub max: u64,
}

/// Every event seen since start (or the last reset), by name.
#[derive(Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, Series>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` now; samples in the same second merge.
    pub fn add_sample(&mut self, event: &str, ms: u64) {
        self.add_sample_at(event, ms, unix_ms() / 1000);
    }

    pub fn add_sample_at(&mut self, event: &str, ms: u64, secs: i64) {
        let series = match self.events.get_mut(event) {
            Some(s) => s,
            None => self.events.entry(event.to_string()).or_default(),
        };
        series.max = series.max.max(ms);
        if let Some(last) = series.samples.back_mut()
            && last.0 == secs
        {
            last.1 = last.1.max(ms);
            return;
        }
        series.samples.push_back((secs, ms));
        while series.samples.len() > SERIES_LEN {
            series.samples.pop_front();
        }
    }

    /// Forgets the named events (all when `names` is empty); returns how
    /// many existed.
    pub fn reset(&mut self, names: &[&[u8]]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            if self
                .events
                .remove(&*String::from_utf8_lossy(name))
                .is_some()
            {
                n += 1;
            }
        }
        n
    }
}

pub fn latest(ctx: &mut Ctx, _args: &Args) {
    let mon = ctx.srv.latency.lock();
    ctx.out.array(mon.events.len());
    for (name, s) in &mon.events {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
}

pub fn history(ctx: &mut Ctx, args: &Args) {
    let mon = ctx.srv.latency.lock();
    let name = String::from_utf8_lossy(args.get(2));
    match mon.events.get(&*name) {
        None => ctx.out.array(0),
        Some(s) => {
            ctx.out.array(s.samples.len());
            for &(t, ms) in &s.samples {
                ctx.out.array(2);
                ctx.out.int(t);
                ctx.out.int(ms as i64);
            }
        }
    }
}

pub fn reset(ctx: &mut Ctx, args: &Args) {
    let names: Vec<&[u8]> = args.iter().skip(2).collect();
    let n = ctx.srv.latency.lock().reset(&names);
    ctx.out.int(n as i64);
}

/// Age of a sample as a short label (`12s`, `5m`, `3h`, `2d`).
fn age_label(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Renders an event's samples as a small ASCII chart: a header with the
/// range, then one column per sample (height proportional to the latency
/// between the lowest and highest sample), then each sample's age written
/// vertically under its column.
pub fn render_graph(name: &str, s: &Series, now: i64) -> String {
    const ROWS: u64 = 4;
    let high = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
    let low = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
    let mut out = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(80)
    );
    // Height of each column in half-rows: 1 ..= 2 * ROWS.
    let heights: Vec<u64> = s
        .samples
        .iter()
        .map(|&(_, v)| {
            if high == low {
                1
            } else {
                1 + (v - low) * (2 * ROWS - 1) / (high - low)
            }
        })
        .collect();
    for row in (0..ROWS).rev() {
        let line: String = heights
            .iter()
            .map(|&h| {
                let full = h / 2;
                if full > row {
                    '|'
                } else if full == row && h % 2 == 1 {
                    '_'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    let labels: Vec<Vec<char>> = s
        .samples
        .iter()
        .map(|&(t, _)| age_label((now - t).max(0)).chars().collect())
        .collect();
    let depth = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).copied().unwrap_or(' '))
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn graph(ctx: &mut Ctx, args: &Args) {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let text = {
        let mon = ctx.srv.latency.lock();
        match mon.events.get(&name) {
            Some(s) if !s.samples.is_empty() => Some(render_graph(&name, s, unix_ms() / 1000)),
            _ => None,
        }
    };
    match text {
        Some(t) => ctx.out.verbatim(t.as_bytes()),
        None => ctx
            .out
            .err(&format!("ERR No samples available for event '{name}'")),
    }
}

/// The human-readable report of `LATENCY DOCTOR` (our own wording).
pub fn doctor_report(mon: &LatencyMonitor, threshold_ms: u64) -> String {
    if threshold_ms == 0 && mon.events.is_empty() {
        return "Latency monitoring is disabled on this server \
                (latency-monitor-threshold is 0). Enable it with \
                \"CONFIG SET latency-monitor-threshold <milliseconds>\", \
                then run LATENCY DOCTOR again once some load has passed.\n"
            .to_string();
    }
    if mon.events.is_empty() {
        return format!(
            "No latency event above the threshold of {threshold_ms} ms has been \
             recorded since the server started (or the last LATENCY RESET).\n"
        );
    }
    let mut out = String::from("Latency report:\n\n");
    for (i, (name, s)) in mon.events.iter().enumerate() {
        let n = s.samples.len() as u64;
        let sum: u64 = s.samples.iter().map(|x| x.1).sum();
        let avg = sum / n.max(1);
        let dev = s.samples.iter().map(|x| x.1.abs_diff(avg)).sum::<u64>() / n.max(1);
        let period = match (s.samples.front(), s.samples.back()) {
            (Some(a), Some(b)) if n > 1 => (b.0 - a.0) / (n as i64 - 1),
            _ => 0,
        };
        out.push_str(&format!(
            "{}. {name}: {n} spike(s) recorded, average {avg} ms, mean deviation \
             {dev} ms, about one every {period} s. Worst ever: {} ms.\n",
            i + 1,
            s.max
        ));
    }
    out.push_str("\nHints:\n");
    if mon.events.contains_key("command") || mon.events.contains_key("fast-command") {
        out.push_str(
            "- Slow commands were seen: check SLOWLOG GET for the commands involved; \
             commands over large collections (KEYS, SMEMBERS, LRANGE of long lists, \
             SORT …) take time proportional to their size.\n",
        );
    }
    if mon.events.contains_key("fast-command") {
        out.push_str(
            "- Even O(1)/O(log N) commands were slow: the host may be overloaded \
             or swapping; check CPU usage and memory pressure.\n",
        );
    }
    out.push_str(&format!(
        "- The current threshold is {threshold_ms} ms (latency-monitor-threshold).\n"
    ));
    out
}

pub fn doctor(ctx: &mut Ctx, _args: &Args) {
    let threshold = ctx.client.settings.latency_monitor_threshold;
    let text = doctor_report(&ctx.srv.latency.lock(), threshold);
    ctx.out.verbatim(text.as_bytes());
}

/// The bucket bound shown by LATENCY HISTOGRAM for bucket `k`, in µs.
pub fn bucket_bound_usec(k: usize) -> u64 {
    ((1u64 << (10 + k)) + (1u64 << (3 + k)) - 1) / 1000
}

/// Sums a command's histogram over every worker.
pub fn command_histogram(srv: &Shared, id: usize) -> [u64; HIST_BUCKETS] {
    let mut h = [0u64; HIST_BUCKETS];
    for w in srv.workers.iter() {
        for (k, c) in w.per_command[id].hist.iter().enumerate() {
            h[k] += c.get();
        }
    }
    h
}

fn histogram_entry(ctx: &mut Ctx, def: &CommandDef, hist: &[u64; HIST_BUCKETS]) {
    let calls: u64 = hist.iter().sum();
    ctx.out.bulk(def.name.as_bytes());
    ctx.out.map(2);
    ctx.out.bulk(b"calls");
    ctx.out.int(calls as i64);
    ctx.out.bulk(b"histogram_usec");
    let used = hist.iter().filter(|&&n| n > 0).count();
    ctx.out.map(used);
    let mut cumulative = 0;
    for (k, &n) in hist.iter().enumerate() {
        cumulative += n;
        if n > 0 {
            ctx.out.int(bucket_bound_usec(k) as i64);
            ctx.out.int(cumulative as i64);
        }
    }
}

/// Finds a command or `container|sub` by full name; returns it with its id.
fn find_command(table: &Table, name: &[u8]) -> Option<(&'static CommandDef, usize)> {
    match name.iter().position(|&c| c == b'|') {
        None => {
            let (def, id) = table.lookup(name)?;
            Some((def, id))
        }
        Some(p) => {
            let (def, id) = table.lookup(&name[..p])?;
            Table::subcommand(def, id, &name[p + 1..])
        }
    }
}

pub fn histogram(ctx: &mut Ctx, args: &Args) {
    let srv = ctx.srv;
    let mut picked: Vec<(&'static CommandDef, [u64; HIST_BUCKETS])> = Vec::new();
    if args.len() == 2 {
        for (id, def) in srv.table.all().iter().enumerate() {
            let h = command_histogram(srv, id);
            if h.iter().any(|&n| n > 0) {
                picked.push((def, h));
            }
        }
    } else {
        for name in args.iter().skip(2) {
            if let Some((def, id)) = find_command(&srv.table, name) {
                let h = command_histogram(srv, id);
                if h.iter().any(|&n| n > 0) {
                    picked.push((def, h));
                }
            }
        }
    }
    ctx.out.map(picked.len());
    for (def, h) in &picked {
        histogram_entry(ctx, def, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::shared::latency_bucket;

    #[test]
    fn samples_in_one_second_merge() {
        let mut m = LatencyMonitor::default();
        m.add_sample_at("command", 100, 10);
        m.add_sample_at("command", 60, 10);
        m.add_sample_at("command", 70, 11);
        let s = &m.events["command"];
        assert_eq!(s.samples, [(10, 100), (11, 70)]);
        assert_eq!(s.max, 100);
        assert_eq!(m.reset(&[b"command", b"nosuch"]), 1);
        assert!(m.events.is_empty());
    }

    #[test]
    fn series_is_bounded() {
        let mut m = LatencyMonitor::default();
        for t in 0..500 {
            m.add_sample_at("x", t as u64, t);
        }
        let s = &m.events["x"];
        assert_eq!(s.samples.len(), SERIES_LEN);
        assert_eq!(s.samples.front().unwrap().0, 500 - SERIES_LEN as i64);
        assert_eq!(s.max, 499);
    }

    #[test]
    fn buckets_match_redis_bounds() {
        // Bounds Redis 7.0 prints: 1 2 4 8 16 33 66 132 264 … 67633 135266.
        let bounds: Vec<u64> = (0..HIST_BUCKETS).map(bucket_bound_usec).collect();
        assert_eq!(&bounds[..9], &[1, 2, 4, 8, 16, 33, 66, 132, 264]);
        assert_eq!(bounds[16], 67633);
        assert_eq!(bounds[17], 135266);
        // An 8 µs call lands under 8, a 9 µs one under 16.
        assert_eq!(bucket_bound_usec(latency_bucket(8_000)), 8);
        assert_eq!(bucket_bound_usec(latency_bucket(9_000)), 16);
        assert_eq!(latency_bucket(0), 0);
        // Same as a linear search for the first bound above the value.
        let slow = |n: u64| {
            (0..HIST_BUCKETS)
                .find(|&k| n < (1u64 << (10 + k)) + (1u64 << (3 + k)))
                .unwrap_or(HIST_BUCKETS - 1)
        };
        for k in 0..40u32 {
            for n in [1u64 << k, (1u64 << k) + (1 << k) / 128, (3u64 << k) / 2] {
                for d in [0u64, 1] {
                    let n = n.saturating_sub(d);
                    assert_eq!(latency_bucket(n), slow(n), "{n}");
                }
            }
        }
        assert_eq!(latency_bucket(u64::MAX), HIST_BUCKETS - 1);
    }

    #[test]
    fn graph_has_header_and_columns() {
        let mut m = LatencyMonitor::default();
        m.add_sample_at("command", 100, 10);
        m.add_sample_at("command", 300, 20);
        let g = render_graph("command", &m.events["command"], 25);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 300 ms, low 100 ms (all time high 300 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        // Four chart rows of two columns, then the ages 15s and 5s written
        // downwards.
        assert!(lines[2..6].iter().all(|l| l.len() == 2));
        assert_eq!(lines[2], " |");
        assert_eq!(lines[5], "_|");
        assert_eq!(&lines[6..], ["15", "5s", "s "]);
    }
}

//! Listeners, worker threads, connections, client state, logging.
//!
//! [`run`] starts the server: it binds the listeners, starts `N` worker
//! threads (each a single-threaded tokio runtime that owns its
//! connections), an acceptor that hands new connections to the workers
//! round-robin, and a cron thread (active expiry, idle timeouts, the LRU
//! clock, instantaneous metrics).

pub mod client;
pub mod conn;
pub mod log;
pub mod maxmemory;
pub mod monitor;
pub mod outlimit;
pub mod pubsub;
pub mod shared;
pub mod spin;

use crate::config::Config;
use client::ClientInfo;
use conn::Sock;
use shared::Shared;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Redis version Ember is compatible with (what INFO and HELLO report).
pub const REDIS_VERSION: &str = "7.0.15";

/// A new connection on its way to a worker.
enum Incoming {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// Exit the process cleanly: remove the pid file and Unix socket, log the
/// last line. Used by SHUTDOWN (which logged and saved already) and on
/// SIGTERM/SIGINT.
pub fn shutdown_and_exit(srv: &Shared, _from_signal: bool) -> ! {
    srv.shutting_down.store(true, Ordering::SeqCst);
    let settings = srv.settings();
    srv.aof.shutdown(srv);
    if let Some(sock) = &settings.unixsocket {
        log::notice("Removing the unix socket file.");
        let _ = std::fs::remove_file(sock);
    }
    if let Some(pid) = &settings.pidfile {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(pid);
    }
    log::warning("Ember is now ready to exit, bye bye...");
    std::process::exit(0);
}

fn bind_tcp(
    addrs: &[String],
    port: u16,
    backlog: u32,
) -> Result<Vec<std::net::TcpListener>, String> {
    use socket2::{Domain, Socket, Type};
    let mut out = Vec::new();
    for a in addrs {
        let (optional, a) = match a.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, a.as_str()),
        };
        let ip: std::net::IpAddr = match a {
            "*" => "0.0.0.0".parse().unwrap(),
            "::*" => "::".parse().unwrap(),
            _ => match a.parse() {
                Ok(ip) => ip,
                Err(_) => {
                    if optional {
                        continue;
                    }
                    return Err(format!("Failed listening on port {port} (tcp), aborting."));
                }
            },
        };
        let sa = std::net::SocketAddr::new(ip, port);
        let res = (|| -> std::io::Result<std::net::TcpListener> {
            let s = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            if ip.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.bind(&sa.into())?;
            s.listen(backlog as i32)?;
            s.set_nonblocking(true)?;
            Ok(s.into())
        })();
        match res {
            Ok(l) => out.push(l),
            Err(e) => {
                if optional {
                    continue;
                }
                log::warning(&format!(
                    "Warning: Could not create server TCP listening socket {a}:{port}: {e}"
                ));
                return Err(format!("Failed listening on port {port} (tcp), aborting."));
            }
        }
    }
    Ok(out)
}

fn daemonize() {
    // SAFETY: called before any thread is started; the child continues
    // with a copy of the single-threaded process.
    unsafe {
        match libc::fork() {
            -1 => {}
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Starts the server and runs until SHUTDOWN or a signal. Returns the exit
/// status on a startup failure.
pub fn run(config: Config) -> i32 {
    let settings = config.settings();
    if settings.daemonize {
        daemonize();
    }
    log::configure(settings.loglevel, &settings.logfile);
    let pid = std::process::id();
    log::notice("oO0OoO0OoO0Oo Ember is starting oO0OoO0OoO0Oo");
    log::notice(&format!(
        "Ember version={} (Redis {REDIS_VERSION} compatible), bits=64, pid={pid}, just started",
        env!("CARGO_PKG_VERSION")
    ));
    if config.config_file().is_none() {
        log::warning(
            "Warning: no config file specified, using the default config. In order to specify a config file use ember-server /path/to/redis.conf",
        );
    } else {
        log::notice("Configuration loaded");
    }
    for name in config.ignored_in_use() {
        log::notice(&format!(
            "Directive '{name}' is accepted for compatibility but has no effect in this version of Ember"
        ));
    }
    if settings.disable_thp {
        // As Redis: huge pages make a fork-free server's page faults zero
        // 2 MB at a time (latency spikes while the dataset grows).
        // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integers.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    let threads = settings.server_threads.max(1);
    let config = Arc::new(config);
    let srv = Arc::new(Shared::new(config.clone(), threads));
    let _ = srv.me.set(Arc::downgrade(&srv));
    pubsub::install_notifications(&srv);
    maxmemory::install(&srv);
    srv.bgsave.attach(&srv);
    log::set_role(b'M');

    let listeners = if settings.port != 0 {
        match bind_tcp(&settings.bind, settings.port, settings.tcp_backlog) {
            Ok(l) => l,
            Err(e) => {
                log::warning(&e);
                return 1;
            }
        }
    } else {
        Vec::new()
    };
    let unix_listener = match &settings.unixsocket {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            match std::os::unix::net::UnixListener::bind(path) {
                Ok(l) => {
                    use std::os::unix::fs::PermissionsExt;
                    if settings.unixsocketperm != 0 {
                        let _ = std::fs::set_permissions(
                            path,
                            std::fs::Permissions::from_mode(settings.unixsocketperm),
                        );
                    }
                    let _ = l.set_nonblocking(true);
                    Some(l)
                }
                Err(e) => {
                    log::warning(&format!("Failed opening Unix socket: {e}"));
                    return 1;
                }
            }
        }
        None => None,
    };
    if let Some(pidfile) = &settings.pidfile {
        if let Err(e) = std::fs::write(pidfile, format!("{pid}\n")) {
            log::warning(&format!("Failed to write PID file: {e}"));
        }
    } else if settings.daemonize {
        let _ = std::fs::write("/var/run/redis.pid", format!("{pid}\n"));
    }
    log::notice(&format!(
        "Running mode=standalone, port={}, threads={threads}.",
        settings.port
    ));
    log::notice("Server initialized");
    // Calibrates the TSC clock that times every command now, not on the
    // first command.
    let _ = quanta::Instant::now();
    if !settings.appendonly {
        // With AOF on, Redis loads the AOF instead of the RDB file.
        match crate::persist::snapshot::load_at_startup(&srv.keyspace, &settings) {
            Some(st) => srv.note_load(&st),
            None => return 1,
        }
    }
    if srv.aof.clone().start_on_boot(&srv).is_err() {
        return 1;
    }
    crate::replication::start(&srv);

    // Workers.
    let mut senders = Vec::with_capacity(threads);
    for w in 0..threads {
        let (tx, rx) = mpsc::unbounded_channel::<Incoming>();
        senders.push(tx);
        let srv = srv.clone();
        std::thread::Builder::new()
            .name(format!("ember-worker-{w}"))
            .spawn(move || worker_main(w, srv, rx))
            .expect("spawn worker thread");
    }
    // Cron.
    {
        let srv = srv.clone();
        std::thread::Builder::new()
            .name("ember-cron".into())
            .spawn(move || cron_main(srv))
            .expect("spawn cron thread");
    }
    log::notice("Ready to accept connections");
    if unix_listener.is_some() {
        log::notice("The server is now ready to accept connections at the Unix socket");
    }

    // Acceptor: runs on the main thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    config.on_change(
        "loglevel",
        Box::new(|s: &crate::config::Settings| {
            log::configure(s.loglevel, &s.logfile);
            Ok(())
        }),
    );
    let (rebind_tx, rebind_rx) = mpsc::unbounded_channel();
    register_rebind_hooks(&config, rebind_tx);
    rt.block_on(accept_loop(
        srv,
        listeners,
        unix_listener,
        senders,
        rebind_rx,
    ));
    0
}

/// A request to listen on other TCP addresses (CONFIG SET port/bind), with
/// where to send the outcome.
struct Rebind {
    bind: Vec<String>,
    port: u16,
    backlog: u32,
    done: std::sync::mpsc::Sender<Result<(), String>>,
}

/// Starts one accept task per TCP listener.
fn spawn_tcp_accepters(
    listeners: Vec<std::net::TcpListener>,
    tx: &mpsc::UnboundedSender<Incoming>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    for l in listeners {
        let Ok(l) = tokio::net::TcpListener::from_std(l) else {
            continue;
        };
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, _)) => {
                        if let Ok(s) = s.into_std() {
                            let _ = tx.send(Incoming::Tcp(s));
                        }
                    }
                    Err(e) => {
                        log::warning(&format!("Accepting client connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    handles
}

/// Registers the CONFIG SET hooks for `port` and `bind`: the acceptor closes
/// its listeners and opens the new ones; a failure makes CONFIG SET fail
/// (and the hook, called again with the old values, restores them).
fn register_rebind_hooks(config: &Config, tx: mpsc::UnboundedSender<Rebind>) {
    for name in ["port", "bind"] {
        let tx = tx.clone();
        config.on_change(
            name,
            Box::new(move |s: &crate::config::Settings| {
                let (done, result) = std::sync::mpsc::channel();
                tx.send(Rebind {
                    bind: s.bind.clone(),
                    port: s.port,
                    backlog: s.tcp_backlog,
                    done,
                })
                .map_err(|_| "the acceptor is gone".to_string())?;
                let failure = if name == "port" {
                    "Unable to listen on this port. Check server logs."
                } else {
                    "Failed to bind to specified addresses."
                };
                result
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| failure.to_string())?
                    .map_err(|_| failure.to_string())
            }),
        );
    }
}

async fn accept_loop(
    srv: Arc<Shared>,
    listeners: Vec<std::net::TcpListener>,
    unix: Option<std::os::unix::net::UnixListener>,
    senders: Vec<mpsc::UnboundedSender<Incoming>>,
    mut rebinds: mpsc::UnboundedReceiver<Rebind>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Incoming>();
    let mut tcp_tasks = spawn_tcp_accepters(listeners, &tx);
    let mut current = {
        let s = srv.settings();
        (s.bind.clone(), s.port, s.tcp_backlog)
    };
    if let Some(l) = unix {
        let l = tokio::net::UnixListener::from_std(l).expect("register unix listener");
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, _)) => {
                        if let Ok(s) = s.into_std() {
                            let _ = tx.send(Incoming::Unix(s));
                        }
                    }
                    Err(e) => {
                        log::warning(&format!("Accepting client connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    let signals = {
        let srv = srv.clone();
        async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                log::warning(&format!("Received {name} scheduling shutdown..."));
                let mut db = srv.keyspace.view_all(0);
                crate::commands::persistence::kill_bgsave(&srv, &mut db);
                if !srv.settings().save.is_empty()
                    && crate::commands::persistence::final_save(&srv, &mut db).is_err()
                {
                    drop(db);
                    log::warning(&format!(
                        "{name} received but errors trying to shut down the server, check the logs for more information"
                    ));
                    continue;
                }
                drop(db);
                shutdown_and_exit(&srv, true);
            }
        }
    };
    tokio::spawn(signals);
    let mut next = 0usize;
    loop {
        let conn = tokio::select! {
            conn = rx.recv() => match conn {
                Some(c) => c,
                None => return,
            },
            Some(req) = rebinds.recv() => {
                // Close the current listeners first (the new set may reuse
                // the same port), then open the new ones.
                for h in tcp_tasks.drain(..) {
                    h.abort();
                    let _ = h.await;
                }
                let result = if req.port == 0 {
                    Ok(Vec::new())
                } else {
                    bind_tcp(&req.bind, req.port, req.backlog)
                };
                let answer = match result {
                    Ok(ls) => {
                        tcp_tasks = spawn_tcp_accepters(ls, &tx);
                        srv.tcp_port.store(req.port as usize, Ordering::Relaxed);
                        current = (req.bind, req.port, req.backlog);
                        Ok(())
                    }
                    Err(_) => {
                        // Back to what worked before.
                        if current.1 != 0
                            && let Ok(ls) = bind_tcp(&current.0, current.1, current.2)
                        {
                            tcp_tasks = spawn_tcp_accepters(ls, &tx);
                        }
                        Err(String::new())
                    }
                };
                let _ = req.done.send(answer);
                continue;
            }
        };
        let settings = srv.settings();
        let connected = srv.stats.connected_clients.load(Ordering::Relaxed);
        if connected >= settings.maxclients {
            srv.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let msg = b"-ERR max number of clients reached\r\n";
            use std::io::Write;
            match conn {
                Incoming::Tcp(mut s) => {
                    let _ = s.write(msg);
                }
                Incoming::Unix(mut s) => {
                    let _ = s.write(msg);
                }
            }
            continue;
        }
        srv.stats.connected_clients.fetch_add(1, Ordering::Relaxed);
        srv.stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let _ = senders[next].send(conn);
        next = (next + 1) % senders.len();
    }
}

fn worker_main(worker: usize, srv: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Incoming>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Connection tasks are spawned on this thread's own runtime: they
    // never move to another thread.
    rt.spawn(spin::spinner());
    rt.block_on(async move {
        while let Some(conn) = rx.recv().await {
            let Some((sock, info)) = register(&srv, conn) else {
                srv.stats.connected_clients.fetch_sub(1, Ordering::Relaxed);
                continue;
            };
            tokio::spawn(conn::serve(sock, srv.clone(), info, worker));
        }
    });
}

/// Turns an accepted stream into a registered client.
fn register(srv: &Shared, conn: Incoming) -> Option<(Sock, Arc<ClientInfo>)> {
    use std::os::fd::AsRawFd;
    let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
    let settings = srv.settings();
    let (sock, info) = match conn {
        Incoming::Tcp(s) => {
            let _ = s.set_nodelay(true);
            if settings.tcp_keepalive > 0 {
                let sref = socket2::SockRef::from(&s);
                let ka = socket2::TcpKeepalive::new()
                    .with_time(Duration::from_secs(settings.tcp_keepalive))
                    .with_interval(Duration::from_secs((settings.tcp_keepalive / 3).max(1)));
                let _ = sref.set_tcp_keepalive(&ka);
            }
            let addr = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let laddr = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let fd = s.as_raw_fd();
            let s = tokio::net::TcpStream::from_std(s).ok()?;
            (Sock::Tcp(s), ClientInfo::new(id, addr, laddr, fd, false))
        }
        Incoming::Unix(s) => {
            let fd = s.as_raw_fd();
            // Redis names both ends of a Unix connection `path:0`.
            let addr = format!("{}:0", settings.unixsocket.as_deref().unwrap_or(""));
            let s = tokio::net::UnixStream::from_std(s).ok()?;
            (
                Sock::Unix(s),
                ClientInfo::new(id, addr.clone(), addr, fd, true),
            )
        }
    };
    let info = Arc::new(info);
    srv.clients.lock().insert(id, info.clone());
    Some((sock, info))
}

/// Background work `hz` times a second.
fn cron_main(srv: Arc<Shared>) {
    let mut tick: u64 = 0;
    loop {
        let settings = srv.settings();
        let hz = settings.hz.clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        std::thread::sleep(period);
        tick += 1;
        let uptime = srv.started.elapsed();
        srv.keyspace.set_lru_clock(uptime.as_secs() as u32);
        // used_memory_peak, sampled as Redis's serverCron does.
        crate::alloc::sample_peak();
        // Eviction that stopped at its time limit goes on.
        maxmemory::cron(&srv, period);
        // Active expiry: at most 25% of each period.
        // A replica's keys expire when its primary says so.
        if srv.active_expire_enabled.load(Ordering::Relaxed) && !srv.repl.is_replica() {
            let n = srv
                .keyspace
                .active_expire_cycle(period / 4, settings.active_expire_effort);
            srv.stats
                .expired_keys_active
                .fetch_add(n, Ordering::Relaxed);
        }
        // Save points (`save <seconds> <changes>`).
        crate::commands::persistence::cron_save_points(&srv);
        srv.bgsave.cron(&srv);
        srv.aof.cron(&settings);
        crate::replication::cron(&srv, &settings, tick, hz);
        // Idle clients.
        if settings.timeout > 0 {
            let now = crate::storage::keyspace::unix_ms();
            let limit = settings.timeout as i64 * 1000;
            for c in srv.client_list() {
                // Blocked and subscribed clients are exempt, as in Redis.
                if c.is_blocked() || c.is_pubsub() {
                    continue;
                }
                if now - c.last_interaction_ms.load(Ordering::Relaxed) > limit {
                    log::verbose("Closing idle client");
                    c.kill();
                }
            }
        }
        // Output buffer limits of clients whose output waits, once a second.
        if tick.is_multiple_of(hz) {
            self::outlimit::cron(&srv, &settings);
        }
        // Instantaneous metrics every 100 ms.
        if tick.is_multiple_of((hz / 10).max(1)) {
            let now = uptime.as_millis() as u64;
            let input: u64 = srv.workers.iter().map(|w| w.net_input.get()).sum();
            let output: u64 = srv.workers.iter().map(|w| w.net_output.get()).sum();
            srv.stats
                .ops_per_sec
                .lock()
                .track(now, srv.total_commands());
            srv.stats.input_kbps.lock().track(now, input);
            srv.stats.output_kbps.lock().track(now, output);
        }
    }
}

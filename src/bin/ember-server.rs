//! `ember-server`: takes what `redis-server` takes (an optional config file,
//! then `--directive value` overrides) and serves until SHUTDOWN or a signal.

/// mimalloc, counting the bytes in use for INFO's `used_memory`.
#[global_allocator]
static GLOBAL: ember::alloc::Counted = ember::alloc::Counted;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && (args[0] == "-v" || args[0] == "--version") {
        println!(
            "Ember server v={} (Redis {} compatible) bits=64",
            env!("CARGO_PKG_VERSION"),
            ember::server::REDIS_VERSION
        );
        return;
    }
    if args.len() == 1 && (args[0] == "-h" || args[0] == "--help") {
        println!("Usage: ./ember-server [/path/to/redis.conf] [options] [-]");
        println!("       ./ember-server - (read config from stdin)");
        println!("       ./ember-server -v or --version");
        println!("       ./ember-server -h or --help");
        println!();
        println!("Examples:");
        println!("       ./ember-server (run the server with default conf)");
        println!("       ./ember-server /etc/redis/6379.conf");
        println!("       ./ember-server --port 7777");
        println!("       ./ember-server /etc/myredis.conf --loglevel verbose -");
        println!("       ./ember-server --server-threads 4");
        return;
    }
    ember::alloc::tune();
    let config = match ember::config::Config::from_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    std::process::exit(ember::server::run(config));
}

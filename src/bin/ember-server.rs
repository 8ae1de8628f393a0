//! `ember-server`: takes what `redis-server` takes (an optional config file,
//! then `--directive value` overrides) and serves until SHUTDOWN or a signal.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// mimalloc's `mi_option_page_max_reclaim`: its index in the `mi_option_t`
/// enum of mimalloc 3 (the Rust bindings have no constant for it; the
/// option is set only when the linked mimalloc is a 3.x).
const MI_OPTION_PAGE_MAX_RECLAIM: libmimalloc_sys::mi_option_t = 41;

/// How many partly used pages of one size class a worker may take back
/// when it frees into a page it once allocated from.
const PAGE_MAX_RECLAIM: std::os::raw::c_long = 16;

/// Bounds mimalloc's reclaiming of abandoned pages by the thread they came
/// from (unlimited by default). A value allocated by one worker is freed by
/// whichever worker overwrites its key; with unlimited reclaim, every free
/// into a page the freeing worker once filled takes the page back into that
/// worker's own queues, where the other workers cannot reuse its free
/// blocks, so under random overwrites each worker ends up keeping pages for
/// most of the dataset (+50% RSS with two workers, `scripts/churn-vs-redis`).
/// Bounded, the pages stay shared and any worker refills them.
/// `MIMALLOC_PAGE_MAX_RECLAIM` in the environment still wins.
fn tune_allocator() {
    // SAFETY: mi_version has no preconditions.
    let major = unsafe { libmimalloc_sys::mi_version() } / 10000;
    if major == 3 && std::env::var_os("MIMALLOC_PAGE_MAX_RECLAIM").is_none() {
        // SAFETY: mi_option_set only stores the value in mimalloc's option
        // table (the option is read with a plain load when pages are freed).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PAGE_MAX_RECLAIM, PAGE_MAX_RECLAIM) };
    }
}

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
    tune_allocator();
    let config = match ember::config::Config::from_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    std::process::exit(ember::server::run(config));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc's `mi_option_page_cross_thread_max_reclaim`, right after
    /// ours in the enum, and its default: finding it there checks that
    /// `MI_OPTION_PAGE_MAX_RECLAIM` still names the option we mean.
    const MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM: libmimalloc_sys::mi_option_t = 42;

    #[test]
    fn page_max_reclaim_is_the_option_we_mean() {
        // SAFETY: mi_version and mi_option_get have no preconditions; both
        // indices are in range for mimalloc 3's option table.
        unsafe {
            assert_eq!(
                libmimalloc_sys::mi_version() / 10000,
                3,
                "mimalloc 3 expected"
            );
            if std::env::var_os("MIMALLOC_PAGE_CROSS_THREAD_MAX_RECLAIM").is_none() {
                assert_eq!(
                    libmimalloc_sys::mi_option_get(MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM),
                    32
                );
            }
            if std::env::var_os("MIMALLOC_PAGE_MAX_RECLAIM").is_none() {
                // Unlimited is mimalloc's default.
                assert_eq!(
                    libmimalloc_sys::mi_option_get(MI_OPTION_PAGE_MAX_RECLAIM),
                    -1
                );
                tune_allocator();
                assert_eq!(
                    libmimalloc_sys::mi_option_get(MI_OPTION_PAGE_MAX_RECLAIM),
                    PAGE_MAX_RECLAIM
                );
            }
        }
    }
}

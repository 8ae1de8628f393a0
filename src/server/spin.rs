//! Adaptive busy-polling for a worker thread.
//!
//! While a worker has served a request in the last `busy-poll-usecs`
//! microseconds (an Ember directive, default 200), its spinner
//! task keeps the runtime busy (yielding, so the runtime polls the sockets
//! without blocking) instead of letting the thread sleep in `epoll_wait`.
//! Under load this removes a sleep and a wake-up (and the clients' cost of
//! waking the server) between batches of requests; an idle worker sleeps
//! as before, after at most one window of polling.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

struct State {
    last: Cell<Instant>,
    /// `busy-poll-usecs` as of the last request.
    window: Cell<Duration>,
    parked: Cell<bool>,
    wake: Arc<Notify>,
}

thread_local! {
    static STATE: State = State {
        last: Cell::new(Instant::now()),
        window: Cell::new(Duration::ZERO),
        parked: Cell::new(true),
        wake: Arc::new(Notify::new()),
    };
}

/// Records activity on this worker (called once per read batch) with the
/// `busy-poll-usecs` setting; 0 turns polling off.
#[inline]
pub fn active(window_usecs: u64) {
    if window_usecs == 0 {
        return;
    }
    STATE.with(|s| {
        s.last.set(Instant::now());
        s.window.set(Duration::from_micros(window_usecs));
        if s.parked.get() {
            s.parked.set(false);
            s.wake.notify_one();
        }
    });
}

/// The spinner task of a worker thread (spawned on its runtime).
pub async fn spinner() {
    let wake = STATE.with(|s| s.wake.clone());
    loop {
        let (idle, window) = STATE.with(|s| (s.last.get().elapsed(), s.window.get()));
        if idle < window {
            tokio::task::yield_now().await;
        } else {
            STATE.with(|s| s.parked.set(true));
            wake.notified().await;
        }
    }
}

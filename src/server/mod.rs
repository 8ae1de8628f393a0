//! Listeners, connections, worker threads, client state.

//! RESP2/RESP3 protocol: request parsing and reply encoding, over byte
//! buffers only; it knows nothing of commands or sockets.

pub mod reply;
pub mod request;

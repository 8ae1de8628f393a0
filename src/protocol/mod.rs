//! RESP2/RESP3 protocol: request parsing and reply encoding.

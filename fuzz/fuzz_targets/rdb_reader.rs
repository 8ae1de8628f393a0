//! Fuzz target for the RDB reader: arbitrary bytes, as a whole file (with
//! and without a valid header prepended) and as a DUMP payload, must decode
//! or fail with an error — never panic, never allocate without bound.

#![no_main]

use ember::persist::rdb::reader::{Reader, decode_dump_payload, read_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_all(data);
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let _ = read_all(&file);
    // Unknown total size: the reader must still bound its allocations.
    if let Ok(mut r) = Reader::new(&file[..], None) {
        while let Ok(it) = r.next_item() {
            if it == ember::persist::rdb::reader::Item::Eof {
                break;
            }
        }
    }
    let _ = decode_dump_payload(data);
});

//! Fuzz target for the request parser: arbitrary bytes, fed whole and then
//! in chunks whose sizes come from the input, must never panic and must
//! yield the same requests (or the same protocol error) both ways.

#![no_main]

use ember::protocol::request::{Limits, Parsed, RequestParser, Source};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Vec<u8>>>, Option<&'static str>);

/// Parses `input`, revealing it to the parser `step(i)` more bytes at a time,
/// as a connection whose reads return those sizes would.
fn parse(input: &[u8], mut step: impl FnMut() -> usize) -> Outcome {
    let limits = Limits {
        max_bulk_len: 1 << 20,
        unauthenticated: false,
    };
    let mut p = RequestParser::new();
    let mut requests = Vec::new();
    let mut start = 0;
    let mut visible = 0;
    loop {
        match p.parse(&input[start..visible], limits) {
            Parsed::Request { consumed, source } => {
                let base = match source {
                    Source::Buffer => &input[start..visible],
                    Source::Inline => p.inline_scratch(),
                };
                let args = p
                    .spans()
                    .iter()
                    .map(|&(s, e)| base[s as usize..e as usize].to_vec())
                    .collect();
                requests.push(args);
                assert!(consumed > 0 && start + consumed <= visible);
                start += consumed;
            }
            Parsed::Incomplete { .. } => {
                if visible == input.len() {
                    return (requests, None);
                }
                visible = (visible + step().max(1)).min(input.len());
            }
            Parsed::Error(e) => return (requests, Some(e)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks chunk sizes; the rest is the stream.
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    // Past 64 KiB an unterminated line is an error or not depending on how
    // much had arrived (as in Redis), so the two ways may rightly differ.
    if input.len() > 60_000 {
        return;
    }
    let whole = parse(input, || usize::MAX);
    let mut x = seed as usize | 1;
    let chunked = parse(input, || {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (x >> 16) % 17 + 1
    });
    assert_eq!(whole, chunked);
});

//! The packed blobs found inside RDB strings: ziplist, listpack, zipmap and
//! intset decoders (every bound checked: a corrupt blob is an error, never a
//! panic or an out-of-range read), and the listpack and intset encoders the
//! writer uses.
//!
//! Decoding errors carry the offset inside the blob; the reader adds the
//! blob's position in the file.

/// An element of a ziplist or listpack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element as a string (integers in decimal, as Redis returns them).
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(n) => n.to_string().into_bytes(),
        }
    }

    /// The element as an integer, when it is one (or a string holding one).
    pub fn as_int(self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(n),
            Elem::Str(s) => crate::util::num::parse_i64(s),
        }
    }
}

/// A field/value pair borrowed from a blob.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// An error inside a blob: offset within it and message.
pub type BlobError = (usize, String);

fn err<T>(at: usize, msg: &str) -> Result<T, BlobError> {
    Err((at, msg.to_string()))
}

/// Reads `n` bytes at `at`.
fn take(b: &[u8], at: usize, n: usize) -> Result<&[u8], BlobError> {
    match at.checked_add(n) {
        Some(end) if end <= b.len() => Ok(&b[at..end]),
        _ => err(at, "element extends past the end of the blob"),
    }
}

fn le_uint(s: &[u8]) -> u64 {
    s.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

/// Sign-extends the low `bits` of `v`.
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes a ziplist (Redis < 7.0 lists, hashes and sorted sets).
pub fn ziplist(b: &[u8]) -> Result<Vec<Elem<'_>>, BlobError> {
    if b.len() < 11 {
        return err(0, "ziplist header too short");
    }
    let total = le_uint(&b[0..4]) as usize;
    if total != b.len() {
        return err(0, "ziplist size does not match its header");
    }
    let count = le_uint(&b[8..10]) as usize;
    let mut out = Vec::with_capacity(count.min(b.len()));
    let mut at = 10;
    loop {
        let Some(&first) = b.get(at) else {
            return err(at, "ziplist has no terminator");
        };
        if first == 0xFF {
            if at != b.len() - 1 {
                return err(at, "ziplist terminator before its end");
            }
            break;
        }
        // prevlen
        at += if first < 254 { 1 } else { 5 };
        let enc = *take(b, at, 1)?.first().unwrap_or(&0);
        let e = match enc >> 6 {
            0 => {
                let len = (enc & 0x3F) as usize;
                at += 1;
                let s = take(b, at, len)?;
                at += len;
                Elem::Str(s)
            }
            1 => {
                let h = take(b, at, 2)?;
                let len = (((h[0] & 0x3F) as usize) << 8) | h[1] as usize;
                at += 2;
                let s = take(b, at, len)?;
                at += len;
                Elem::Str(s)
            }
            2 => {
                let h = take(b, at, 5)?;
                let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
                at += 5;
                let s = take(b, at, len)?;
                at += len;
                Elem::Str(s)
            }
            _ => {
                at += 1;
                let (n, width) = match enc {
                    0xC0 => (sext(le_uint(take(b, at, 2)?), 16), 2),
                    0xD0 => (sext(le_uint(take(b, at, 4)?), 32), 4),
                    0xE0 => (le_uint(take(b, at, 8)?) as i64, 8),
                    0xF0 => (sext(le_uint(take(b, at, 3)?), 24), 3),
                    0xFE => (sext(le_uint(take(b, at, 1)?), 8), 1),
                    0xF1..=0xFD => ((enc & 0x0F) as i64 - 1, 0),
                    _ => return err(at - 1, "invalid ziplist entry encoding"),
                };
                at += width;
                Elem::Int(n)
            }
        };
        out.push(e);
    }
    if count != 0xFFFF && count != out.len() {
        return err(8, "ziplist entry count does not match its header");
    }
    Ok(out)
}

/// Decodes a listpack (Redis 7.0 hashes, sorted sets, quicklist nodes,
/// stream nodes; 7.2 sets).
pub fn listpack(b: &[u8]) -> Result<Vec<Elem<'_>>, BlobError> {
    if b.len() < 7 {
        return err(0, "listpack header too short");
    }
    let total = le_uint(&b[0..4]) as usize;
    if total != b.len() {
        return err(0, "listpack size does not match its header");
    }
    let count = le_uint(&b[4..6]) as usize;
    let mut out = Vec::with_capacity(count.min(b.len()));
    let mut at = 6;
    loop {
        let start = at;
        let Some(&enc) = b.get(at) else {
            return err(at, "listpack has no terminator");
        };
        if enc == 0xFF {
            if at != b.len() - 1 {
                return err(at, "listpack terminator before its end");
            }
            break;
        }
        let e = if enc & 0x80 == 0 {
            at += 1;
            Elem::Int((enc & 0x7F) as i64)
        } else if enc & 0xC0 == 0x80 {
            let len = (enc & 0x3F) as usize;
            at += 1;
            let s = take(b, at, len)?;
            at += len;
            Elem::Str(s)
        } else if enc & 0xE0 == 0xC0 {
            let h = take(b, at, 2)?;
            at += 2;
            Elem::Int(sext((((h[0] & 0x1F) as u64) << 8) | h[1] as u64, 13))
        } else if enc & 0xF0 == 0xE0 {
            let h = take(b, at, 2)?;
            let len = (((h[0] & 0x0F) as usize) << 8) | h[1] as usize;
            at += 2;
            let s = take(b, at, len)?;
            at += len;
            Elem::Str(s)
        } else {
            at += 1;
            match enc {
                0xF0 => {
                    let len = le_uint(take(b, at, 4)?) as usize;
                    at += 4;
                    let s = take(b, at, len)?;
                    at += len;
                    Elem::Str(s)
                }
                0xF1 => {
                    at += 2;
                    Elem::Int(sext(le_uint(take(b, at - 2, 2)?), 16))
                }
                0xF2 => {
                    at += 3;
                    Elem::Int(sext(le_uint(take(b, at - 3, 3)?), 24))
                }
                0xF3 => {
                    at += 4;
                    Elem::Int(sext(le_uint(take(b, at - 4, 4)?), 32))
                }
                0xF4 => {
                    at += 8;
                    Elem::Int(le_uint(take(b, at - 8, 8)?) as i64)
                }
                _ => return err(start, "invalid listpack entry encoding"),
            }
        };
        // The back-length: the size of encoding + data, 7 bits per byte.
        let l = at - start;
        let backlen = match l {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        take(b, at, backlen)?;
        at += backlen;
        out.push(e);
    }
    if count != 0xFFFF && count != out.len() {
        return err(4, "listpack entry count does not match its header");
    }
    Ok(out)
}

/// Decodes a zipmap (hashes of Redis < 2.6) into field/value pairs.
pub fn zipmap(b: &[u8]) -> Result<Vec<Pair<'_>>, BlobError> {
    let mut at = 1;
    let mut out = Vec::new();
    let len_at = |at: &mut usize| -> Result<Option<usize>, BlobError> {
        let Some(&f) = b.get(*at) else {
            return err(*at, "zipmap has no terminator");
        };
        match f {
            0xFF => Ok(None),
            254 => {
                let n = le_uint(take(b, *at + 1, 4)?) as usize;
                *at += 5;
                Ok(Some(n))
            }
            n => {
                *at += 1;
                Ok(Some(n as usize))
            }
        }
    };
    loop {
        let Some(klen) = len_at(&mut at)? else {
            if at != b.len() - 1 {
                return err(at, "zipmap terminator before its end");
            }
            return Ok(out);
        };
        let k = take(b, at, klen)?;
        at += klen;
        let Some(vlen) = len_at(&mut at)? else {
            return err(at, "zipmap field without a value");
        };
        let free = *take(b, at, 1)?.first().unwrap_or(&0) as usize;
        at += 1;
        let v = take(b, at, vlen)?;
        at += vlen;
        take(b, at, free)?;
        at += free;
        out.push((k, v));
    }
}

/// Decodes an intset: sorted, unique integers.
pub fn intset(b: &[u8]) -> Result<Vec<i64>, BlobError> {
    if b.len() < 8 {
        return err(0, "intset header too short");
    }
    let width = le_uint(&b[0..4]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return err(0, "invalid intset encoding");
    }
    let count = le_uint(&b[4..8]) as usize;
    if count.checked_mul(width) != Some(b.len() - 8) {
        return err(4, "intset size does not match its header");
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for i in 0..count {
        let at = 8 + i * width;
        let n = sext(le_uint(&b[at..at + width]), width as u32 * 8);
        if out.last().is_some_and(|&p| p >= n) {
            return err(at, "intset is not sorted");
        }
        out.push(n);
    }
    Ok(out)
}

/// Encodes an intset of sorted unique integers, in the narrowest width.
pub fn encode_intset(v: &[i64]) -> Vec<u8> {
    let width = if v.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if v.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + v.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for &n in v {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

/// Builds a listpack the way Redis 7.0 does: strings that are canonical
/// integers are stored in integer encodings.
#[derive(Default)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    pub fn new() -> ListpackBuilder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 6]);
        ListpackBuilder { buf, count: 0 }
    }

    /// Bytes the finished listpack would take.
    pub fn len(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a string (integer-encoded when it is a canonical integer).
    pub fn push(&mut self, s: &[u8]) {
        if s.len() <= 20
            && let Some(n) = crate::util::num::parse_i64(s)
        {
            return self.push_int(n);
        }
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.push(0xE0 | (len >> 8) as u8);
            self.buf.push(len as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends an integer in the smallest encoding.
    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&n) {
            self.buf.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let u = (n as u64) & 0x1FFF;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if i16::try_from(n).is_ok() {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&(n as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if i32::try_from(n).is_ok() {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&(n as i32).to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&n.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// Appends the back-length of the entry that started at `start`.
    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        // Most significant 7-bit group first; every byte but the last
        // (leftmost when read backwards) has the high bit set.
        let mut groups = Vec::with_capacity(5);
        let mut v = l;
        loop {
            groups.push((v & 0x7F) as u8);
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            self.buf.push(if i == 0 { *g } else { *g | 0x80 });
        }
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = if self.count < 0xFFFF {
            self.count as u16
        } else {
            0xFFFF
        };
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip() {
        let items: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-8388609".to_vec(),
            b"2147483647".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 300_000],
        ];
        let mut b = ListpackBuilder::new();
        for i in &items {
            b.push(i);
        }
        let lp = b.finish();
        let got: Vec<Vec<u8>> = listpack(&lp)
            .unwrap()
            .into_iter()
            .map(Elem::to_bytes)
            .collect();
        assert_eq!(got, items);
    }

    #[test]
    fn intset_round_trip() {
        for v in [vec![1, 2, 3], vec![-40000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(intset(&encode_intset(&v)).unwrap(), v);
        }
    }
}

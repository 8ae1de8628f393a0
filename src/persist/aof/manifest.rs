//! The manifest of Redis 7's multi-part AOF: which base file, which
//! incremental files (in load order) and which history files (waiting to be
//! deleted) make up the append-only file. One line per file, exactly as
//! Redis writes it: `file appendonly.aof.1.base.rdb seq 1 type b`, with
//! the base first, then history (`h`), then increments (`i`).

/// The role of a file in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileType,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    /// Highest sequence numbers used so far (new files take the next one).
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Suffixes Redis uses for the three kinds of file.
pub const BASE_RDB: &str = ".base.rdb";
pub const BASE_AOF: &str = ".base.aof";
pub const INCR: &str = ".incr.aof";
pub const MANIFEST: &str = ".manifest";
/// Prefix of temporary files in the AOF directory.
pub const TEMP: &str = "temp-";

/// Writes a file name the way Redis does (`sdscatrepr` when it holds
/// spaces, quotes or unprintable bytes).
fn quote(name: &str) -> String {
    if name
        .bytes()
        .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\')
    {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

impl Manifest {
    /// The manifest's text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in all {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// Parses a manifest; the error is Redis's reason text.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let text = String::from_utf8_lossy(text);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = crate::util::args::split_args(line.as_bytes())
                .ok_or_else(|| "Invalid AOF manifest file format".to_string())?;
            if words.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                let v = String::from_utf8_lossy(&kv[1]).into_owned();
                match kv[0].as_slice() {
                    b"file" => name = Some(v),
                    b"seq" => seq = v.parse::<u64>().ok(),
                    b"type" => {
                        kind = match v.as_str() {
                            "b" => Some(FileType::Base),
                            "h" => Some(FileType::History),
                            "i" => Some(FileType::Incr),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("File can't be a path, just a filename".into());
            }
            let f = AofFile { name, seq, kind };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                FileType::History => m.history.push(f),
                FileType::Incr => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = seq;
                    m.incrs.push(f);
                }
            }
        }
        Ok(m)
    }

    /// A new base file name (next sequence), RDB or RESP.
    pub fn next_base(&self, prefix: &str, rdb: bool) -> AofFile {
        let seq = self.base_seq + 1;
        AofFile {
            name: format!("{prefix}.{seq}{}", if rdb { BASE_RDB } else { BASE_AOF }),
            seq,
            kind: FileType::Base,
        }
    }

    /// A new incremental file name (next sequence).
    pub fn next_incr(&self, prefix: &str) -> AofFile {
        let seq = self.incr_seq + 1;
        AofFile {
            name: format!("{prefix}.{seq}{INCR}"),
            seq,
            kind: FileType::Incr,
        }
    }

    /// Appends a new incremental file (after a rotation).
    pub fn add_incr(&mut self, f: AofFile) {
        self.incr_seq = self.incr_seq.max(f.seq);
        self.incrs.push(f);
    }

    /// Installs `base` as the base and keeps only the increments from
    /// `keep_from` on: the old base and older increments become history.
    pub fn switch_base(&mut self, base: AofFile, keep_from: u64) {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.push(old);
        }
        self.base_seq = self.base_seq.max(base.seq);
        self.base = Some(base);
        let (keep, old): (Vec<_>, Vec<_>) = self.incrs.drain(..).partition(|f| f.seq >= keep_from);
        for mut f in old {
            f.kind = FileType::History;
            self.history.push(f);
        }
        self.incrs = keep;
    }

    /// Base and increments, in load order.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_redis_lines() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.to_text(), text);
        assert_eq!(
            m.next_incr("appendonly.aof").name,
            "appendonly.aof.4.incr.aof"
        );
        assert_eq!(
            m.next_base("appendonly.aof", false).name,
            "appendonly.aof.3.base.aof"
        );
    }

    #[test]
    fn switching_the_base_moves_old_files_to_history() {
        let mut m = Manifest::default();
        let b = m.next_base("a", true);
        m.switch_base(b, 0);
        let i = m.next_incr("a");
        m.add_incr(i);
        let i2 = m.next_incr("a");
        m.add_incr(i2.clone());
        let b2 = m.next_base("a", true);
        m.switch_base(b2, i2.seq);
        assert_eq!(
            m.to_text(),
            "file a.2.base.rdb seq 2 type b\nfile a.1.base.rdb seq 1 type h\nfile a.1.incr.aof seq 1 type h\nfile a.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(Manifest::parse(b"file a seq x type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 1\n").is_err());
        assert!(Manifest::parse(b"file a/b seq 1 type b\n").is_err());
        assert!(Manifest::parse(b"# comment\n\n").unwrap().base.is_none());
    }
}

//! The head of a stored advisory: what an import compares and a change
//! notification needs without decoding the advisory itself (generation,
//! content hash, flags, `modified`, aliases), with its hand-written byte
//! encoding.
//!
//! Layout, version 1 (integers big-endian):
//!
//! ```text
//! 0x01 | generation u64 | SHA-256 of the record's JSON (32 bytes) | flags u8
//!      | modified: len u16, UTF-8 | alias count u16, then each: len u16, UTF-8
//! ```
//!
//! flags: bit 0 withdrawn, bit 1 a published CVSS score disagrees with its
//! vector. Deliberately absent: anything derived from the advisory that is
//! not needed to decide "unchanged" or to answer `ids_changed_since`.

/// The content hash of a stored record: SHA-256 of its JSON bytes.
pub(crate) type ContentHash = [u8; 32];

const VERSION: u8 = 1;
const FLAG_WITHDRAWN: u8 = 1;
const FLAG_SCORE_MISMATCH: u8 = 2;

/// The head of one stored advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The import generation that last changed it.
    pub(crate) generation: u64,
    /// SHA-256 of its stored JSON.
    pub(crate) hash: ContentHash,
    /// Whether it is withdrawn (rejected).
    pub(crate) withdrawn: bool,
    /// Whether a published score disagrees with its vector.
    pub(crate) score_mismatch: bool,
    /// Its `modified` timestamp as published, empty when absent.
    pub(crate) modified: String,
    /// Its aliases.
    pub(crate) aliases: Vec<String>,
}

impl Head {
    /// The bytes stored in the `heads` partition. Strings longer than
    /// `u16::MAX` bytes cannot occur (ids are at most 256 bytes and
    /// timestamps are short, checked by `vuln-formats`); they are cut rather
    /// than making the encoder fallible.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.modified.len());
        out.push(VERSION);
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&self.hash);
        let mut flags = 0;
        if self.withdrawn {
            flags |= FLAG_WITHDRAWN;
        }
        if self.score_mismatch {
            flags |= FLAG_SCORE_MISMATCH;
        }
        out.push(flags);
        put_str(&mut out, &self.modified);
        let count = u16::try_from(self.aliases.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for a in self.aliases.iter().take(usize::from(count)) {
            put_str(&mut out, a);
        }
        out
    }

    /// Decodes [`Head::encode`]'s bytes; the error says what is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Head, String> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(format!("head version {version}, expected {VERSION}"));
        }
        let generation = u64::from_be_bytes(r.array()?);
        let hash = r.array()?;
        let flags = r.u8()?;
        let modified = r.string()?;
        let count = u16::from_be_bytes(r.array()?);
        let mut aliases = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            aliases.push(r.string()?);
        }
        if !r.0.is_empty() {
            return Err(format!("{} trailing bytes in head", r.0.len()));
        }
        Ok(Head {
            generation,
            hash,
            withdrawn: flags & FLAG_WITHDRAWN != 0,
            score_mismatch: flags & FLAG_SCORE_MISMATCH != 0,
            modified,
            aliases,
        })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = s.as_bytes().get(..end).unwrap_or_default();
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "head truncated: {n} bytes wanted, {} left",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let b = self.take(N)?;
        <[u8; N]>::try_from(b).map_err(|e| e.to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        let len = u16::from_be_bytes(self.array()?);
        let b = self.take(usize::from(len))?;
        String::from_utf8(b.to_vec()).map_err(|e| format!("head string: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_round_trips_and_truncation_is_refused() {
        let h = Head {
            generation: 7,
            hash: [3; 32],
            withdrawn: true,
            score_mismatch: false,
            modified: "2024-05-01T00:00:00Z".into(),
            aliases: vec!["GHSA-xxxx".into(), "CVE-2024-1".into()],
        };
        let bytes = h.encode();
        assert_eq!(Head::decode(&bytes), Ok(h));
        for cut in 0..bytes.len() {
            assert!(
                Head::decode(bytes.get(..cut).unwrap_or_default()).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Head::decode(&longer).is_err());
    }
}

//! The sequencing journal: the durability point of the log.
//!
//! An append-only sequence of segment files, `journal/<first index, 20 digits>.wal`,
//! each a sequence of batch records (one record per group commit):
//!
//! ```text
//! offset size  field
//! 0      4     magic "STJ1"
//! 4      4     crc32c over bytes 8.. of the header and the whole payload (big-endian)
//! 8      8     first_index (big-endian)
//! 16     4     count: number of entries (big-endian)
//! 20     4     payload_len in bytes (big-endian)
//! 24     ..    payload: count × (u16 big-endian length || entry bytes), as in C2SP entry bundles
//! ```
//!
//! A record is acknowledged only after `fdatasync`. On open, a record that does
//! not verify at the tail of the last segment is a torn write of an
//! unacknowledged batch: the file is truncated there (and synced) before any new
//! append. A bad record anywhere else is corruption and stops the store.
//!
//! The journal does not know about tiles, hashes or checkpoints.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// A callback receiving raw (index, entry) pairs while scanning segments.
type RawVisitor<'a> = dyn FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a;

/// A segment is closed and a new one started once it exceeds this size.
/// Big enough that segment turnover (a directory fsync) is rare, small enough
/// that released space comes back in reasonable steps.
pub const JOURNAL_SEGMENT_BYTES_MAX: u64 = 256 * 1024 * 1024;

const MAGIC: &[u8; 4] = b"STJ1";
const HEADER_BYTES: usize = 24;
/// A batch never exceeds this many payload bytes; guards the reader against a
/// corrupt length field allocating unbounded memory.
const RECORD_PAYLOAD_BYTES_MAX: usize = 512 * 1024 * 1024;

/// Segment bookkeeping: first index of each segment, in order.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// (first index, path) of every segment, ascending.
    segments: Vec<(u64, PathBuf)>,
    active: Option<File>,
    active_bytes: u64,
    /// Index of the next entry to append.
    next_index: u64,
    /// A segment was created or removed and the directory not yet fsynced
    /// (the fsync failed, e.g. with EMFILE): done before the next append or
    /// release, so that a retried call never skips it.
    dir_sync_pending: bool,
    /// An append failed after it may have written part of its record:
    /// [`Journal::repair`] runs before the next append.
    broken: bool,
}

impl Journal {
    /// Opens the journal, truncating a torn tail. `floor` is the index below
    /// which entries are known to live elsewhere (the synced size): an empty
    /// journal starts there.
    pub(crate) fn open(dir: &Path, floor: u64) -> Result<Journal, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io("create journal dir", e))?;
        let mut segments = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| StoreError::io("list journal", e))? {
            let item = item.map_err(|e| StoreError::io("list journal", e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".wal") else {
                continue;
            };
            let first: u64 = stem
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("journal segment name {name}")))?;
            segments.push((first, item.path()));
        }
        segments.sort();
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            segments,
            active: None,
            active_bytes: 0,
            next_index: floor,
            dir_sync_pending: false,
            broken: false,
        };
        journal.scan_and_repair(floor)?;
        Ok(journal)
    }

    /// Index of the next entry to append: the durable size.
    pub(crate) fn next_index(&self) -> u64 {
        self.next_index
    }

    fn scan_and_repair(&mut self, floor: u64) -> Result<(), StoreError> {
        let count = self.segments.len();
        let mut expected: Option<u64> = None;
        for (position, (first, path)) in self.segments.clone().into_iter().enumerate() {
            let is_last = position + 1 == count;
            if let Some(e) = expected {
                if e != first {
                    return Err(StoreError::Corrupt(format!(
                        "journal segment {} starts at {first}, expected {e}",
                        path.display()
                    )));
                }
            }
            let mut next = first;
            let valid_bytes = scan_segment(&path, first, &mut |_, _| Ok(()), &mut next)?;
            let file_len = fs::metadata(&path)
                .map_err(|e| StoreError::io("stat journal segment", e))?
                .len();
            if valid_bytes != file_len {
                if !is_last {
                    return Err(StoreError::Corrupt(format!(
                        "journal segment {} has a bad record at byte {valid_bytes} and is not the last one",
                        path.display()
                    )));
                }
                // Torn tail of an unacknowledged batch: cut it off durably.
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::io("open journal for repair", e))?;
                f.set_len(valid_bytes)
                    .map_err(|e| StoreError::io("truncate torn journal tail", e))?;
                f.sync_all()
                    .map_err(|e| StoreError::io("sync journal repair", e))?;
            }
            expected = Some(next);
            if is_last {
                self.active_bytes = valid_bytes;
            }
        }
        if let Some(next) = expected {
            if next < floor {
                return Err(StoreError::Corrupt(format!(
                    "journal ends at {next}, below the synced size {floor}"
                )));
            }
            self.next_index = next;
        }
        if let Some((first, _)) = self.segments.first() {
            if *first > floor {
                return Err(StoreError::Corrupt(format!(
                    "journal starts at {first}, above the synced size {floor}: entries are missing"
                )));
            }
        }
        Ok(())
    }

    /// Appends one batch durably (write + fdatasync).
    pub(crate) fn append(&mut self, start: u64, entries: &[&[u8]]) -> Result<(), StoreError> {
        if start != self.next_index {
            return Err(StoreError::Contract(format!(
                "append at {start}, but the journal ends at {}",
                self.next_index
            )));
        }
        if entries.is_empty() {
            return Ok(());
        }
        self.repair()?;
        if self.active.is_none() || self.active_bytes >= JOURNAL_SEGMENT_BYTES_MAX {
            self.start_segment(start)?;
        }
        self.sync_dir_if_pending()?;
        let record = encode_record(start, entries)?;
        let Some(file) = self.active.as_mut() else {
            return Err(StoreError::Contract("no active journal segment".into()));
        };
        let written = file
            .write_all(&record)
            .map_err(|e| StoreError::io("write journal", e))
            .and_then(|()| {
                file.sync_data()
                    .map_err(|e| StoreError::io("fdatasync journal", e))
            });
        if let Err(e) = written {
            // Part of the record may be in the file (or only in the page
            // cache, after a failed fdatasync): it was not acknowledged.
            self.broken = true;
            return Err(e);
        }
        self.active_bytes += record.len() as u64;
        self.next_index = start + entries.len() as u64;
        Ok(())
    }

    /// After a failed append: cuts the active segment back to the end of the
    /// last record whose `fdatasync` succeeded, syncs that, and lets the next
    /// append reopen the segment. What a failed write or sync left past that
    /// point was never acknowledged, and after a failed sync it may be in the
    /// page cache only, so it is not kept (a later scan would otherwise take
    /// it for durable). A no-op unless an append failed.
    pub(crate) fn repair(&mut self) -> Result<(), StoreError> {
        if !self.broken {
            return Ok(());
        }
        self.active = None;
        if let Some((_, path)) = self.segments.last() {
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| StoreError::io("open journal for repair", e))?;
            f.set_len(self.active_bytes)
                .map_err(|e| StoreError::io("truncate failed journal append", e))?;
            f.sync_all()
                .map_err(|e| StoreError::io("sync journal repair", e))?;
        }
        self.broken = false;
        tracing::info!(
            next_index = self.next_index,
            "journal repaired after a failed append"
        );
        Ok(())
    }

    fn start_segment(&mut self, first: u64) -> Result<(), StoreError> {
        // Reuse the last segment if it is the one we would write to and still small.
        if self.active.is_none() {
            if let Some((_, path)) = self.segments.last() {
                if self.active_bytes < JOURNAL_SEGMENT_BYTES_MAX {
                    let f = OpenOptions::new()
                        .append(true)
                        .open(path)
                        .map_err(|e| StoreError::io("open journal segment", e))?;
                    self.active = Some(f);
                    return Ok(());
                }
            }
        }
        let path = self.dir.join(format!("{first:020}.wal"));
        let f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io("create journal segment", e))?;
        // The segment is adopted before its directory entry is made durable,
        // so a failed directory fsync is redone by the next append rather
        // than leaving a created file that `create_new` would refuse.
        self.segments.push((first, path));
        self.active = Some(f);
        self.active_bytes = 0;
        self.dir_sync_pending = true;
        self.sync_dir_if_pending()
    }

    fn sync_dir_if_pending(&mut self) -> Result<(), StoreError> {
        if self.dir_sync_pending {
            sync_dir(&self.dir)?;
            self.dir_sync_pending = false;
        }
        Ok(())
    }

    /// Streams entries with index >= `from` to `f`.
    pub(crate) fn replay(&self, from: u64, f: &mut RawVisitor<'_>) -> Result<(), StoreError> {
        for (position, (first, path)) in self.segments.iter().enumerate() {
            let next_first = self.segments.get(position + 1).map(|(n, _)| *n);
            if next_first.is_some_and(|n| n <= from) {
                continue;
            }
            let mut next = *first;
            scan_segment(
                path,
                *first,
                &mut |index, entry| {
                    if index >= from && index < self.next_index {
                        f(index, entry)
                    } else {
                        Ok(())
                    }
                },
                &mut next,
            )?;
        }
        Ok(())
    }

    /// Deletes segments whose entries are all below `size`.
    pub(crate) fn release_below(&mut self, size: u64) -> Result<(), StoreError> {
        while self.segments.len() > 1 {
            let Some((next_first, _)) = self.segments.get(1) else {
                break;
            };
            if *next_first > size {
                break;
            }
            let (_, path) = self.segments.remove(0);
            self.dir_sync_pending = true;
            fs::remove_file(&path).map_err(|e| StoreError::io("remove journal segment", e))?;
        }
        self.sync_dir_if_pending()
    }
}

fn encode_record(start: u64, entries: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
    let payload_len: usize = entries.iter().map(|e| 2 + e.len()).sum();
    if payload_len > RECORD_PAYLOAD_BYTES_MAX {
        return Err(StoreError::Contract(format!(
            "batch of {payload_len} bytes exceeds {RECORD_PAYLOAD_BYTES_MAX}"
        )));
    }
    let mut record = Vec::with_capacity(HEADER_BYTES + payload_len);
    record.extend_from_slice(MAGIC);
    record.extend_from_slice(&[0; 4]); // crc, filled below
    record.extend_from_slice(&start.to_be_bytes());
    record.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    record.extend_from_slice(&(payload_len as u32).to_be_bytes());
    for entry in entries {
        let len = u16::try_from(entry.len()).map_err(|_| {
            StoreError::Contract(format!("entry of {} bytes exceeds 65535", entry.len()))
        })?;
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(entry);
    }
    let crc = crc32c::crc32c(record.get(8..).unwrap_or_default());
    if let Some(slot) = record.get_mut(4..8) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(record)
}

/// Reads records of one segment, calling `f` for every entry; returns the
/// number of bytes that form valid records. `next` ends as the index after the
/// last valid record.
fn scan_segment(
    path: &Path,
    first: u64,
    f: &mut RawVisitor<'_>,
    next: &mut u64,
) -> Result<u64, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io("open journal segment", e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut valid: u64 = 0;
    *next = first;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; HEADER_BYTES];
        match read_full(&mut reader, &mut header)? {
            0 => return Ok(valid),
            n if n < HEADER_BYTES => return Ok(valid),
            _ => {}
        }
        let (magic, rest) = header.split_at(4);
        let (crc_bytes, fields) = rest.split_at(4);
        let be_u32 = |b: &[u8]| -> u32 {
            let mut a = [0u8; 4];
            a.copy_from_slice(b);
            u32::from_be_bytes(a)
        };
        let mut first_bytes = [0u8; 8];
        first_bytes.copy_from_slice(&fields[..8]);
        let record_first = u64::from_be_bytes(first_bytes);
        let count = be_u32(&fields[8..12]) as usize;
        let payload_len = be_u32(&fields[12..16]) as usize;
        if magic != MAGIC || payload_len > RECORD_PAYLOAD_BYTES_MAX || record_first != *next {
            return Ok(valid);
        }
        payload.resize(payload_len, 0);
        if read_full(&mut reader, &mut payload)? < payload_len {
            return Ok(valid);
        }
        let mut digest = crc32c::crc32c(fields);
        digest = crc32c::crc32c_append(digest, &payload);
        if digest != be_u32(crc_bytes) {
            return Ok(valid);
        }
        // The record is intact: decode its entries.
        let mut offset = 0usize;
        for i in 0..count {
            let Some(len_bytes) = payload.get(offset..offset + 2) else {
                return Err(StoreError::Corrupt(
                    "journal record shorter than its count".into(),
                ));
            };
            let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
            let Some(entry) = payload.get(offset + 2..offset + 2 + len) else {
                return Err(StoreError::Corrupt(
                    "journal entry overruns its record".into(),
                ));
            };
            f(record_first + i as u64, entry)?;
            offset += 2 + len;
        }
        if offset != payload_len {
            return Err(StoreError::Corrupt(
                "journal record has trailing bytes".into(),
            ));
        }
        valid += (HEADER_BYTES + payload_len) as u64;
        *next = record_first + count as u64;
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, StoreError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io("read journal", e)),
        }
    }
    Ok(filled)
}

/// fsyncs a directory so that creations and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync directory {}", dir.display()), e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn collect(j: &Journal, from: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        j.replay(from, &mut |i, e| {
            out.push((i, e.to_vec()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn appends_survive_reopen_and_replay_from_any_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        j.append(0, &[b"a", b"bb"]).unwrap();
        j.append(2, &[b"", b"dddd"]).unwrap();
        drop(j);
        let j = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(j.next_index(), 4);
        let all = collect(&j, 0);
        assert_eq!(all.len(), 4);
        assert_eq!(all[3], (3, b"dddd".to_vec()));
        assert_eq!(collect(&j, 3).len(), 1);
    }

    #[test]
    fn torn_tail_is_truncated_and_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        j.append(0, &[b"kept"]).unwrap();
        j.append(1, &[b"torn-away"]).unwrap();
        let path = j.segments[0].1.clone();
        drop(j);
        let len = fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        drop(f);
        let mut j = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(j.next_index(), 1);
        assert_eq!(collect(&j, 0), vec![(0, b"kept".to_vec())]);
        // Appending after the repair continues cleanly.
        j.append(1, &[b"again"]).unwrap();
        drop(j);
        let j = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(collect(&j, 0).len(), 2);
    }

    #[test]
    fn an_append_after_a_failed_one_cuts_what_the_failure_left() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        j.append(0, &[b"acknowledged"]).unwrap();
        let path = j.segments[0].1.clone();
        // What a write that ran out of space leaves: part of a record.
        let partial = encode_record(1, &[b"never acknowledged"]).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&partial[..partial.len() / 2]).unwrap();
        drop(f);
        j.broken = true;
        // The retry goes after the last acknowledged record, not after the
        // fragment (where a scan would never find it).
        j.append(1, &[b"next"]).unwrap();
        drop(j);
        let j = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(
            collect(&j, 0),
            vec![(0, b"acknowledged".to_vec()), (1, b"next".to_vec())]
        );
    }

    #[test]
    fn flipped_bit_in_last_record_is_treated_as_torn() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        j.append(0, &[b"one"]).unwrap();
        j.append(1, &[b"two"]).unwrap();
        let path = j.segments[0].1.clone();
        drop(j);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let j = Journal::open(dir.path(), 0).unwrap();
        assert_eq!(j.next_index(), 1);
    }

    #[test]
    fn append_at_wrong_index_is_a_contract_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        let err = j.append(5, &[b"x"]).unwrap_err();
        assert!(matches!(err, StoreError::Contract(_)), "{err}");
    }

    #[test]
    fn released_segments_are_gone_but_the_tail_remains() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 0).unwrap();
        j.append(0, &[b"a"]).unwrap();
        // Force a second segment.
        j.active_bytes = JOURNAL_SEGMENT_BYTES_MAX;
        j.append(1, &[b"b"]).unwrap();
        assert_eq!(j.segments.len(), 2);
        j.release_below(1).unwrap();
        assert_eq!(j.segments.len(), 1);
        drop(j);
        let j = Journal::open(dir.path(), 1).unwrap();
        assert_eq!(j.next_index(), 2);
        assert_eq!(collect(&j, 1), vec![(1, b"b".to_vec())]);
    }
}

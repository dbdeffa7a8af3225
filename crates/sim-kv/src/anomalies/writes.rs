//! The finished writes the anomaly analyses look a read's values up in, kept in memory that does
//! not grow with the run: [`WriteLog`].
//!
//! A read may return a value written at any time before it (a replica cut off for an hour still
//! holds its old values), so no write can be forgotten: whether it was acknowledged, and when,
//! decides whether a read returning it was stale, and every acknowledged write counts when lost
//! writes are judged at the end. What is forgotten is where the write is kept. Each session's
//! writes of values its client numbered (`c3-17`: [`ValueRef::Numbered`]) are kept in sequence
//! order; the newest `2 * block` stay in memory, and older ones go, `block` at a time, to an
//! anonymous temporary file (`tempfile::tempfile`, deleted by the system when the log is
//! dropped), with only each block's sequence range and offset left in memory (36 bytes per
//! write on disk, about 0.03 bytes in memory). A lookup of an old value reads its block back.
//! Values not numbered that way (another tool's history) are kept in memory.
//!
//! If the temporary file cannot be made or written, the log keeps everything in memory: it
//! never loses a write. A spilled block that cannot be read back is an error the analyses report.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

/// The writes a block spilled to disk holds; twice that many per session stay in memory.
pub const BLOCK_WRITES: usize = 1024;

/// One written value, as reads name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueRef {
    /// `c{session}-{seq}`, written exactly so (the kv clients' unique values).
    Numbered { session: u64, seq: u64 },
    /// A string in any other form.
    Text(String),
    /// A value that is not a string, as JSON text (so the string `"5"` and the number 5 differ).
    Json(String),
}

impl ValueRef {
    /// The reference of the string `value`.
    pub fn of_str(value: &str) -> ValueRef {
        let numbered = value.strip_prefix('c').and_then(|rest| {
            let (session, seq) = rest.split_once('-')?;
            let (session, seq) = (session.parse().ok()?, seq.parse().ok()?);
            // Only the exact spelling: `c03-1` is some other string.
            (format!("c{session}-{seq}") == value).then_some(ValueRef::Numbered { session, seq })
        });
        numbered.unwrap_or_else(|| ValueRef::Text(value.to_string()))
    }

    /// The value as a message shows it.
    pub fn render(&self) -> String {
        match self {
            ValueRef::Numbered { session, seq } => format!("c{session}-{seq}"),
            ValueRef::Text(text) | ValueRef::Json(text) => text.clone(),
        }
    }
}

/// A finished write (acknowledged or not; a failed write is not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRec {
    /// The key, as the tracker numbers keys.
    pub key: u32,
    /// The writing session.
    pub session: u64,
    pub invoked_ns: u64,
    /// `None`: never acknowledged (the client gave up on it).
    pub completed_ns: Option<u64>,
}

/// What a spilled write takes on disk: sequence, key, session, invoked, completed.
const RECORD_BYTES: usize = 8 + 4 + 8 + 8 + 8;
/// `completed_ns` of a write never acknowledged, on disk.
const NOT_ACKNOWLEDGED: u64 = u64::MAX;

/// The finished writes; see the module docs.
#[derive(Debug)]
pub struct WriteLog {
    /// Numbered values' writes, by the session in the value.
    numbered: BTreeMap<u64, Table>,
    /// Every other value's write, by key and value. A numbered value whose sequence does not
    /// follow its session's last one also lands here.
    other: BTreeMap<(u32, ValueRef), WriteRec>,
    spill: Spill,
    block: usize,
}

/// One session's numbered writes, in sequence order: spilled blocks, then the newest in memory.
#[derive(Debug, Default)]
struct Table {
    spilled: Vec<Block>,
    tail: Vec<(u64, WriteRec)>,
}

/// A block of a table written to the temporary file.
#[derive(Debug)]
struct Block {
    first_seq: u64,
    last_seq: u64,
    offset: u64,
    writes: usize,
}

/// The temporary file spilled blocks go to.
#[derive(Debug, Default)]
struct Spill {
    /// Made on the first spill.
    file: Option<File>,
    len: u64,
    /// The file could not be made or written: newer writes stay in memory.
    off: bool,
}

impl Default for WriteLog {
    fn default() -> Self {
        WriteLog::with_block(BLOCK_WRITES)
    }
}

impl WriteLog {
    /// A log that spills `block` writes at a time (tests use tiny blocks).
    pub fn with_block(block: usize) -> Self {
        WriteLog {
            numbered: BTreeMap::new(),
            other: BTreeMap::new(),
            spill: Spill::default(),
            block: block.max(1),
        }
    }

    /// Keeps a finished write of `value`. A value written twice names its later write.
    pub fn insert(&mut self, value: ValueRef, write: WriteRec) {
        if let ValueRef::Numbered { session, seq } = value {
            let table = self.numbered.entry(session).or_default();
            let follows = match table.tail.last() {
                Some((last, _)) => seq > *last,
                None => table.spilled.last().is_none_or(|b| seq > b.last_seq),
            };
            if follows {
                self.other.remove(&(write.key, value));
                table.tail.push((seq, write));
                if table.tail.len() >= 2 * self.block {
                    self.spill_oldest(session);
                }
                return;
            }
        }
        self.other.insert((write.key, value), write);
    }

    /// The write of `value` to `key`, if one finished.
    pub fn get(&self, key: u32, value: &ValueRef) -> Result<Option<WriteRec>, String> {
        if let Some(write) = self.other.get(&(key, value.clone())) {
            return Ok(Some(*write));
        }
        let ValueRef::Numbered { session, seq } = *value else {
            return Ok(None);
        };
        let Some(table) = self.numbered.get(&session) else {
            return Ok(None);
        };
        let found = if table.tail.first().is_some_and(|(first, _)| seq >= *first) {
            find(&table.tail, seq)
        } else {
            let at = table.spilled.partition_point(|b| b.last_seq < seq);
            match table.spilled.get(at).filter(|b| b.first_seq <= seq) {
                Some(block) => find(&self.read_block(block)?, seq),
                None => None,
            }
        };
        Ok(found.filter(|w| w.key == key))
    }

    /// Every finished write with its value: each session's in sequence order, then the others.
    pub fn for_each(&self, mut visit: impl FnMut(&ValueRef, &WriteRec)) -> Result<(), String> {
        for (&session, table) in &self.numbered {
            for block in &table.spilled {
                for (seq, write) in self.read_block(block)? {
                    visit(&ValueRef::Numbered { session, seq }, &write);
                }
            }
            for (seq, write) in &table.tail {
                visit(&ValueRef::Numbered { session, seq: *seq }, write);
            }
        }
        for ((_, value), write) in &self.other {
            visit(value, write);
        }
        Ok(())
    }

    /// Writes kept in memory and spilled, for the memory figures of tests.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let in_memory =
            self.other.len() + self.numbered.values().map(|t| t.tail.len()).sum::<usize>();
        let spilled = self
            .numbered
            .values()
            .flat_map(|t| &t.spilled)
            .map(|b| b.writes)
            .sum();
        (in_memory, spilled)
    }

    /// Moves the oldest `block` writes of `session`'s table to the temporary file, unless
    /// spilling is off (then they stay).
    fn spill_oldest(&mut self, session: u64) {
        let Some(table) = self.numbered.get_mut(&session) else {
            return;
        };
        let writes = &table.tail[..self.block];
        let mut bytes = Vec::with_capacity(writes.len() * RECORD_BYTES);
        for (seq, write) in writes {
            bytes.extend_from_slice(&seq.to_le_bytes());
            bytes.extend_from_slice(&write.key.to_le_bytes());
            bytes.extend_from_slice(&write.session.to_le_bytes());
            bytes.extend_from_slice(&write.invoked_ns.to_le_bytes());
            let completed = write.completed_ns.unwrap_or(NOT_ACKNOWLEDGED);
            bytes.extend_from_slice(&completed.to_le_bytes());
        }
        let Some(offset) = self.spill.append(&bytes) else {
            return;
        };
        table.spilled.push(Block {
            first_seq: writes[0].0,
            last_seq: writes[writes.len() - 1].0,
            offset,
            writes: writes.len(),
        });
        table.tail.drain(..self.block);
    }

    /// A spilled block's writes.
    fn read_block(&self, block: &Block) -> Result<Vec<(u64, WriteRec)>, String> {
        let Some(file) = &self.spill.file else {
            return Err("a spilled block of writes has no file".to_string());
        };
        let mut bytes = vec![0u8; block.writes * RECORD_BYTES];
        let mut reader = file;
        reader
            .seek(SeekFrom::Start(block.offset))
            .and_then(|_| reader.read_exact(&mut bytes))
            .map_err(|e| format!("reading back the writes spilled to a temporary file: {e}"))?;
        let u64_at = |chunk: &[u8], at: usize| {
            u64::from_le_bytes(chunk[at..at + 8].try_into().expect("eight bytes"))
        };
        Ok(bytes
            .chunks_exact(RECORD_BYTES)
            .map(|chunk| {
                let key = u32::from_le_bytes(chunk[8..12].try_into().expect("four bytes"));
                let completed = u64_at(chunk, 28);
                let write = WriteRec {
                    key,
                    session: u64_at(chunk, 12),
                    invoked_ns: u64_at(chunk, 20),
                    completed_ns: (completed != NOT_ACKNOWLEDGED).then_some(completed),
                };
                (u64_at(chunk, 0), write)
            })
            .collect())
    }
}

impl Spill {
    /// Appends `bytes` to the file (made on first use) and returns where they start; `None`
    /// when spilling is or just turned off.
    fn append(&mut self, bytes: &[u8]) -> Option<u64> {
        if self.off {
            return None;
        }
        if self.file.is_none() {
            self.file = tempfile::tempfile().ok();
            self.off = self.file.is_none();
        }
        let mut writer = self.file.as_ref()?;
        let written = writer
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| writer.write_all(bytes));
        if written.is_err() {
            // Blocks already spilled stay readable; newer writes stay in memory.
            self.off = true;
            return None;
        }
        let offset = self.len;
        self.len += bytes.len() as u64;
        Some(offset)
    }
}

/// The write of sequence `seq` in `writes` (sorted by sequence).
fn find(writes: &[(u64, WriteRec)], seq: u64) -> Option<WriteRec> {
    writes
        .binary_search_by_key(&seq, |(s, _)| *s)
        .ok()
        .map(|at| writes[at].1)
}

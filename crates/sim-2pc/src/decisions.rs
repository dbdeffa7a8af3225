//! [`Decisions`]: the decisions a participant knows, compactly: two bits per transaction.
//!
//! A participant must answer "what was decided?" about any transaction it ever voted on or
//! learned, however late the question comes (a prepare delayed in the network, a peer in doubt
//! after a long partition), and must never vote yes on a transaction it told a peer to abort.
//! Transaction ids are dense per coordinator incarnation (`seq` counts up from 1), so the
//! decisions are kept as a table of two-bit entries per incarnation, indexed by `seq`: a
//! quarter of a byte per transaction rather than a map entry, with the same answers.
//!
//! On disk the same table is cut into chunks of [`CHUNK`] entries, one record per chunk under
//! `d/<coordinator>.<epoch>/<chunk>` ([`log`]). Each write puts the chunk as it currently reads
//! (unsynced writes included) with one entry changed, so after a crash the chunk holds exactly
//! the entries written before the last sync: the crash semantics of one record per decision.

use std::collections::BTreeMap;

use sim_core::{NodeId, Storage};

use crate::types::{Durable, Outcome, TxnId};

/// Entries per chunk on disk (a chunk is `CHUNK / 4` bytes).
pub const CHUNK: u64 = 4096;

fn code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Commit => 1,
        Outcome::Abort => 2,
    }
}

fn outcome(code: u8) -> Option<Outcome> {
    match code {
        1 => Some(Outcome::Commit),
        2 => Some(Outcome::Abort),
        _ => None,
    }
}

fn read(bits: &[u8], index: u64) -> Option<Outcome> {
    let byte = bits.get((index / 4) as usize)?;
    outcome((byte >> ((index % 4) * 2)) & 3)
}

fn write(bits: &mut Vec<u8>, index: u64, o: Outcome) {
    let at = (index / 4) as usize;
    if bits.len() <= at {
        bits.resize(at + 1, 0);
    }
    let shift = (index % 4) * 2;
    bits[at] = (bits[at] & !(3 << shift)) | (code(o) << shift);
}

/// The decisions known, by transaction: a map from [`TxnId`] to [`Outcome`] in two bits each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    tables: BTreeMap<(NodeId, u64), Vec<u8>>,
    len: usize,
}

impl Decisions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, txn: TxnId) -> Option<Outcome> {
        read(self.tables.get(&(txn.coordinator, txn.epoch))?, txn.seq)
    }

    /// Records (or replaces) the decision of `txn`.
    pub fn insert(&mut self, txn: TxnId, o: Outcome) {
        if self.get(txn).is_none() {
            self.len += 1;
        }
        let bits = self.tables.entry((txn.coordinator, txn.epoch)).or_default();
        write(bits, txn.seq, o);
    }

    /// Transactions with a decision.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the tables take (their entries, not the map's own nodes).
    pub fn bytes(&self) -> usize {
        self.tables.values().map(Vec::len).sum()
    }

    /// Reads every chunk [`log`] wrote to `storage`.
    pub fn load(storage: &Storage<Durable>) -> Self {
        let mut decisions = Decisions::new();
        for (_, record) in storage.range_prefix("d/") {
            let Durable::Decisions {
                coordinator,
                epoch,
                chunk,
                bits,
            } = record
            else {
                continue;
            };
            for i in 0..bits.len() as u64 * 4 {
                if let Some(o) = read(&bits, i) {
                    let seq = chunk * CHUNK + i;
                    decisions.insert(
                        TxnId {
                            coordinator,
                            epoch,
                            seq,
                        },
                        o,
                    );
                }
            }
        }
        decisions
    }
}

/// The disk key of the chunk holding `txn`'s entry.
fn key(txn: TxnId) -> String {
    format!("d/{}.{}/{}", txn.coordinator, txn.epoch, txn.seq / CHUNK)
}

/// Writes `txn`'s decision to disk (unsynced, as any write).
pub fn log(storage: &mut Storage<Durable>, txn: TxnId, o: Outcome) {
    let key = key(txn);
    let mut bits = match storage.get(&key) {
        Some(Durable::Decisions { bits, .. }) => bits.clone(),
        _ => Vec::new(),
    };
    write(&mut bits, txn.seq % CHUNK, o);
    let record = Durable::Decisions {
        coordinator: txn.coordinator,
        epoch: txn.epoch,
        chunk: txn.seq / CHUNK,
        bits,
    };
    storage.put(key, record);
}

/// The decision of `txn` on disk now (unsynced writes included).
pub fn logged(storage: &Storage<Durable>, txn: TxnId) -> Option<Outcome> {
    match storage.get(&key(txn)) {
        Some(Durable::Decisions { bits, .. }) => read(bits, txn.seq % CHUNK),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(coordinator: u32, epoch: u64, seq: u64) -> TxnId {
        TxnId {
            coordinator: NodeId(coordinator),
            epoch,
            seq,
        }
    }

    #[test]
    fn answers_as_a_map_would() {
        let mut d = Decisions::new();
        let mut map = BTreeMap::new();
        let ids = [
            txn(0, 1, 1),
            txn(0, 1, 5000),
            txn(1, 1, 3),
            txn(0, 2, 3),
            txn(0, 1, 2),
        ];
        for (i, &t) in ids.iter().enumerate() {
            let o = if i % 2 == 0 {
                Outcome::Commit
            } else {
                Outcome::Abort
            };
            d.insert(t, o);
            map.insert(t, o);
        }
        d.insert(ids[0], Outcome::Abort);
        map.insert(ids[0], Outcome::Abort);
        for seq in 0..6000 {
            for t in [
                txn(0, 1, seq),
                txn(1, 1, seq),
                txn(0, 2, seq),
                txn(2, 1, seq),
            ] {
                assert_eq!(d.get(t), map.get(&t).copied(), "{t}");
            }
        }
        assert_eq!(d.len(), map.len());
    }

    #[test]
    fn a_crash_keeps_exactly_the_decisions_written_before_the_last_sync() {
        let mut s: Storage<Durable> = Storage::new();
        log(&mut s, txn(0, 1, 1), Outcome::Commit);
        log(&mut s, txn(0, 1, CHUNK + 2), Outcome::Abort);
        s.sync();
        log(&mut s, txn(0, 1, 2), Outcome::Abort);
        log(&mut s, txn(0, 1, 1), Outcome::Abort);
        assert_eq!(logged(&s, txn(0, 1, 2)), Some(Outcome::Abort));
        s.crash();
        assert_eq!(logged(&s, txn(0, 1, 1)), Some(Outcome::Commit));
        assert_eq!(logged(&s, txn(0, 1, 2)), None);
        let d = Decisions::load(&s);
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(txn(0, 1, CHUNK + 2)), Some(Outcome::Abort));
        assert_eq!(d.get(txn(0, 1, 1)), Some(Outcome::Commit));
    }
}

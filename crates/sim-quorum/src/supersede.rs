//! What a vector-clock store promises a client that writes with a read's context: its write
//! supersedes every value that read returned, so no read may ever return the write beside one
//! of them as siblings (Dynamo, section 4.4: the client's write "reconciles" the siblings it
//! read). A store whose clocks lose the context (a merge that takes the minimum, a coordinator
//! that drops it) keeps old siblings beside new writes; the stale-read and lost-write checks
//! cannot see that, since the new write comes back too.
//!
//! Owns [`Supersession`], which the quorum client feeds: each session's last read per key (the
//! values its context covers), each write sent with that context, and each read's values. It
//! remembers what the newest [`REMEMBERED`] writes superseded, so memory does not grow with the
//! run; a read returning an older write beside a value it superseded goes unjudged, never
//! misjudged.

use std::collections::{BTreeMap, VecDeque};

/// How many writes' superseded values are remembered.
pub const REMEMBERED: usize = 4096;

/// A read that returned a write beside a value the write superseded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resurrection {
    pub at_ns: u64,
    pub message: String,
}

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Supersession {
    /// The values each session's last read of a key returned, by session and key.
    last_read: BTreeMap<(u64, String), Vec<String>>,
    /// What each remembered write superseded, by key and value, with the session that wrote it.
    superseded: BTreeMap<(String, String), (u64, Vec<String>)>,
    /// The remembered writes, oldest first.
    order: VecDeque<(String, String)>,
    /// Reads that returned a write beside a value it superseded.
    pub found: u64,
    pub first: Option<Resurrection>,
}

impl Supersession {
    /// Session `session` read `values` of `key`, and its next write of the key carries that
    /// read's context.
    pub fn read_context(&mut self, session: u64, key: &str, values: &[String]) {
        self.last_read
            .insert((session, key.to_string()), values.to_vec());
    }

    /// Session `session` sent a write of `value` to `key` with the context of its last read.
    pub fn write_with_context(&mut self, session: u64, key: &str, value: &str) {
        let Some(read) = self.last_read.get(&(session, key.to_string())) else {
            return;
        };
        if read.is_empty() {
            return;
        }
        let slot = (key.to_string(), value.to_string());
        self.superseded
            .insert(slot.clone(), (session, read.clone()));
        self.order.push_back(slot);
        if self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.superseded.remove(&oldest);
            }
        }
    }

    /// A read of `key` by `session`, answered at `at_ns`, returned `values`.
    pub fn read(&mut self, session: u64, key: &str, values: &[String], at_ns: u64) {
        if values.len() < 2 {
            return;
        }
        for newer in values {
            let Some((writer, superseded)) = self.superseded.get(&(key.to_string(), newer.clone()))
            else {
                continue;
            };
            let Some(older) = values.iter().find(|v| superseded.contains(v)) else {
                continue;
            };
            self.found += 1;
            if self.first.is_none() {
                self.first = Some(Resurrection {
                    at_ns,
                    message: format!(
                        "session {session} read {values:?} from {key}, answered at {at_ns}ns: \
                         {newer:?} was written by session {writer} with the context of its read \
                         that returned {superseded:?}, so it supersedes {older:?}, yet both came \
                         back as siblings"
                    ),
                });
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn a_write_beside_a_value_its_context_covered_is_found() {
        let mut s = Supersession::default();
        s.read_context(1, "k", &strings(&["a", "b"]));
        s.write_with_context(1, "k", "c");
        // Siblings concurrent with c, or c alone: nothing to say.
        s.read(2, "k", &strings(&["c", "d"]), 10);
        s.read(2, "k", &strings(&["c"]), 11);
        assert_eq!(s.found, 0);
        s.read(2, "k", &strings(&["b", "c"]), 12);
        assert_eq!(s.found, 1);
        let first = s.first.expect("named");
        assert_eq!(first.at_ns, 12);
        assert!(
            first.message.contains("supersedes \"b\""),
            "{}",
            first.message
        );
    }

    #[test]
    fn only_the_newest_writes_are_remembered() {
        let mut s = Supersession::default();
        s.read_context(1, "k", &strings(&["a"]));
        for n in 0..=REMEMBERED {
            s.write_with_context(1, "k", &format!("w{n}"));
        }
        s.read(2, "k", &strings(&["w0", "a"]), 1);
        assert_eq!(s.found, 0, "the oldest write was forgotten");
        s.read(2, "k", &strings(&[&format!("w{REMEMBERED}"), "a"]), 2);
        assert_eq!(s.found, 1);
    }
}

//! Why a run failed, in a form two runs can be compared by: the failed check and the *kind* of
//! evidence its message gives, with the particulars (nodes, terms, indices, times, keys, counts)
//! left out.
//!
//! A shrink keeps a candidate only if it fails for the same [`Reason`], not merely the same
//! check: `raft.election_safety`'s "n3 and n5 are both leader in term 7 (n3 since t=1.2s)" and
//! "n1 and n2 are both leader in term 2 (n1 since t=0.4s)" are the same reason, while a
//! durability failure found at a crash and one found at a restart are not.
//! The class is the main clause of the message's first line (up to the first " (" or "; ",
//! which give particulars) with every word that holds a digit replaced by `#`, and lists of
//! such words (`[n1, n2, n3]`) collapsed to one, so that a smaller cluster or fewer holders
//! still reads the same. Checks that have nothing to judge say `not evaluated` rather than fail,
//! so a shrink cannot slide to a run without evidence.

use crate::report::RunReport;

/// The failed check and the shape of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub check: String,
    pub class: String,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.check, self.class)
    }
}

/// Why `report` failed; `None` when it passed.
pub fn reason(report: &RunReport) -> Option<Reason> {
    let check = report.failed_check()?;
    let message = report.failure().unwrap_or_default();
    Some(Reason {
        check,
        class: class_of(&message),
    })
}

/// The shape of a failure message: see the module documentation.
pub fn class_of(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    // Drop the "<check> violated at t=<time>: " prefix the report adds: its time varies.
    let body = first
        .split_once(" violated at ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map_or(first, |(_, body)| body);
    // The main clause says what broke; what follows " (" or "; " gives particulars (which
    // command an entry held, when a leader began) that a smaller run may well change.
    let body = body
        .split(" (")
        .next()
        .and_then(|b| b.split("; ").next())
        .unwrap_or(body);
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            let token = if word.chars().any(|c| c.is_ascii_digit()) {
                "#".to_string()
            } else {
                std::mem::take(word)
            };
            word.clear();
            words.push(token);
        }
    };
    for c in body.chars() {
        if c.is_alphanumeric() || matches!(c, '.' | '_' | '=' | '+' | '-' | ':' | '%') {
            word.push(c);
        } else {
            flush(&mut word, &mut words);
            words.push(c.to_string());
        }
    }
    flush(&mut word, &mut words);
    // Collapse "#, #, #" (and "# and #") into "#".
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i].clone());
        if words[i] == "#" {
            let mut j = i + 1;
            loop {
                let sep = words.get(j).map(String::as_str);
                let (skip, next) = match sep {
                    Some(",") if words.get(j + 1).map(String::as_str) == Some(" ") => {
                        (2, words.get(j + 2))
                    }
                    Some(",") => (1, words.get(j + 1)),
                    _ => break,
                };
                if next.map(String::as_str) != Some("#") {
                    break;
                }
                j += skip + 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particulars_are_left_out_and_the_kind_of_evidence_kept() {
        let a = class_of(
            "raft.election_safety violated at t=1.2s: n3 and n5 are both leader in term 7 (n3 since t=1.1s)",
        );
        let b = class_of(
            "raft.election_safety violated at t=0.4s: n1 and n2 are both leader in term 2 (n1 since t=0.3s)",
        );
        assert_eq!(a, b);
        assert_eq!(a, "# and # are both leader in term #");
        let holders = |list: &str| {
            class_of(&format!(
                "raft.durability violated at t=3s: the entry at index 4 is on 2 of 5 disks ([{list}]); a majority is 3"
            ))
        };
        assert_eq!(holders("n1, n2"), holders("n4"));
        let complete = |held: &str| {
            class_of(&format!("raft.leader_completeness violated at t=2s: n1 became leader in term 11 without the entry at index 1064 (term 10, noop); {held}"))
        };
        assert_eq!(
            complete("it holds t8 Put"),
            complete("its log ends at index 3")
        );
        let crashed = class_of("raft.durability violated at t=3s: after n2 crashed, the entry");
        let restarted = class_of("raft.durability violated at t=3s: after n2 restarted, the entry");
        assert_ne!(crashed, restarted);
    }
}

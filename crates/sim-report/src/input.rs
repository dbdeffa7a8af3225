//! What a report says besides the trace: the run's summary, its checks and the violation, the
//! client history and the linearizability checker's explanation. The command line fills it from
//! a run's report (or, for `sim check`, from a history alone).

use sim_check::{CheckResult, History};

/// One check's verdict as the page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckLine {
    pub name: String,
    /// `always`, `sometimes`, `eventually`.
    pub kind: String,
    /// `ok`, `FAIL` or `not evaluated`.
    pub status: String,
    /// The violation's message, or why the check was not evaluated, or its figures.
    pub message: String,
    pub time_ns: Option<u64>,
}

/// The failure the page opens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViolationInput {
    /// The failed check (or `panic`, `event-limit`).
    pub check: String,
    pub time_ns: u64,
    pub message: String,
}

/// Everything a report shows that the trace does not hold.
#[derive(Clone, Debug, Default)]
pub struct ReportInput {
    /// The page's title, e.g. `raft-partition, seed 3`.
    pub title: String,
    /// The one command that reproduces the run.
    pub command: String,
    /// The run's summary, as key and value lines in order.
    pub summary: Vec<(String, String)>,
    /// The nodes' names by index (`n1`, `n2`, ... when the scenario gives none).
    pub node_names: Vec<String>,
    pub checks: Vec<CheckLine>,
    pub violation: Option<ViolationInput>,
    /// When each fault was active: shaded behind the plots.
    pub fault_windows: Vec<(u64, u64)>,
    /// Faults as they were applied, with their time.
    pub faults: Vec<(u64, String)>,
    /// The scenario's own network, as the trace writes a network change (JSON): a change away
    /// from it is a degradation, shaded until the network is back to it.
    pub baseline_network: Option<String>,
    /// When the fault phase ended and the quiet phase began.
    pub quiet_start_ns: Option<u64>,
    /// When the run ended.
    pub end_ns: u64,
    /// The client history, one row per process.
    pub history: Option<History>,
    /// The linearizability checker's result on the history, when it is to be explained.
    pub linearizability: Option<CheckResult>,
}

/// The nodes named in `message` as whole words (`n3`, but not `n31` for `n3`), by index.
pub fn nodes_named(message: &str, names: &[String]) -> Vec<u32> {
    let words: std::collections::BTreeSet<&str> = message
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    names
        .iter()
        .enumerate()
        .filter(|(_, name)| words.contains(name.as_str()))
        .map(|(i, _)| i as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::nodes_named;

    #[test]
    fn nodes_are_named_by_whole_words_only() {
        let names: Vec<String> = ["n1", "n3", "n31"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            nodes_named("n1 and n3 are both leader in term 7", &names),
            vec![0, 1]
        );
        assert_eq!(nodes_named("n31 (term 2)", &names), vec![2]);
        assert!(nodes_named("no node here: n2x", &names).is_empty());
    }
}

//! `sim bench parse`: how reading a scenario scales with its number of faults.
//!
//! Each size is a generated file of N pause faults (valid) and the same file with its last fault
//! aimed at a node that does not exist (the error a user waits for). A linear parser takes the
//! same time per fault at every size; the figure to watch is the last column, the time per fault
//! against the smallest size's (it was quadratic: 16,000 faults took 30 s to report an error).

use std::fmt::Write as _;

use sim_scenario::Scenario;

/// A scenario of `faults` pause faults on three nodes, the last aimed at `last_node`.
pub fn many_faults(faults: usize, last_node: &str) -> String {
    let mut text = String::with_capacity(faults * 64 + 128);
    let _ = write!(
        text,
        "duration = \"{}ms\"\n[cluster]\nnodes = 3\n[protocol]\nname = \"raft\"\n",
        faults + 1
    );
    for i in 0..faults {
        let node = if i + 1 == faults {
            last_node.to_string()
        } else {
            format!("n{}", i % 3 + 1)
        };
        let _ = write!(
            text,
            "\n[[faults]]\nat = \"{i}ms\"\nkind = \"pause\"\nnode = \"{node}\"\nfor = \"1ms\"\n"
        );
    }
    text
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
fn seconds(f: impl FnOnce() -> bool) -> (f64, bool) {
    let started = std::time::Instant::now();
    let ok = f();
    (started.elapsed().as_secs_f64(), ok)
}

/// The table of parse times by number of faults, and whether every file did as expected (the
/// valid ones parse, the broken ones fail at their last fault).
pub fn run(sizes: &[usize]) -> (String, bool) {
    let mut out = String::from(
        "scenario parse: N pause faults, valid and with an error in the last fault\n  \
         faults    valid      error      per fault (error)   vs smallest\n",
    );
    let mut first_per_fault = None;
    let mut all_ok = true;
    for &n in sizes.iter().filter(|&&n| n > 0) {
        let valid = many_faults(n, "n1");
        let broken = many_faults(n, "nowhere");
        let (valid_s, valid_ok) = seconds(|| Scenario::parse("bench.toml", &valid).is_ok());
        let field = format!("faults[{}].node", n - 1);
        let (error_s, error_ok) =
            seconds(|| Scenario::parse("bench.toml", &broken).is_err_and(|e| e.field == field));
        all_ok &= valid_ok && error_ok;
        let per_fault = error_s / n as f64;
        let ratio = per_fault / *first_per_fault.get_or_insert(per_fault);
        let _ = writeln!(
            out,
            "  {n:>7}  {valid_s:>8.3}s  {error_s:>8.3}s  {:>12.2} µs        {ratio:.2}x{}",
            per_fault * 1e6,
            if valid_ok && error_ok {
                ""
            } else {
                "  UNEXPECTED RESULT"
            }
        );
    }
    (out, all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated files are what the benchmark says: valid, or failing at the last fault.
    #[test]
    fn the_generated_scenarios_parse_or_fail_at_their_last_fault() {
        let scenario = Scenario::parse("b.toml", &many_faults(50, "n2")).expect("valid");
        assert_eq!(scenario.faults.len(), 50);
        let e = Scenario::parse("b.toml", &many_faults(50, "nowhere")).expect_err("bad node");
        assert_eq!(e.field, "faults[49].node", "{e}");
        assert_eq!(e.line, 6 + 49 * 6 + 4, "{e}");
        assert!(run(&[10, 20]).1);
    }
}

//! `sim fuzz --junit FILE`: the campaign as JUnit XML, so that a CI system shows its failures as
//! failed tests.
//!
//! One test suite per campaign; one test case per check the family declares (and per check that
//! failed without being declared, such as `panic` or `event-limit`), failed when some seed broke
//! it, with the seeds, the first failure's message and the lines that replay and reproduce it;
//! and a `determinism` test case, failed by any seed that hashed differently when run twice.
//! Every text is escaped for XML, control characters included (XML 1.0 cannot carry them).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use sim_runner::campaign::{FailureEntry, Summary};

/// The JUnit XML of `summary`. `checks` are the family's declared checks; `record_path` names a
/// seed's failure record; `program` is the program's name, for the reproduce lines.
pub fn render(
    summary: &Summary,
    checks: &[&str],
    program: &str,
    record_path: &dyn Fn(u64) -> String,
) -> String {
    let failing = summary.failures_by_check();
    let mut names: BTreeSet<&str> = checks.iter().copied().collect();
    names.extend(failing.keys().copied());
    let failures = failing.len() + usize::from(!summary.determinism_bugs.is_empty());
    let tests = names.len() + 1;
    let suite = escape(&summary.scenario_name);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!("tests=\"{tests}\" failures=\"{failures}\" errors=\"0\"");
    let time = format!("time=\"{:.3}\"", summary.wall_seconds);
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" {counts} {time}>",
        escape(&format!("{program} fuzz"))
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{suite}\" {counts} skipped=\"0\" {time}>"
    );
    properties(&mut x, summary);
    for name in names {
        let _ = write!(
            x,
            "    <testcase classname=\"{suite}\" name=\"{}\" time=\"0\"",
            escape(name)
        );
        match failing.get(name) {
            None => x.push_str("/>\n"),
            Some(seeds) => {
                let (message, body) = check_failure(summary, name, seeds, program, record_path);
                failure(&mut x, &message, name, &body);
            }
        }
    }
    let _ = write!(
        x,
        "    <testcase classname=\"{suite}\" name=\"determinism\" time=\"0\""
    );
    if summary.determinism_bugs.is_empty() {
        x.push_str("/>\n");
    } else {
        let (message, body) = determinism_failure(summary, program);
        failure(&mut x, &message, "determinism", &body);
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// What the campaign ran, as the suite's properties.
fn properties(x: &mut String, summary: &Summary) {
    let _ = writeln!(x, "    <properties>");
    for (name, value) in [
        ("scenario", summary.scenario_file.clone()),
        ("seeds", summary.space.to_string()),
        ("seeds_run", summary.seeds_run.to_string()),
        ("seeds_passed", summary.seeds_passed.to_string()),
        ("complete", summary.complete.to_string()),
    ] {
        let _ = writeln!(
            x,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    let _ = writeln!(x, "    </properties>");
}

/// The end of an open `<testcase`: its failure, escaped, and the closing tag.
fn failure(x: &mut String, message: &str, kind: &str, body: &str) {
    let _ = write!(
        x,
        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
        escape(message),
        escape(kind),
        escape(body)
    );
}

/// The message and text of a check's failure: its seeds, the first one's message, and the lines
/// that replay and reproduce it.
fn check_failure(
    summary: &Summary,
    name: &str,
    seeds: &[&FailureEntry],
    program: &str,
    record_path: &dyn Fn(u64) -> String,
) -> (String, String) {
    let first = seeds[0];
    let list: Vec<String> = seeds.iter().map(|f| f.seed.to_string()).collect();
    let message = format!(
        "{} of {} seeds fail {name}; first seed {}: {}",
        seeds.len(),
        summary.seeds_run,
        first.seed,
        first.message.lines().next().unwrap_or("")
    );
    let mut run = format!(
        "{program} run {} --seed {}",
        summary.scenario_file, first.seed
    );
    if let Some(d) = summary.duration {
        let _ = write!(run, " --duration {d}");
    }
    let body = format!(
        "{}\nseeds: {}\nreplay: {program} replay {}\nrun:    {run}",
        first.message,
        list.join(", "),
        record_path(first.seed)
    );
    (message, body)
}

/// The message and text of the determinism case: each seed with both hashes and its command.
fn determinism_failure(summary: &Summary, program: &str) -> (String, String) {
    let mut body = String::new();
    for d in &summary.determinism_bugs {
        let _ = writeln!(
            body,
            "seed {}: hashed {} then {}; {}\nrun twice: {program} run {} --seed {}",
            d.seed,
            d.determinism.first_hash,
            d.determinism.second_hash,
            d.determinism.difference,
            summary.scenario_file,
            d.seed
        );
    }
    let message = format!(
        "{} seeds hashed differently when run twice",
        summary.determinism_bugs.len()
    );
    (message, body)
}

/// `text` made safe in XML attributes and text: the five special characters as entities, and
/// characters XML 1.0 cannot hold (control characters other than tab, newline and carriage
/// return, and U+FFFE/U+FFFF) replaced by `?`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b>&\"c\"'d'\u{1}\te\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;?\te\n"
        );
        assert_eq!(
            escape("key \"k<0>\" & more"),
            "key &quot;k&lt;0&gt;&quot; &amp; more"
        );
        assert_eq!(escape("ünïcode ok"), "ünïcode ok");
    }
}

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

use sim_runner::campaign::Summary;

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
    let suite = &summary.scenario_name;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        escape(&format!("{program} fuzz")),
        summary.wall_seconds
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">",
        escape(suite),
        summary.wall_seconds
    );
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
    let reproduce = |seed: u64| {
        let mut run = format!("{program} run {} --seed {seed}", summary.scenario_file);
        if let Some(d) = summary.duration {
            let _ = write!(run, " --duration {d}");
        }
        format!(
            "replay: {program} replay {}\nrun:    {run}",
            record_path(seed)
        )
    };
    for name in names {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(suite),
            escape(name)
        );
        let Some(seeds) = failing.get(name) else {
            x.push_str("/>\n");
            continue;
        };
        let first = seeds[0];
        let list: Vec<String> = seeds.iter().map(|f| f.seed.to_string()).collect();
        let message = format!(
            "{} of {} seeds fail {name}; first seed {}: {}",
            seeds.len(),
            summary.seeds_run,
            first.seed,
            first.message.lines().next().unwrap_or("")
        );
        let body = format!(
            "{}\nseeds: {}\n{}",
            first.message,
            list.join(", "),
            reproduce(first.seed)
        );
        let _ = write!(
            x,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            escape(&message),
            escape(name),
            escape(&body)
        );
    }
    let _ = write!(
        x,
        "    <testcase classname=\"{}\" name=\"determinism\" time=\"0\"",
        escape(suite)
    );
    if summary.determinism_bugs.is_empty() {
        x.push_str("/>\n");
    } else {
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
        let _ = write!(
            x,
            ">\n      <failure message=\"{}\" type=\"determinism\">{}</failure>\n    </testcase>\n",
            escape(&message),
            escape(&body)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
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

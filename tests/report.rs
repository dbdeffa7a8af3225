//! `--report FILE.html` (issue 12): the page of a run, a replay, a campaign's failures and a
//! history, rendered in a real headless browser (Debian's `chromium`).
//!
//! The page's script writes a self-check into the DOM once it has drawn (lanes, arrows, lost
//! messages, protocol events, operations, the violation marker, script errors caught by
//! `window.onerror`, calls of `alert`); the browser's `--dump-dom` gives it back and the tests
//! compare it with the run's own JSON Lines trace. Without a browser these tests say they
//! skipped, unless `SIM_BROWSER_TESTS=1` (CI sets it), where a missing browser fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{code, sim, stderr, stdout, temp_file, trace_hash};

const BUG: &str = "scenarios/raft/bugs/vote_without_log_check.toml";
const XSS: &str = "</script><script>alert(1)</script>";

/// A fresh directory under the target directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The headless browser, or `None` (with a note) when there is none and none is required.
fn browser() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        let required = std::env::var("SIM_BROWSER_TESTS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "SIM_BROWSER_TESTS=1 but no chromium on PATH: install it (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on PATH (set SIM_BROWSER_TESTS=1 to require it)");
    }
    found
}

/// Loads `page` in the headless browser and returns the DOM after its script ran.
fn dump_dom(browser: &Path, page: &Path, profile: &Path) -> String {
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page exists").display()
    );
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("the browser runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && !dom.is_empty(),
        "the browser failed on {}: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The self-check the page wrote into `<pre id="selfcheck">`.
fn self_check(dom: &str) -> Value {
    let start = dom
        .find("<pre id=\"selfcheck\">")
        .map(|i| i + "<pre id=\"selfcheck\">".len())
        .expect("the page has its self-check element");
    let end = start + dom[start..].find("</pre>").expect("the element ends");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("the page did not write its self-check ({e}): {text:?}");
    })
}

/// Counts of a JSON Lines trace: (message arrows, message drops, protocol reports).
fn trace_counts(path: &Path) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(path).expect("trace file");
    let (mut arrows, mut lost, mut reports) = (0, 0, 0);
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).expect("a JSON line");
        match event["ev"].as_str() {
            Some("send") | Some("duplicate") => arrows += 1,
            // A request lost on its way to or from a client is no message arrow.
            Some("drop") if event.get("request").is_none() => lost += 1,
            Some("report") => reports += 1,
            _ => {}
        }
    }
    (arrows, lost, reports)
}

/// Asserts the page rendered without a script error or a call of `alert`.
fn assert_clean(check: &Value) {
    assert_eq!(check["rendered"], true, "{check}");
    assert_eq!(
        check["errors"],
        Value::Array(vec![]),
        "script errors: {check}"
    );
    assert_eq!(check["alerts"], 0, "something called alert: {check}");
    assert_eq!(check["scripts"], 3, "only the page's own scripts: {check}");
}

#[test]
fn issue_12_a_report_leaves_the_trace_hash_alone_and_needs_no_network() {
    let dir = scratch("hash");
    let page = dir.join("run.html");
    let plain = sim(&["run", BUG, "--seed", "2"]);
    let reported = sim(&[
        "run",
        BUG,
        "--seed",
        "2",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code(&plain), 1, "{}", stderr(&plain));
    assert_eq!(code(&reported), 1, "{}", stderr(&reported));
    assert_eq!(trace_hash(&plain), trace_hash(&reported));
    assert_eq!(stdout(&plain), stdout(&reported), "the summary is the same");
    let trace = dir.join("trace.jsonl");
    let both = sim(&[
        "run",
        BUG,
        "--seed",
        "2",
        "--report",
        dir.join("both.html").to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(
        trace_hash(&plain),
        trace_hash(&both),
        "with a trace file too"
    );
    let same = std::fs::read(dir.join("both.html")).expect("the second report");
    assert!(
        same == std::fs::read(&page).unwrap(),
        "the same page, byte for byte"
    );
    let html = std::fs::read_to_string(&page).expect("the report is written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    for outside in ["src=", "href=", "http://", "https://", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "the page refers outside itself: {outside}"
        );
    }
    assert!(html.contains("default-src 'none'"), "and forbids it");
}

#[test]
fn issue_12_a_report_that_cannot_be_written_fails_the_command() {
    let missing = scratch("unwritable").join("no-such-dir").join("run.html");
    let output = sim(&[
        "run",
        BUG,
        "--seed",
        "2",
        "--report",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("--report"), "{}", stderr(&output));
}

#[test]
fn issue_12_planted_bug_report_renders_lanes_arrows_and_the_violation_in_a_browser() {
    let Some(browser) = browser() else { return };
    let dir = scratch("bug");
    let (page, trace) = (dir.join("run.html"), dir.join("trace.jsonl"));
    let output = sim(&[
        "run",
        BUG,
        "--seed",
        "2",
        "--report",
        page.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let check = self_check(&dump_dom(&browser, &page, &dir.join("profile")));
    assert_clean(&check);
    let (arrows, lost, reports) = trace_counts(&trace);
    assert_eq!(check["lanes"], 5, "a lane per node: {check}");
    assert_eq!(
        check["arrows"], arrows,
        "an arrow per message sent or duplicated"
    );
    assert_eq!(
        check["lost"], lost,
        "every lost message ends where it was lost"
    );
    assert_eq!(check["marks"], reports, "a mark per protocol report");
    assert!(check["arrows_drawn"].as_u64().unwrap() > 0, "{check}");
    assert!(check["partition_windows"].as_u64().unwrap() > 0, "{check}");
    assert!(
        check["ops"].as_u64().unwrap() > 0,
        "client operations: {check}"
    );
    assert!(check["client_rows"].as_u64().unwrap() > 0, "{check}");
    assert_eq!(check["violation"], true);
    assert_eq!(check["violation_marker"], true, "opened on the violation");
    let nodes = check["violation_nodes"].as_array().unwrap();
    assert!(!nodes.is_empty(), "the nodes the violation names: {check}");
}

/// A history with a foreign key and values that would be markup, and a stale read: the
/// read returns the first write after the second completed.
fn hostile_history() -> String {
    let key = serde_json::to_string(XSS).unwrap();
    let image = serde_json::to_string("<img src=x onerror=alert(2)>").unwrap();
    format!(
        r#"{{"model": "kv", "ops": [
  {{"process": 0, "type": "invoke", "f": "write", "key": {key}, "value": {image}, "time": 1000}},
  {{"process": 0, "type": "ok", "f": "write", "key": {key}, "value": {image}, "time": 2000}},
  {{"process": 0, "type": "invoke", "f": "write", "key": {key}, "value": {key}, "time": 3000}},
  {{"process": 0, "type": "ok", "f": "write", "key": {key}, "value": {key}, "time": 4000}},
  {{"process": 1, "type": "invoke", "f": "read", "key": {key}, "value": null, "time": 5000}},
  {{"process": 1, "type": "ok", "f": "read", "key": {key}, "value": {image}, "time": 6000}}
]}}"#
    )
}

#[test]
fn issue_12_foreign_keys_and_values_show_as_text_and_run_nothing_in_a_browser() {
    let history = temp_file("report-hostile.json", &hostile_history());
    let dir = scratch("xss");
    let page = dir.join("check.html");
    let output = sim(&[
        "check",
        history.to_str().unwrap(),
        "--report",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 1, "not linearizable: {}", stdout(&output));
    let html = std::fs::read_to_string(&page).expect("the report is written");
    assert!(!html.contains(XSS), "the value is escaped in the file");
    let Some(browser) = browser() else { return };
    let dom = dump_dom(&browser, &page, &dir.join("profile"));
    let check = self_check(&dom);
    assert_clean(&check);
    assert!(!dom.contains(XSS), "no foreign markup in the document");
    assert!(
        !dom.contains("<img src=x"),
        "no foreign element in the document"
    );
    assert!(
        dom.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the key shows as text"
    );
    assert_eq!(check["ops"], 3, "{check}");
    assert_eq!(check["violation_marker"], true, "{check}");
    assert!(
        check["explained_ops"].as_u64().unwrap() >= 1,
        "the blocking operation is highlighted: {check}"
    );
    assert!(
        check["prefix_ops"].as_u64().unwrap() >= 1,
        "the longest linearizable prefix is marked: {check}"
    );
}

#[test]
fn issue_12_fuzz_writes_a_report_beside_each_failure_and_replay_writes_the_same_page() {
    let dir = scratch("fuzz");
    let out = dir.join("campaign");
    let output = sim(&[
        "fuzz",
        BUG,
        "--seeds",
        "2..3",
        "--jobs",
        "1",
        "--report",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 1, "{}{}", stdout(&output), stderr(&output));
    let beside = out.join("seed-2.html");
    assert!(
        stdout(&output).contains("seed-2.html"),
        "{}",
        stdout(&output)
    );
    let replayed = dir.join("replay.html");
    let record = out.join("seed-2.json");
    let output = sim(&[
        "replay",
        record.to_str().unwrap(),
        "--report",
        replayed.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    let a = std::fs::read(&beside).expect("the campaign's report");
    let b = std::fs::read(&replayed).expect("the replay's report");
    assert!(a == b, "the same run gives the same page, byte for byte");
    let Some(browser) = browser() else { return };
    let check = self_check(&dump_dom(&browser, &beside, &dir.join("profile")));
    assert_clean(&check);
    assert_eq!(check["violation_marker"], true, "{check}");
}

//! Other tools' histories, read as they are: the example file of every format under
//! `tests/data/histories/formats/` (documented in the README there) is detected by its content,
//! mapped, and decided.

use std::path::PathBuf;

use sim_check::{
    check, detect_format, load_history_with, parse_history_with, Budget, InputFormat, ModelKind,
    ReadOptions, Verdict,
};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/histories/formats")
        .join(name)
}

fn read(name: &str) -> (InputFormat, ModelKind, Verdict, usize) {
    let file = path(name);
    let text = std::fs::read_to_string(&file).expect("the example exists");
    let format = detect_format(&text).expect("the format is detected");
    let history = load_history_with(&file, &ReadOptions::default()).expect("readable");
    let forced = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    assert_eq!(
        load_history_with(&file, &forced).expect("readable with the format named"),
        history
    );
    let result = check(&history, &Budget::default());
    (
        format,
        history.model(),
        result.verdict,
        history.operations().len(),
    )
}

#[test]
fn knossos_edn_register_histories_are_decided() {
    let (format, model, verdict, ops) = read("knossos-cas-register-ok.edn");
    assert_eq!(
        (format, model, verdict),
        (InputFormat::Edn, ModelKind::Register, Verdict::Linearizable)
    );
    // Nemesis events are not operations.
    assert_eq!(ops, 6);
    let (format, _, verdict, _) = read("knossos-cas-register-bad.edn");
    assert_eq!(
        (format, verdict),
        (InputFormat::Edn, Verdict::NotLinearizable)
    );
}

#[test]
fn jepsen_independent_tuples_become_keys() {
    let file = path("jepsen-independent-bad.edn");
    let history = load_history_with(&file, &ReadOptions::default()).expect("readable");
    assert_eq!(history.model(), ModelKind::Kv);
    let result = check(&history, &Budget::default());
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let explanation = result.explanation.expect("an explanation");
    assert_eq!(explanation.key.as_deref(), Some("8"));
    assert_eq!(result.keys[0].verdict, Some(Verdict::Linearizable));
}

#[test]
fn maelstrom_lin_kv_history_is_decided() {
    let (format, model, verdict, ops) = read("maelstrom-lin-kv-ok.edn");
    assert_eq!(
        (format, model, verdict),
        (InputFormat::Edn, ModelKind::Kv, Verdict::Linearizable)
    );
    assert_eq!(ops, 4);
}

#[test]
fn porcupine_kv_logs_start_from_empty_strings() {
    let (format, model, verdict, _) = read("porcupine-kv-bad.edn");
    assert_eq!(
        (format, model, verdict),
        (InputFormat::Edn, ModelKind::Kv, Verdict::NotLinearizable)
    );
    let history =
        load_history_with(&path("porcupine-kv-bad.edn"), &ReadOptions::default()).unwrap();
    assert_eq!(history.init(), &serde_json::json!(""));
}

#[test]
fn jepsen_log_lines_are_read() {
    let (format, model, verdict, _) = read("etcd-log-ok.log");
    assert_eq!(
        (format, model, verdict),
        (
            InputFormat::EtcdLog,
            ModelKind::Register,
            Verdict::Linearizable
        )
    );
    let (_, _, verdict, _) = read("etcd-log-bad.log");
    assert_eq!(verdict, Verdict::NotLinearizable);
}

#[test]
fn porcupine_operation_dumps_are_read() {
    let (format, model, verdict, ops) = read("porcupine-kv-ok.json");
    assert_eq!(
        (format, model, verdict),
        (InputFormat::Porcupine, ModelKind::Kv, Verdict::Linearizable)
    );
    assert_eq!(ops, 5);
    let (format, model, verdict, _) = read("porcupine-register-bad.json");
    assert_eq!(
        (format, model, verdict),
        (
            InputFormat::Porcupine,
            ModelKind::Register,
            Verdict::NotLinearizable
        )
    );
}

#[test]
fn jepsen_shaped_json_with_big_numbers_is_read_exactly() {
    let (format, model, verdict, ops) = read("jepsen-register-ok.json");
    assert_eq!(
        (format, model, verdict, ops),
        (
            InputFormat::Json,
            ModelKind::Register,
            Verdict::Linearizable,
            2
        )
    );
}

#[test]
fn an_unknown_format_names_the_formats_read() {
    let error = parse_history_with("hello world\n", "h.txt", &ReadOptions::default()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("h.txt:1: cannot tell which format"),
        "{text}"
    );
    for name in ["json", "edn", "etcd-log", "porcupine", "--input-format"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn edn_errors_name_the_line_and_field() {
    let text = "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :done, :f :read, :value 1}\n";
    let error = parse_history_with(text, "h.edn", &ReadOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "h.edn:2: op 1 field \"type\": expected one of invoke, ok, fail, info, found \"done\""
    );
    let text = "{:process 0, :type :invoke, :f :increment, :value 1}\n";
    let error = parse_history_with(text, "h.edn", &ReadOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("h.edn:1: op 0 field \"f\": expected one of :read"),
        "{error}"
    );
    let deep = format!(
        "{{:process 0, :type :invoke, :f :write, :value {}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let error = parse_history_with(&deep, "h.edn", &ReadOptions::default()).unwrap_err();
    assert!(
        error.to_string().contains("nest deeper than 128"),
        "{error}"
    );
}

#[test]
fn edn_keywords_never_equal_strings() {
    let text = "{:process 0, :type :invoke, :f :write, :value :a}\n{:process 0, :type :ok, :f :write, :value :a}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value \"a\"}\n";
    let history = parse_history_with(text, "h.edn", &ReadOptions::default()).unwrap();
    assert_eq!(
        check(&history, &Budget::default()).verdict,
        Verdict::NotLinearizable
    );
}

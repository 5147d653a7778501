//! `chipwatch train`, `chipwatch eval topics` and `check-config` end to end: the real binary
//! trains a model on labelled sentences we wrote, a configuration uses it, and evaluation
//! reports per topic, relevance and errors (with cross-validation, and on a bad line).

use std::path::{Path, PathBuf};
use std::process::Command;

const LABELLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/learn/labelled.jsonl"
);
const TOPICS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn chipwatch(config: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_chipwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("CHIPWATCH_LOG", "warn")
        .output()
        .expect("run chipwatch");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A configuration in `dir` with the shipped rules and, if given, a model file.
fn config(dir: &Path, model: Option<&Path>) -> PathBuf {
    let mut text = format!(
        "[settings]\ndata_dir = \"{}\"\ntopics_file = \"{TOPICS}\"\n",
        dir.join("data").display()
    );
    if let Some(model) = model {
        text.push_str(&format!("model_file = \"{}\"\n", model.display()));
    }
    text.push_str(
        "[[feeds]]\nid = \"local\"\nname = \"Local\"\nurl = \"https://news.example.it/feed\"\n",
    );
    let path = dir.join(if model.is_some() {
        "with-model.toml"
    } else {
        "rules.toml"
    });
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn a_trained_model_is_written_loaded_checked_and_explains_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules_only = config(dir.path(), None);
    let model = dir.path().join("model.json");
    let model_arg = model.to_str().expect("UTF-8 path");
    let trained = chipwatch(&rules_only, &["train", "--data", LABELLED, "-o", model_arg]);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
    assert!(
        trained.stderr.contains("trained on 30 items"),
        "{}",
        trained.stderr
    );
    // Training again on the same items writes the same bytes.
    let first = std::fs::read(&model).expect("model written");
    let again = chipwatch(&rules_only, &["train", "--data", LABELLED, "-o", model_arg]);
    assert_eq!(again.code, 0);
    assert_eq!(std::fs::read(&model).expect("model"), first);

    let with_model = config(dir.path(), Some(&model));
    let checked = chipwatch(&with_model, &["check-config"]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(checked.stdout.contains("model: "), "{}", checked.stdout);
    assert!(
        checked.stdout.contains("trained on 30 items"),
        "{}",
        checked.stdout
    );
    assert!(!checked.stdout.contains("warning"), "{}", checked.stdout);

    // The classifier names the model's strongest features next to the rules.
    let verdict = chipwatch(
        &with_model,
        &[
            "classify",
            "--text",
            "Washington vieta la vendita di chip avanzati alla Cina.",
        ],
    );
    assert_eq!(verdict.code, 0, "{}", verdict.stderr);
    let json: serde_json::Value = serde_json::from_str(verdict.stdout.trim()).expect("JSON");
    assert_eq!(json["topics"], serde_json::json!(["export_ban"]));
    let why: Vec<&str> = json["why"]
        .as_array()
        .expect("why")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        why.iter().any(|w| w.starts_with("export_ban: model ")),
        "{why:?}"
    );

    // Rules edited after training: the model still loads, with a warning to retrain.
    let edited = dir.path().join("topics.toml");
    let text = std::fs::read_to_string(TOPICS).expect("rules");
    std::fs::write(
        &edited,
        text.replacen("title_boost = 1.5", "title_boost = 1.6", 1),
    )
    .expect("write rules");
    let stale = std::fs::read_to_string(&with_model)
        .expect("config")
        .replace(TOPICS, edited.to_str().expect("UTF-8 path"));
    std::fs::write(&with_model, stale).expect("write config");
    let checked = chipwatch(&with_model, &["check-config"]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked.stdout.contains("warning: the topic rules changed"),
        "{}",
        checked.stdout
    );

    // A model file that is not one is a configuration error naming the file.
    std::fs::write(&model, "{\"format\": \"other\"}").expect("write");
    let broken = chipwatch(&with_model, &["check-config"]);
    assert_eq!(broken.code, 2, "{}", broken.stdout);
    assert!(broken.stderr.contains("model.json"), "{}", broken.stderr);
}

#[test]
fn evaluation_reports_topics_relevance_and_errors_and_cross_validates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules_only = config(dir.path(), None);
    let plain = chipwatch(&rules_only, &["eval", "topics", LABELLED, "--json"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let report: serde_json::Value = serde_json::from_str(plain.stdout.trim()).expect("JSON");
    assert!(
        report["method"]
            .as_str()
            .expect("method")
            .contains("no model")
    );
    assert_eq!(report["all"]["items"], 30);
    let topics: Vec<&str> = report["all"]["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .filter_map(|t| t[0].as_str())
        .collect();
    assert_eq!(topics, ["approval", "export_ban"]);
    assert_eq!(report["all"]["none_items"], 10);
    assert_eq!(
        report["titled"]["items"].as_u64().expect("titled")
            + report["untitled"]["items"].as_u64().expect("untitled"),
        30
    );

    let folds = chipwatch(&rules_only, &["eval", "topics", LABELLED, "--folds", "3"]);
    assert_eq!(folds.code, 0, "{}", folds.stderr);
    assert!(
        folds.stdout.contains("3-fold cross-validation"),
        "{}",
        folds.stdout
    );
    assert!(folds.stdout.contains("macro-F1"), "{}", folds.stdout);
    assert!(
        folds.stdout.contains("untitled items (lead only)"),
        "{}",
        folds.stdout
    );

    // A bad line is reported with its number; the others are still measured; exit 1.
    let mixed = dir.path().join("mixed.jsonl");
    let mut text = std::fs::read_to_string(LABELLED).expect("labelled");
    text.push_str("{\"id\": \"bad\", \"text\": \"no labels here\"}\n");
    text.push_str("{\"id\": \"x\", \"text\": \"Chip.\", \"labels\": [\"quantum\"]}\n");
    std::fs::write(&mixed, text).expect("write");
    let mixed_arg = mixed.to_str().expect("UTF-8 path");
    let bad = chipwatch(&rules_only, &["eval", "topics", mixed_arg, "--json"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("line 31: no `labels`"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr
            .contains("line 32: label \"quantum\" is not a topic"),
        "{}",
        bad.stderr
    );
    let report: serde_json::Value = serde_json::from_str(bad.stdout.trim()).expect("JSON");
    assert_eq!(report["all"]["items"], 30);
}

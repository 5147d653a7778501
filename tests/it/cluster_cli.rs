//! `chipwatch cluster` end to end: the real binary reads JSON lines (from a file or
//! standard input) and prints one `{"id", "event"}` line per item.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/chipwatch.toml");
const DEV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events/dev.jsonl");

struct Output {
    code: i32,
    lines: Vec<serde_json::Value>,
    stderr: String,
}

fn cluster(file: &str, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chipwatch"))
        .args(["--config", CONFIG, "cluster", file])
        .env("CHIPWATCH_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chipwatch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait for chipwatch");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    Output {
        code: output.status.code().unwrap_or(-1),
        lines: stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("each output line is JSON"))
            .collect(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn the_fixture_is_grouped_into_its_stories() {
    let output = cluster(DEV, "");
    assert_eq!(output.code, 0, "stderr: {}", output.stderr);
    let input: Vec<serde_json::Value> = std::fs::read_to_string(DEV)
        .expect("read fixture")
        .lines()
        .map(|line| serde_json::from_str(line).expect("fixture line"))
        .collect();
    assert_eq!(output.lines.len(), input.len(), "one line per item");
    let mut event_of: HashMap<String, serde_json::Value> = HashMap::new();
    for (item, line) in input.iter().zip(&output.lines) {
        assert_eq!(line["id"], item["id"], "output keeps input order");
        let id = item["id"].as_str().expect("string id").to_string();
        event_of.insert(id, line["event"].clone());
    }
    let event = |id: &str| event_of[id].clone();
    // Every item gets an event, as the poller gives one to every item.
    assert!(event_of.values().all(serde_json::Value::is_string));
    // Seven outlets, two languages, one undated: one event about China's H200 approval.
    let h200 = event("dev-000");
    for id in [
        "dev-001", "dev-002", "dev-003", "dev-004", "dev-005", "dev-006",
    ] {
        assert_eq!(event(id), h200, "{id}");
    }
    // A gaming GPU review and NVIDIA's earnings, the same days: stories of their own.
    assert_ne!(event("dev-010"), h200);
    assert_ne!(event("dev-007"), h200);
    assert_ne!(event("dev-007"), event("dev-010"));
    // Licences granted, then revoked two days later: two events.
    assert_eq!(event("dev-025"), event("dev-024"));
    assert_eq!(event("dev-029"), event("dev-028"));
    assert_ne!(event("dev-028"), event("dev-024"));
}

#[test]
fn standard_input_works_and_bad_lines_are_reported_by_number() {
    let input = concat!(
        r#"{"id": "a", "title": "Usa, via libera a Nvidia per la vendita dei chip H20 alla Cina", "text": "Il dipartimento del Commercio ha concesso a Nvidia le licenze per esportare in Cina i chip H20.", "outlet": "ANSA", "url": "https://example.it/a", "published": "2026-02-17T08:40:00+01:00"}"#,
        "\n",
        "this is not JSON\n",
        "\n",
        r#"{"id": "c", "title": "Chip", "published": "yesterday"}"#,
        "\n",
        r#"{"id": "d", "title": "NVIDIA H20 torna in Cina: arrivano le licenze di esportazione", "text": "Washington ha approvato le licenze che permettono a NVIDIA di tornare a vendere l'H20 ai clienti cinesi.", "outlet": "HDblog", "url": "https://example.it/d"}"#,
        "\n",
        r#"{"id": 5, "title": "Recensione della nuova console", "text": "Bella, veloce, cara.", "lang": "it"}"#,
        "\n",
    );
    let output = cluster("-", input);
    assert_eq!(output.code, 1, "bad lines make the run fail at the end");
    assert!(output.stderr.contains("line 2:"), "{}", output.stderr);
    assert!(output.stderr.contains("line 4:"), "{}", output.stderr);
    assert!(
        output.stderr.contains("2 input line(s)"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    let ids: Vec<&serde_json::Value> = output.lines.iter().map(|l| &l["id"]).collect();
    assert_eq!(
        ids,
        [
            &serde_json::json!("a"),
            &serde_json::json!("d"),
            &serde_json::json!(5)
        ]
    );
    // The undated report (time unknown) joins the story it tells; the review is its own.
    assert!(output.lines.iter().all(|l| l["event"].is_string()));
    assert_eq!(output.lines[1]["event"], output.lines[0]["event"]);
    assert_ne!(output.lines[2]["event"], output.lines[0]["event"]);
}

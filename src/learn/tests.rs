//! Training and judging on sentences we wrote (`tests/data/learn/labelled.jsonl`): never
//! evidence of quality, only of what the code does.

use super::*;
use crate::classify::TopicModel;

fn rules() -> Rules {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/topics.toml");
    let text = std::fs::read_to_string(path).expect("config/topics.toml is readable");
    Rules::from_toml(&text).expect("config/topics.toml is valid")
}

fn topic(id: &str) -> TopicId {
    TopicId::parse(id).expect("topic id")
}

fn examples() -> Vec<Example> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/learn/labelled.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("labelled.jsonl is readable");
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            Example {
                id: value["id"].as_str().expect("id").to_string(),
                title: value["title"].as_str().unwrap_or_default().to_string(),
                text: value["text"].as_str().unwrap_or_default().to_string(),
                lang: None,
                labels: value["labels"]
                    .as_array()
                    .expect("labels")
                    .iter()
                    .filter_map(|l| l.as_str())
                    .filter(|l| *l != "none")
                    .map(topic)
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn training_is_deterministic_and_learns_only_the_topics_with_enough_labels() {
    let rules = rules();
    let examples = examples();
    let options = TrainOptions::default();
    let first = train(&rules, &examples, &options).expect("trains");
    let second = train(&rules, &examples, &options).expect("trains");
    assert_eq!(first.to_json(), second.to_json(), "same input, same bytes");
    let learned: Vec<&str> = first.topics.iter().map(|t| t.topic.as_str()).collect();
    // open_source_ai has no labelled item here: it stays with the rules.
    assert_eq!(learned, ["approval", "export_ban"]);
    assert_eq!(first.trained_on.items, 30);
    assert_eq!(first.rules_fingerprint, rules.fingerprint());
    for weights in &first.topics {
        assert_eq!(weights.weights.len(), first.features.len());
        assert!(weights.threshold > 0.0 && weights.threshold < 1.0);
    }
    // The saved form reads back as it was written.
    let read = TopicModel::from_json(&first.to_json()).expect("reads back");
    assert_eq!(read, first);
}

#[test]
fn a_trained_model_leans_the_way_of_its_labels() {
    let mut rules = rules();
    let examples = examples();
    let model = train(&rules, &examples, &TrainOptions::default()).expect("trains");
    let weight = |topic_id: &str, feature: &str| {
        let column = model
            .features
            .iter()
            .position(|f| f == feature)
            .unwrap_or_else(|| panic!("feature {feature} kept"));
        let row = model
            .topics
            .iter()
            .find(|t| t.topic.as_str() == topic_id)
            .expect("topic learned");
        row.weights[column]
    };
    // The rules' own points for a topic push towards it, and away from its opposite.
    assert!(weight("export_ban", "s:export_ban") > 0.0);
    assert!(weight("approval", "s:approval") > 0.0);
    assert!(weight("approval", "s:export_ban") < weight("export_ban", "s:export_ban"));
    rules.set_model(Some(model)).expect("attaches");
    let said = predict(&rules, &examples);
    let right = examples
        .iter()
        .zip(&said)
        .filter(|(e, p)| &e.labels == *p)
        .count();
    // In-sample, on sentences written to be plain: a check that the model is wired in,
    // not a measure of quality.
    assert!(right >= 27, "{right} of 30 right in-sample");
}

#[test]
fn every_example_is_held_out_exactly_once_and_never_trains_its_own_fold() {
    let examples = examples();
    for k in [2, 5, 10] {
        let folds = folds(&examples, k);
        let mut held_count = vec![0; examples.len()];
        for (held, training) in &folds {
            for &i in held {
                held_count[i] += 1;
                assert!(!training.contains(&i), "k={k}: {i} trains its own fold");
            }
            assert_eq!(held.len() + training.len(), examples.len());
        }
        assert!(held_count.iter().all(|&n| n == 1), "k={k}: {held_count:?}");
        // The same split on every run.
        assert_eq!(folds, super::folds(&examples, k));
    }
}

#[test]
fn cross_validation_refuses_fewer_than_two_folds_and_leaves_no_model_behind() {
    let mut rules = rules();
    let examples = examples();
    assert!(matches!(
        cross_validate(&mut rules, &examples, 1, &TrainOptions::default()),
        Err(LearnError::Folds(1))
    ));
    let predictions =
        cross_validate(&mut rules, &examples, 3, &TrainOptions::default()).expect("runs");
    assert_eq!(predictions.len(), examples.len());
    assert!(rules.model().is_none());
}

#[test]
fn training_refuses_what_it_cannot_learn_from() {
    let rules = rules();
    assert!(matches!(
        train(&rules, &[], &TrainOptions::default()),
        Err(LearnError::Empty)
    ));
    let few: Vec<Example> = examples().into_iter().take(3).collect();
    assert!(matches!(
        train(&rules, &few, &TrainOptions::default()),
        Err(LearnError::NoTopic(5))
    ));
}

#[test]
fn reports_count_per_topic_relevance_and_false_alerts() {
    let example = |id: &str, labels: &[&str]| Example {
        id: id.into(),
        title: String::new(),
        text: String::new(),
        lang: None,
        labels: labels.iter().map(|l| topic(l)).collect(),
    };
    let set = |labels: &[&str]| -> BTreeSet<TopicId> { labels.iter().map(|l| topic(l)).collect() };
    let examples = [
        example("a", &["export_ban"]),
        example("b", &["export_ban"]),
        example("c", &["approval"]),
        example("d", &[]),
        example("e", &[]),
    ];
    let predicted = [
        set(&["export_ban"]),
        set(&[]),
        set(&["export_ban"]),
        set(&["approval"]),
        set(&["tariffs"]),
    ];
    let topics = [topic("approval"), topic("export_ban")];
    let report = Report::new(
        &examples.iter().collect::<Vec<_>>(),
        &predicted.iter().collect::<Vec<_>>(),
        &topics,
    );
    let (approval, export_ban) = (report.topics[0].1, report.topics[1].1);
    assert_eq!((approval.precision, approval.recall), (0.0, 0.0));
    assert_eq!((export_ban.precision, export_ban.recall), (0.5, 0.5));
    // Relevant: a, b, c; said relevant: a, c, d → 2 right of 3 said, of 3 relevant.
    assert!((report.relevance.precision - 2.0 / 3.0).abs() < 1e-9);
    assert!((report.relevance.recall - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!((report.false_alerts, report.other_topic_alerts), (1, 1));
    assert_eq!(report.none_items, 2);
    let wrong: Vec<&str> = report.errors.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(wrong, ["b", "c", "d"]);
}

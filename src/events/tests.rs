//! Unit tests of the grouping on hand-made reports and a hand-made model, so that each test
//! states exactly what it is about: the window, opposed topics, the average over an
//! event's reports, every item getting an event, the order of placing, and a stored
//! report comparing as its item did. (The fixtures in `eval_tests` use the real
//! classifier and the shipped model.)

use super::*;
use crate::domain::{Entity, FeedId, ItemId, TopicScore};
use chrono::TimeZone;

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 16, 0, 0, 0)
        .single()
        .expect("a valid date")
        + chrono::Duration::hours(hour)
}

fn topic(id: &str) -> TopicId {
    TopicId::parse(id).expect("a valid topic id")
}

/// A model that reads only the words' cosine: two reports are one story when they share
/// most of their (equally rare) words.
fn words_only() -> EventParams {
    let mut model = GroupingModel::built_in();
    model.document_frequency.clear();
    model.weights = vec![0.0; FEATURES.len()];
    model.weights[0] = 20.0;
    model.bias = -10.0;
    model.min_score = 0.5;
    EventParams::with_model(model)
}

/// An item at `hour` with `topics` and key entities `chips` (named as chips).
fn report(
    id: &str,
    hour: i64,
    title: &str,
    topics: &[&str],
    chips: &[&str],
) -> (Item, Classification) {
    let item = Item {
        id: ItemId(stable_hash(&[id])),
        feed: FeedId::parse("test").expect("a valid slug"),
        outlet: format!("outlet {id}"),
        title: title.to_string(),
        summary: String::new(),
        link: None,
        published: Some(at(hour)),
        first_seen: at(hour),
        lang: Lang::It,
    };
    let classification = Classification {
        topics: topics
            .iter()
            .map(|t| TopicScore {
                topic: topic(t),
                score: 3.0,
            })
            .collect(),
        entities: chips
            .iter()
            .map(|name| Entity {
                kind: EntityKind::Chip,
                name: name.to_string(),
            })
            .collect(),
        why: Vec::new(),
        concepts: vec![],
        actor: None,
    };
    (item, classification)
}

/// Places the reports in order and says which of them share an event, as event indexes
/// in order of first appearance.
fn check(params: EventParams, reports: &[(Item, Classification)], expect: &[usize]) {
    let mut batch = Batch::new(params);
    let mut seen: Vec<EventId> = Vec::new();
    let got: Vec<usize> = reports
        .iter()
        .map(|(item, classification)| {
            let id = batch.place(item, classification, When::Exact(item.time()));
            seen.iter().position(|s| *s == id).unwrap_or_else(|| {
                seen.push(id);
                seen.len() - 1
            })
        })
        .collect();
    assert_eq!(got, expect);
}

const GRANTED: &str = "Usa concesse Nvidia licenze vendere chip H20 Cina";
const GRANTED_AGAIN: &str = "Usa concesse Nvidia licenze vendere chip H20 Cina oggi";
const OTHER_CHIP: &str = "Usa concesse licenze vendere chip Cina";
const OTHER: &str = "Europa approva aiuti fabbrica Novara semiconduttori";

#[test]
fn retellings_join_and_other_news_stays_apart() {
    check(
        words_only(),
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 5, GRANTED_AGAIN, &["approval"], &["H20"]),
            report("c", 6, OTHER, &["approval"], &[]),
        ],
        &[0, 0, 1],
    );
}

#[test]
fn every_item_gets_an_event_and_topics_do_not_decide_grouping() {
    // The second report has no topic (the classifier missed it): it still joins the
    // story; the third, of no topic and nothing in common, starts its own event.
    check(
        words_only(),
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 1, GRANTED_AGAIN, &[], &["H20"]),
            report(
                "c",
                2,
                "Campionato riprende domenica sfida capolista",
                &[],
                &[],
            ),
        ],
        &[0, 0, 1],
    );
}

#[test]
fn opposed_clear_topics_split_and_two_sided_reports_do_not() {
    check(
        words_only(),
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            // The same words, the opposed topic: a new development.
            report("b", 48, GRANTED, &["export_ban"], &["H20"]),
            // Naming both sides is no clear topic: content decides (it joins the first).
            report("c", 49, GRANTED, &["approval", "export_ban"], &["H20"]),
        ],
        &[0, 1, 0],
    );
}

#[test]
fn reports_naming_only_different_chips_never_join() {
    check(
        words_only(),
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            // Near the same words, other chips only: another act of the same morning.
            report("b", 1, OTHER_CHIP, &["approval"], &["MI308"]),
            // One chip in common is enough for the words to decide.
            report("c", 2, GRANTED, &["approval"], &["MI308", "H20"]),
            // Naming no chip at all is no disagreement.
            report("d", 3, GRANTED_AGAIN, &["approval"], &[]),
        ],
        &[0, 1, 0, 0],
    );
}

#[test]
fn the_window_bounds_a_story_in_time() {
    let params = words_only();
    let hours = (params.window.as_secs() / 3600) as i64;
    check(
        params.clone(),
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", hours, GRANTED_AGAIN, &["approval"], &["H20"]),
            report("c", 3 * hours, GRANTED_AGAIN, &["approval"], &["H20"]),
        ],
        &[0, 0, 1],
    );
    // A window chrono cannot represent is no limit, never a panic.
    let mut unbounded = params;
    unbounded.window = Duration::MAX;
    check(
        unbounded,
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 100_000, GRANTED_AGAIN, &["approval"], &["H20"]),
        ],
        &[0, 0],
    );
}

#[test]
fn an_item_must_match_the_event_on_average_not_one_report() {
    // "b" shares half its words with "a"; "c" matches "b" closely but "a" not at all:
    // on average over the event's two reports it does not belong.
    check(
        words_only(),
        &[
            report("a", 0, "alfa beta gamma delta", &[], &[]),
            report("b", 1, "alfa beta gamma delta epsilon", &[], &[]),
            report("c", 2, "epsilon zeta", &[], &[]),
        ],
        &[0, 0, 1],
    );
}

#[test]
fn empty_and_odd_items_never_panic_and_each_gets_an_event() {
    check(
        EventParams::default(),
        &[
            report("a", 0, "", &["approval"], &[]),
            report("b", 0, "", &[], &[]),
            report("c", 0, "¿¡!! 🚀", &["approval"], &["H20"]),
        ],
        &[0, 1, 2],
    );
}

#[test]
fn items_are_placed_by_time_and_unknown_times_go_last() {
    let whens = [
        When::Unknown,
        When::Exact(at(5)),
        When::Between(at(0), at(4)),
        When::Exact(at(1)),
        When::Unknown,
    ];
    assert_eq!(processing_order(&whens), vec![3, 2, 1, 0, 4]);
    assert!(processing_order(&[]).is_empty());
    // Spans: overlapping is no gap; unknown has none.
    assert_eq!(
        When::Between(at(0), at(10)).gap(&When::Exact(at(4))),
        Some(chrono::Duration::zero())
    );
    assert_eq!(
        When::Exact(at(0)).gap(&When::Exact(at(30))),
        Some(chrono::Duration::hours(30))
    );
    assert_eq!(When::Unknown.gap(&When::Exact(at(0))), None);
}

#[test]
fn pair_features_read_figures_actors_and_heads() {
    let params = EventParams::default();
    let with = |id: &str, title: &str, lead: &str, actor: Option<&str>| {
        let (mut item, mut classification) = report(id, 0, title, &[], &[]);
        item.summary = lead.to_string();
        classification.actor = actor.map(str::to_string);
        vector(&params, &item, &classification, When::Exact(at(0)))
    };
    let names: Vec<&str> = FEATURES.to_vec();
    let feature = |features: &[f32; FEATURES.len()], name: &str| {
        features[names.iter().position(|n| *n == name).expect("a feature")]
    };
    // 590 and 600 agree within 5 %; years never count as figures.
    let a = with(
        "a",
        "Nvidia perde 590 miliardi nel 2025",
        "",
        Some("United States"),
    );
    let b = with(
        "b",
        "Nvidia brucia 600 miliardi nel 2025",
        "",
        Some("China"),
    );
    let features = pair_features(&a, &b);
    assert_eq!(feature(&features, "shared_figures"), 1.0);
    assert_eq!(feature(&features, "figures_disagree"), 0.0);
    assert_eq!(feature(&features, "actors_disagree"), 1.0);
    let c = with("c", "Nvidia perde 100 miliardi nel 2025", "", None);
    let features = pair_features(&a, &c);
    assert_eq!(feature(&features, "figures_disagree"), 1.0);
    assert_eq!(feature(&features, "actors_disagree"), 0.0);
    // The head is the title and the lead's first sentence: what follows is background.
    let d = with(
        "d",
        "",
        "Pechino vieta chip americani nei data center statali. Alfa beta gamma delta.",
        None,
    );
    let e = with(
        "e",
        "",
        "Pechino vieta chip americani nei data center statali. Epsilon zeta eta theta.",
        None,
    );
    let features = pair_features(&d, &e);
    assert!(feature(&features, "head_cosine") > 0.99, "{features:?}");
    assert!(feature(&features, "word_cosine") < 0.9, "{features:?}");
}

#[test]
fn a_stored_report_compares_as_its_item_did() {
    // The poller stores events and reloads them each poll: a reloaded report must score
    // a new item exactly as the original item would have.
    let params = EventParams::default();
    let (mut item, mut classification) = report(
        "a",
        0,
        "Usa, licenze per H20 a Nvidia: 15 per cento",
        &["approval"],
        &["H20"],
    );
    item.summary = "Il Commercio concede le licenze. Poi altro testo di contorno.".into();
    classification.actor = Some("United States".into());
    classification.concepts = vec![std::sync::Arc::from("licence")];
    let (mut other, other_classification) = report(
        "b",
        3,
        "Nvidia ottiene le licenze H20 dal Commercio",
        &["approval"],
        &["H20"],
    );
    other.summary = "Via libera con il 15 per cento dei ricavi.".into();
    let fresh = vector(&params, &item, &classification, When::Exact(at(0)));
    let newcomer = vector(&params, &other, &other_classification, When::Exact(at(3)));
    let mut grouper = Grouper::new(params.clone());
    grouper.place(&item, &classification, When::Exact(at(0)), |_| false);
    let stored = grouper.into_events();
    let reloaded = Grouper::with_events(params, stored.clone());
    assert_eq!(reloaded.events(), stored.as_slice());
    let from_store = reloaded_vector(&reloaded);
    assert_eq!(
        pair_features(&newcomer, &from_store),
        pair_features(&newcomer, &fresh)
    );
}

fn reloaded_vector(grouper: &Grouper) -> Vector {
    grouper.vectors_of(0)[0].clone()
}

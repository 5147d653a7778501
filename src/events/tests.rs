//! Unit tests of the grouping rule on hand-made classifications, so that each test states
//! exactly the topics and entities it is about (the fixtures in `eval_tests` use the real
//! classifier).

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
    };
    (item, classification)
}

/// Places the reports in order and says which of them share an event, as event indexes
/// in order of first appearance (`None` for an irrelevant report).
fn check(reports: &[(Item, Classification)], expect: &[Option<usize>]) {
    let mut batch = Batch::new(EventParams::default());
    let mut seen: Vec<EventId> = Vec::new();
    let got: Vec<Option<usize>> = reports
        .iter()
        .map(|(item, classification)| {
            let id = batch.place(item, classification)?;
            Some(seen.iter().position(|s| *s == id).unwrap_or_else(|| {
                seen.push(id);
                seen.len() - 1
            }))
        })
        .collect();
    assert_eq!(got, expect);
}

const GRANTED: &str = "Usa, concesse a Nvidia le licenze per vendere i chip H20 alla Cina";
const GRANTED_AGAIN: &str = "Nvidia ottiene le licenze: i chip H20 tornano in Cina";
const REVOKED: &str = "Usa, revocate a Nvidia le licenze per vendere i chip H20 alla Cina";
const REVOKED_BOTH: &str = "Revocate le licenze H20 concesse a Nvidia per la Cina";

#[test]
fn retellings_of_one_story_are_one_event() {
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 5, GRANTED_AGAIN, &["approval"], &["H20"]),
        ],
        &[Some(0), Some(0)],
    );
}

#[test]
fn a_revocation_after_a_grant_is_a_new_event() {
    // Nearly the same words and the same chip: only the topic tells them apart.
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 48, REVOKED, &["export_ban"], &["H20"]),
            report("c", 50, GRANTED_AGAIN, &["approval"], &["H20"]),
        ],
        &[Some(0), Some(1), Some(0)],
    );
}

#[test]
fn an_item_naming_both_sides_joins_the_newer_development() {
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 48, REVOKED, &["export_ban"], &["H20"]),
            report("c", 49, REVOKED_BOTH, &["approval", "export_ban"], &["H20"]),
        ],
        &[Some(0), Some(1), Some(1)],
    );
}

#[test]
fn the_first_item_naming_both_sides_starts_the_development() {
    // With only the grant known, "revoked the licences granted" is news, not a retelling;
    // the next one-sided revocation report then joins it.
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report("b", 48, REVOKED_BOTH, &["approval", "export_ban"], &["H20"]),
            report("c", 49, REVOKED, &["export_ban"], &["H20"]),
        ],
        &[Some(0), Some(1), Some(1)],
    );
}

#[test]
fn a_topic_that_is_not_opposed_does_not_split_a_story() {
    check(
        &[
            report(
                "a",
                0,
                "Cina, stretta su gallio e germanio",
                &["rare_earths"],
                &[],
            ),
            report(
                "b",
                3,
                "Cina, stretta all'export di gallio e germanio",
                &["export_ban", "rare_earths"],
                &[],
            ),
        ],
        &[Some(0), Some(0)],
    );
}

#[test]
fn the_same_story_outside_the_window_is_a_new_event() {
    let window_hours = (EventParams::default().window.as_secs() / 3600) as i64;
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report(
                "b",
                window_hours + 1,
                GRANTED_AGAIN,
                &["approval"],
                &["H20"],
            ),
        ],
        &[Some(0), Some(1)],
    );
}

#[test]
fn unrelated_items_of_one_topic_stay_apart_and_irrelevant_ones_join_nothing() {
    check(
        &[
            report("a", 0, GRANTED, &["approval"], &["H20"]),
            report(
                "b",
                1,
                "L'Europa approva gli aiuti per la fabbrica di chip di Novara",
                &["approval"],
                &[],
            ),
            report("c", 2, GRANTED_AGAIN, &[], &["H20"]),
        ],
        &[Some(0), Some(1), None],
    );
}

#[test]
fn empty_and_odd_items_never_panic() {
    check(
        &[
            report("a", 0, "", &["approval"], &[]),
            report("b", 0, "", &["approval"], &[]),
            report("c", 0, "¿¡!! 🚀", &["approval"], &["H20"]),
        ],
        // Nothing in common: no words, no entities, so no similarity.
        &[Some(0), Some(1), Some(2)],
    );
    let extreme = EventParams {
        window: Duration::MAX,
        ..EventParams::default()
    };
    let (item, classification) = report("d", 0, GRANTED, &["approval"], &["H20"]);
    let event = new_event(
        &item,
        &classification,
        &features(&item, &classification),
        |_| false,
    );
    let (item, classification) = report("e", 1, GRANTED, &["approval"], &["H20"]);
    assert!(similarity(&event, &features(&item, &classification), &extreme) > 0.9);
}

#[test]
fn weighted_jaccard_counts_entities_as_several_words() {
    let (item, classification) = report("a", 0, "alfa beta", &["approval"], &["H20"]);
    let one = features(&item, &classification);
    let (item, classification) = report("b", 0, "alfa gamma", &["approval"], &["H20"]);
    let other = features(&item, &classification);
    let event = new_event(&item, &classification, &other, |_| false);
    let params = EventParams::default();
    let weight = params.entity_weight;
    // Shared: alfa (1) + H20 (4); union: alfa, beta, gamma (3) + H20 (4).
    let expect = (1.0 + weight) / (3.0 + weight);
    assert!((weighted_jaccard(&one, &event.sources[0], &params) - expect).abs() < 1e-6);
}

#[test]
fn undated_items_take_their_neighbours_time_and_keep_their_place() {
    let dates = [None, Some(at(5)), None, Some(at(1)), None];
    let order = processing_order(&dates);
    assert_eq!(
        order,
        vec![(3, at(1)), (4, at(1)), (0, at(5)), (1, at(5)), (2, at(5))]
    );
    assert_eq!(
        processing_order(&[None, None]),
        vec![(0, DateTime::UNIX_EPOCH), (1, DateTime::UNIX_EPOCH)]
    );
    assert!(processing_order(&[]).is_empty());
}

#[test]
fn concepts_count_between_languages_only_and_numbers_are_words() {
    let with_concepts = |id: &str, title: &str, lang: Lang, concepts: &[&str]| {
        let (mut item, mut classification) = report(id, 0, title, &["export_ban"], &[]);
        item.lang = lang;
        classification.concepts = concepts.iter().map(|c| std::sync::Arc::from(*c)).collect();
        (item, classification)
    };
    let concepts = ["licence", "obligation", "trade"];
    let params = EventParams::default();
    // An Italian and an English report with no word in common: the shared concepts and the
    // shared figure are what ties them.
    let (item, classification) =
        with_concepts("it", "Malesia impone permessi: 15", Lang::It, &concepts);
    let italian = features(&item, &classification);
    assert!(italian.tokens.contains("15"), "{:?}", italian.tokens);
    let event = new_event(&item, &classification, &italian, |_| false);
    let (item, classification) =
        with_concepts("en", "Malaysia requires permits: 15", Lang::En, &concepts);
    let english = features(&item, &classification);
    let across = weighted_jaccard(&english, &event.sources[0], &params);
    // Four words each, "15" shared (1 of 7); three concepts shared of three.
    let w = params.concept_weight;
    assert!(
        (across - (1.0 + 3.0 * w) / (7.0 + 3.0 * w)).abs() < 1e-6,
        "{across}"
    );
    // The same concepts in two Italian reports count for nothing: only their words do.
    let (item, classification) =
        with_concepts("it2", "Germania vieta vendite: 15", Lang::It, &concepts);
    let other_italian = features(&item, &classification);
    let within = weighted_jaccard(&other_italian, &event.sources[0], &params);
    assert!((within - 1.0 / 7.0).abs() < 1e-6, "{within}");
}

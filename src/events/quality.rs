//! Pure: how close a grouping is to the true stories. Pairwise precision and recall (of
//! all item pairs, those put in one event against those of one story), B-cubed precision
//! and recall (per item: how much of its event is its story, and of its story its event),
//! and the worst splits and merges, so that a reader sees what went wrong.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The harmonic mean of precision and recall (0 when both are).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

impl Prf {
    fn new(precision: f64, recall: f64) -> Prf {
        Prf {
            precision,
            recall,
            f1: f1(precision, recall),
        }
    }
}

/// A story told in more than one event, or an event mixing more than one story.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mix {
    /// The story (for a split) or the event (for a merge).
    pub name: String,
    /// What it was spread over: events of a story, stories of an event, with their items.
    pub parts: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryReport {
    pub items: usize,
    pub stories: usize,
    pub events: usize,
    pub pairwise: Prf,
    pub bcubed: Prf,
    /// Stories split over several events, most parts first.
    pub splits: Vec<Mix>,
    /// Events that hold several stories, most parts first.
    pub merges: Vec<Mix>,
}

/// The items of each label (the first `n` labels).
fn group(labels: &[String], n: usize) -> BTreeMap<&str, Vec<usize>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, label) in labels.iter().take(n).enumerate() {
        groups.entry(label.as_str()).or_default().push(i);
    }
    groups
}

/// Judges `events` (one per item) against `stories` (one per item); `ids` name the items.
pub fn judge(ids: &[String], events: &[String], stories: &[String]) -> StoryReport {
    let n = ids.len().min(events.len()).min(stories.len());
    let (mut both, mut same_event, mut same_story) = (0u64, 0u64, 0u64);
    for i in 0..n {
        for j in i + 1..n {
            let e = events[i] == events[j];
            let s = stories[i] == stories[j];
            both += u64::from(e && s);
            same_event += u64::from(e);
            same_story += u64::from(s);
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let pairwise = Prf::new(ratio(both, same_event), ratio(both, same_story));
    let (by_event, by_story) = (group(events, n), group(stories, n));
    // B-cubed: for each item, the share of its event that is its story, and of its story
    // that is its event.
    let (mut precision, mut recall) = (0.0, 0.0);
    for i in 0..n {
        let event = &by_event[events[i].as_str()];
        let story = &by_story[stories[i].as_str()];
        let common = event.iter().filter(|&&j| stories[j] == stories[i]).count() as f64;
        precision += common / event.len() as f64;
        recall += common / story.len() as f64;
    }
    let count = n.max(1) as f64;
    let bcubed = Prf::new(precision / count, recall / count);
    let mixes = |outer: &BTreeMap<&str, Vec<usize>>, inner: &[String]| {
        let mut mixes: Vec<Mix> = outer
            .iter()
            .filter_map(|(name, members)| {
                let mut parts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for &i in members {
                    parts
                        .entry(inner[i].as_str())
                        .or_default()
                        .push(ids[i].clone());
                }
                (parts.len() > 1).then(|| Mix {
                    name: name.to_string(),
                    parts: parts
                        .into_iter()
                        .map(|(part, items)| (part.to_string(), items))
                        .collect(),
                })
            })
            .collect();
        mixes.sort_by(|a, b| b.parts.len().cmp(&a.parts.len()).then(a.name.cmp(&b.name)));
        mixes
    };
    StoryReport {
        items: n,
        stories: by_story.len(),
        events: by_event.len(),
        pairwise,
        bcubed,
        splits: mixes(&by_story, events),
        merges: mixes(&by_event, stories),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairwise_and_bcubed_count_what_they_should() {
        // Stories: a a a b; events: x x y y — one split (a), one merge (y: a + b).
        let ids = strings(&["1", "2", "3", "4"]);
        let report = judge(
            &ids,
            &strings(&["x", "x", "y", "y"]),
            &strings(&["a", "a", "a", "b"]),
        );
        // Pairs: same event {12, 34}; same story {12, 13, 23}; both {12}.
        assert_eq!(report.pairwise.precision, 0.5);
        assert!((report.pairwise.recall - 1.0 / 3.0).abs() < 1e-12);
        // B-cubed precision: 1, 1, 1/2, 1/2 → 0.75; recall: 2/3, 2/3, 1/3, 1 → 2/3.
        assert!((report.bcubed.precision - 0.75).abs() < 1e-12);
        assert!((report.bcubed.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((report.stories, report.events), (2, 2));
        assert_eq!(report.splits.len(), 1);
        assert_eq!(report.splits[0].name, "a");
        assert_eq!(report.merges.len(), 1);
        assert_eq!(report.merges[0].name, "y");
        assert_eq!(
            report.merges[0].parts,
            vec![
                ("a".to_string(), strings(&["3"])),
                ("b".to_string(), strings(&["4"]))
            ]
        );
        // A perfect grouping scores 1 everywhere.
        let perfect = judge(
            &ids,
            &strings(&["x", "x", "x", "y"]),
            &strings(&["a", "a", "a", "b"]),
        );
        assert_eq!((perfect.pairwise.f1, perfect.bcubed.f1), (1.0, 1.0));
        assert!(perfect.splits.is_empty() && perfect.merges.is_empty());
    }
}

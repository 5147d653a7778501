//! From rule firings to reported topics: each topic's score from the firings that have their
//! context, the threshold, the yields-to check, and a sentence in `why` for every point of a
//! reported topic. Reads what `score::evaluate` fired; decides nothing about matching.

use super::Rules;
use super::matcher::TermHit;
use super::score::{Firing, Item};
use crate::domain::TopicScore;

/// One topic's tally before the yields-to check. Reasons are written only for the topics
/// that are reported: most firings on most items stay under a threshold.
struct Tally<'a> {
    score: f32,
    in_title: bool,
    counted: Vec<(Firing, Option<&'a str>)>,
}

/// What the rules saw of an item, whether or not a topic reached its threshold: how the
/// learned model reads the rule engine (see `model.rs`).
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Per topic, the points of its counted firings (those with their context).
    pub raw: Vec<f32>,
    /// The rules counted, each once: (rule, in the title).
    pub counted: Vec<(u32, bool)>,
    /// Matches an `unless` group cancelled: (rule, index of the group in its `unless`).
    pub cancelled: Vec<(u32, u32)>,
}

pub(super) fn topic_scores(
    rules: &Rules,
    item: &Item<'_>,
    fired: &[Firing],
    why: &mut Vec<String>,
    signals: &mut Signals,
) -> Vec<TopicScore> {
    signals.raw.clear();
    signals.counted.clear();
    let tallies: Vec<Option<Tally>> = (0..rules.topics.len() as u32)
        .map(|topic| {
            let tally = tally(rules, item, fired, topic);
            signals.raw.push(tally.score);
            signals
                .counted
                .extend(tally.counted.iter().map(|(f, _)| (f.rule, f.in_title)));
            (tally.score >= rules.topics[topic as usize].threshold).then_some(tally)
        })
        .collect();
    let mut scores = Vec::new();
    for (index, tally) in tallies.iter().enumerate() {
        let Some(tally) = tally else { continue };
        // Background: the headline is about a topic this one yields to, and this one
        // shows up only in the body (the ban described in a story about its lifting).
        let yields = !tally.in_title
            && rules.topics[index]
                .yields_to
                .iter()
                .any(|&other| tallies[other as usize].as_ref().is_some_and(|t| t.in_title));
        if !yields {
            let id = rules.info[index].id.clone();
            scores.push((
                index,
                TopicScore {
                    topic: id,
                    score: tally.score,
                },
            ));
            for (firing, context) in &tally.counted {
                why.push(describe(rules, item, firing, *context));
            }
        }
    }
    scores.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
    scores.into_iter().map(|(_, score)| score).collect()
}

/// A topic's score from its firings that have their context.
fn tally<'a>(rules: &Rules, item: &'a Item<'_>, fired: &[Firing], topic_index: u32) -> Tally<'a> {
    let topic = &rules.topics[topic_index as usize];
    let mut tally = Tally {
        score: 0.0,
        in_title: false,
        counted: Vec::new(),
    };
    // Firings come sorted by rule, best first: each rule counts once, at its first firing
    // that has the context (a headline match without it must not hide one in the lead).
    let mut counted_rule = None;
    for firing in fired
        .iter()
        .filter(|f| rules.rules[f.rule as usize].topic == topic_index)
    {
        if counted_rule == Some(firing.rule) {
            continue;
        }
        let main = item.hits[firing.hit as usize];
        let partner = firing.partner.map(|p| item.hits[p as usize]);
        let context = match topic.context {
            None => Context::NotNeeded,
            Some(group) => context_of(rules, item, main, partner, group, topic.context_within),
        };
        let shown = match context {
            // A policy topic with no chip/AI word close enough is about something else.
            Context::Missing => continue,
            Context::Found(text) => Some(text),
            Context::NotNeeded | Context::InTerms => None,
        };
        counted_rule = Some(firing.rule);
        tally.score += points(rules, firing);
        tally.in_title |= firing.in_title;
        tally.counted.push((*firing, shown));
    }
    tally
}

enum Context<'a> {
    NotNeeded,
    /// The rule's own terms are context words.
    InTerms,
    /// The closest context word.
    Found(&'a str),
    Missing,
}

fn context_of<'a>(
    rules: &Rules,
    item: &'a Item<'_>,
    main: TermHit,
    partner: Option<TermHit>,
    group: u32,
    within: u32,
) -> Context<'a> {
    let in_group = |hit: TermHit| rules.groups.contains(hit.term, group);
    if in_group(main) || partner.is_some_and(in_group) {
        return Context::InTerms;
    }
    let best = item
        .hits
        .iter()
        .filter(|hit| in_group(**hit))
        // A context term overlapping the match (an "ai diffusion rule" around "rule") is at 0.
        .map(|hit| (item.gap(main, *hit).unwrap_or(0), hit))
        .min_by_key(|(gap, _)| *gap);
    match best {
        Some((gap, hit)) if within == 0 || gap <= within => Context::Found(item.text(*hit)),
        _ => Context::Missing,
    }
}

/// The points a firing earns: its rule's weight, boosted in the title.
fn points(rules: &Rules, firing: &Firing) -> f32 {
    let weight = rules.rules[firing.rule as usize].weight;
    if firing.in_title {
        weight * rules.title_boost
    } else {
        weight
    }
}

/// The sentence that says why a firing counted, e.g.
/// `export_ban: "divieto" near "vendita" + context "chip" (+3.0)`.
fn describe(rules: &Rules, item: &Item<'_>, firing: &Firing, context: Option<&str>) -> String {
    use std::fmt::Write;
    let def = &rules.rules[firing.rule as usize];
    let topic = rules.info[def.topic as usize].id.as_str();
    let main = item.hits[firing.hit as usize];
    let partner = firing.partner.map(|p| item.hits[p as usize]);
    let points = points(rules, firing);
    // One buffer written in place: building the parts with `format!` and appending them
    // cost more than the rest of scoring.
    let mut reason = String::with_capacity(96);
    // Writing to a String cannot fail.
    let _ = match (def.flips, partner) {
        (Some(target), Some(partner)) => {
            let start = main.start.min(partner.start) as usize;
            let end = main.end.max(partner.end) as usize;
            let target = rules.info[target as usize].id.as_str();
            write!(
                reason,
                "{topic}: \"{}\" flips {target}",
                item.folded.span(start, end)
            )
        }
        (_, Some(partner)) => write!(
            reason,
            "{topic}: \"{}\" near \"{}\"",
            item.text(main),
            item.text(partner)
        ),
        (_, None) => write!(reason, "{topic}: \"{}\"", item.text(main)),
    };
    if let Some(context) = context {
        let _ = write!(reason, " + context \"{context}\"");
    }
    if firing.in_title {
        reason.push_str(" in title");
    }
    // Tenths by integer arithmetic: float formatting is the slowest thing on this path.
    let tenths = (points * 10.0).round() as i64;
    let sign = if tenths < 0 { '-' } else { '+' };
    let (whole, tenth) = (tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10);
    let _ = write!(reason, " ({sign}{whole}.{tenth})");
    reason
}

//! Scores topics from term hits: rules fire (with their proximity and negation checks),
//! lifting rules flip the terms they consume away from the topic they would feed, each rule
//! counts once (more in the title), and a topic needs its context and its threshold.
//! Every point scored carries a sentence in `why`.

use super::Rules;
use super::matcher::{MAX_TERM_WORDS, TermHit};
use super::normalize::Folded;
use crate::domain::TopicScore;

/// Reused buffers for one evaluation (see `Scratch` in mod.rs).
#[derive(Debug, Default)]
pub(crate) struct ScoreScratch {
    candidates: Vec<(u32, u32)>,
    flipped: Vec<(u32, u32, u32)>,
    fired: Vec<Firing>,
}

/// One rule firing: the hit that matched and the `near` hit that let it, and how many
/// words lay between them (0 without `near`).
#[derive(Debug, Clone, Copy)]
struct Firing {
    rule: u32,
    hit: u32,
    partner: Option<u32>,
    gap: u32,
    in_title: bool,
}

/// What the evaluation needs to know about the item besides its hits.
pub(crate) struct Item<'a> {
    pub folded: &'a Folded,
    pub hits: &'a [TermHit],
    pub title_words: u32,
}

impl Item<'_> {
    /// Words between two spans; spans on both sides of the title's end are never near.
    fn gap(&self, a: TermHit, b: TermHit) -> Option<u32> {
        if a.start < b.end && b.start < a.end {
            return None;
        }
        let raw = if a.end <= b.start {
            b.start - a.end
        } else {
            a.start - b.end
        };
        let crosses = (a.start < self.title_words) != (b.start < self.title_words);
        Some(if crosses {
            raw.saturating_add(1000)
        } else {
            raw
        })
    }

    /// The hits that can lie within `within` words of `main`, with their indexes. Hits are
    /// sorted by start and no term is longer than `MAX_TERM_WORDS`, so this window is exact
    /// and keeps proximity checks linear on a huge text.
    fn window(&self, main: TermHit, within: u32) -> impl Iterator<Item = (u32, TermHit)> + '_ {
        let low = main
            .start
            .saturating_sub(within.saturating_add(MAX_TERM_WORDS as u32));
        let high = main.end.saturating_add(within);
        let first = self.hits.partition_point(|hit| hit.start < low);
        self.hits[first..]
            .iter()
            .take_while(move |hit| hit.start <= high)
            .enumerate()
            .map(move |(offset, hit)| ((first + offset) as u32, *hit))
    }

    fn text(&self, hit: TermHit) -> &str {
        self.folded.span(hit.start as usize, hit.end as usize)
    }
}

pub(crate) fn evaluate(
    rules: &Rules,
    item: &Item<'_>,
    scratch: &mut ScoreScratch,
    why: &mut Vec<String>,
) -> Vec<TopicScore> {
    // 1. Which (rule, hit) pairs could fire, grouped by rule.
    scratch.candidates.clear();
    for (index, hit) in item.hits.iter().enumerate() {
        for &rule in &rules.term_rules[hit.term as usize] {
            scratch.candidates.push((rule, index as u32));
        }
    }
    scratch.candidates.sort_unstable();
    // 2. Lifting rules first: what they consume must be gone before the others look.
    scratch.flipped.clear();
    scratch.fired.clear();
    let candidates = std::mem::take(&mut scratch.candidates);
    for pass_flips in [true, false] {
        for &(rule, hit) in &candidates {
            let def = &rules.rules[rule as usize];
            if def.flips.is_some() != pass_flips
                || (!pass_flips && is_flipped(&scratch.flipped, item, def.topic, hit))
            {
                continue;
            }
            // Lifting rules see every term; the others only what the lifting left.
            let flipped: &[(u32, u32, u32)] = if pass_flips { &[] } else { &scratch.flipped };
            let Some(partner) = check(rules, item, flipped, rule, hit) else {
                continue;
            };
            scratch.fired.push(Firing {
                rule,
                hit,
                partner: partner.map(|(index, _)| index),
                gap: partner.map_or(0, |(_, gap)| gap),
                in_title: item.hits[hit as usize].start < item.title_words,
            });
        }
        if pass_flips {
            resolve_lifting(rules, item, &mut scratch.fired);
            for firing in &scratch.fired {
                // Both the lifting word and what it lifts stop counting for the target.
                let def = &rules.rules[firing.rule as usize];
                if let (Some(target), Some(p)) = (def.flips, firing.partner) {
                    let (main, span) = (item.hits[firing.hit as usize], item.hits[p as usize]);
                    let (start, end) = (main.start.min(span.start), main.end.max(span.end));
                    scratch.flipped.push((target, start, end));
                }
            }
            // Sorted once the lifting pass is done, so that `is_flipped` can search it.
            scratch.flipped.sort_unstable();
        }
    }
    scratch.candidates = candidates;
    // 3. Each rule counts once, at its best firing (a title firing beats a body one).
    scratch.fired.sort_by_key(|f| (f.rule, !f.in_title, f.hit));
    scratch.fired.dedup_by_key(|f| f.rule);
    topic_scores(rules, item, &scratch.fired, why)
}

/// One verb, two opposite readings: "revoca le licenze" (a ban) and "revoca il divieto" (an
/// approval) both fire on "revoca" when a licence and a ban word are both near. What is
/// revoked is the closer object, so where two lifting rules flip each other's topic from the
/// same word, the one with the farther `near` term gives way (a tie keeps both).
fn resolve_lifting(rules: &Rules, item: &Item<'_>, fired: &mut Vec<Firing>) {
    let opposed = |a: &Firing, b: &Firing| {
        let (rule_a, rule_b) = (&rules.rules[a.rule as usize], &rules.rules[b.rule as usize]);
        let (hit_a, hit_b) = (item.hits[a.hit as usize], item.hits[b.hit as usize]);
        rule_a.flips == Some(rule_b.topic)
            && rule_b.flips == Some(rule_a.topic)
            && hit_a.start < hit_b.end
            && hit_b.start < hit_a.end
    };
    let mut index = 0;
    while index < fired.len() {
        let firing = fired[index];
        let beaten = fired
            .iter()
            .any(|other| opposed(&firing, other) && other.gap < firing.gap);
        if beaten {
            fired.remove(index);
        } else {
            index += 1;
        }
    }
}

/// Whether a lifting rule consumed `hit` for `topic`. `flipped` is sorted by (topic, start)
/// and spans are at most `MAX_TERM_WORDS` long, so only a short run needs looking at.
fn is_flipped(flipped: &[(u32, u32, u32)], item: &Item<'_>, topic: u32, hit: u32) -> bool {
    let hit = item.hits[hit as usize];
    let low = (topic, hit.start.saturating_sub(MAX_TERM_WORDS as u32), 0);
    let first = flipped.partition_point(|entry| *entry < low);
    flipped[first..]
        .iter()
        .take_while(|&&(target, start, _)| target == topic && start < hit.end)
        .any(|&(_, start, end)| hit.start < end && start < hit.end)
}

/// Whether `rule` fires at `hit`: no `unless` term close by, and (if it has one) a `near`
/// term close enough. Returns the closest `near` hit and its gap, if the rule has `near`.
fn check(
    rules: &Rules,
    item: &Item<'_>,
    flipped: &[(u32, u32, u32)],
    rule: u32,
    hit: u32,
) -> Option<Option<(u32, u32)>> {
    let def = &rules.rules[rule as usize];
    let main = item.hits[hit as usize];
    for &(group, within) in &def.unless {
        let negated = item.window(main, within).any(|(_, other)| {
            rules.groups.contains(other.term, group)
                && item.gap(main, other).is_some_and(|gap| gap <= within)
        });
        if negated {
            return None;
        }
    }
    let Some((group, within)) = def.near else {
        return Some(None);
    };
    let mut best: Option<(u32, u32)> = None;
    for (index, other) in item.window(main, within) {
        // A term another rule lifted away from this topic cannot help it either.
        if !rules.groups.contains(other.term, group) || is_flipped(flipped, item, def.topic, index)
        {
            continue;
        }
        let Some(gap) = item.gap(main, other) else {
            continue;
        };
        if gap <= within && best.is_none_or(|(_, best_gap)| gap < best_gap) {
            best = Some((index, gap));
        }
    }
    best.map(Some)
}

/// One topic's tally before the yields-to check. Reasons are written only for the topics
/// that are reported: most firings on most items stay under a threshold.
struct Tally<'a> {
    score: f32,
    in_title: bool,
    counted: Vec<(Firing, Option<&'a str>)>,
}

fn topic_scores(
    rules: &Rules,
    item: &Item<'_>,
    fired: &[Firing],
    why: &mut Vec<String>,
) -> Vec<TopicScore> {
    let tallies: Vec<Option<Tally>> = (0..rules.topics.len() as u32)
        .map(|topic| tally(rules, item, fired, topic))
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

/// A topic's score from its firings that have their context; `None` under the threshold.
fn tally<'a>(
    rules: &Rules,
    item: &'a Item<'_>,
    fired: &[Firing],
    topic_index: u32,
) -> Option<Tally<'a>> {
    let topic = &rules.topics[topic_index as usize];
    let mut tally = Tally {
        score: 0.0,
        in_title: false,
        counted: Vec::new(),
    };
    for firing in fired
        .iter()
        .filter(|f| rules.rules[f.rule as usize].topic == topic_index)
    {
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
        tally.score += points(rules, firing);
        tally.in_title |= firing.in_title;
        tally.counted.push((*firing, shown));
    }
    (tally.score >= topic.threshold).then_some(tally)
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
    let def = &rules.rules[firing.rule as usize];
    let topic = rules.info[def.topic as usize].id.as_str();
    let main = item.hits[firing.hit as usize];
    let partner = firing.partner.map(|p| item.hits[p as usize]);
    let points = points(rules, firing);
    let mut reason = match (def.flips, partner) {
        (Some(target), Some(partner)) => {
            let start = main.start.min(partner.start) as usize;
            let end = main.end.max(partner.end) as usize;
            let target = rules.info[target as usize].id.as_str();
            format!(
                "{topic}: \"{}\" flips {target}",
                item.folded.span(start, end)
            )
        }
        (_, Some(partner)) => format!(
            "{topic}: \"{}\" near \"{}\"",
            item.text(main),
            item.text(partner)
        ),
        (_, None) => format!("{topic}: \"{}\"", item.text(main)),
    };
    if let Some(context) = context {
        reason.push_str(&format!(" + context \"{context}\""));
    }
    if firing.in_title {
        reason.push_str(" in title");
    }
    // Tenths by integer arithmetic: float formatting is the slowest thing on this path.
    let tenths = (points * 10.0).round() as i64;
    let sign = if tenths < 0 { '-' } else { '+' };
    let (whole, tenth) = (tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10);
    reason.push_str(&format!(" ({sign}{whole}.{tenth})"));
    reason
}

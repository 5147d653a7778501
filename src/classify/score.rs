//! Fires rules on term hits: proximity and negation checks, lifting rules that flip the terms
//! they consume away from the topic they would feed (the closer object wins between two
//! opposed lifts), and each rule counted once, at its best firing. `tally` turns the firings
//! into topics, with their context, threshold and reasons.

use super::Rules;
use super::matcher::{MAX_TERM_WORDS, TermHit};
use super::normalize::Folded;
use super::tally::{Signals, topic_scores};
use crate::domain::TopicScore;

/// How far past a lifting verb's object its description can reach (see `object_end`).
const OBJECT_REACH: u32 = 20;

/// How many words a clause break adds to the distance between a term and its `near` partner.
const CLAUSE_PENALTY: u32 = 4;

/// Reused buffers for one evaluation (see `Scratch` in mod.rs).
#[derive(Debug, Default)]
pub(crate) struct ScoreScratch {
    candidates: Vec<(u32, u32)>,
    flipped: Vec<(u32, u32, u32)>,
    fired: Vec<Firing>,
    pub signals: Signals,
}

/// One rule firing: the hit that matched and the `near` hit that let it, and how many
/// words lay between them (0 without `near`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Firing {
    pub rule: u32,
    pub hit: u32,
    pub partner: Option<u32>,
    pub gap: u32,
    pub in_title: bool,
}

/// What the evaluation needs to know about the item besides its hits.
pub(crate) struct Item<'a> {
    pub folded: &'a Folded,
    pub hits: &'a [TermHit],
    pub title_words: u32,
}

impl Item<'_> {
    /// Words between two spans; spans on both sides of the title's end are never near.
    pub(super) fn gap(&self, a: TermHit, b: TermHit) -> Option<u32> {
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

    /// Where the object of a lifting verb ends, given the end of the words it matched:
    /// at the next clause break or contrast word, at most `OBJECT_REACH` words on. What a
    /// lifted rule did ("la norma che estendeva le restrizioni della Entity List") is its
    /// description, not news of a ban; what follows "ma", "but" or a comma may be.
    fn object_end(&self, end: u32) -> u32 {
        let folded = self.folded;
        let breaks = &folded.clause_breaks;
        let next_break = breaks
            .get(breaks.partition_point(|&k| k < end))
            .copied()
            .unwrap_or(u32::MAX);
        let limit = next_break
            .min(end.saturating_add(OBJECT_REACH))
            .min(folded.word_count() as u32);
        (end..limit)
            .find(|&word| {
                matches!(
                    folded.word(word as usize),
                    "ma" | "mentre" | "pero" | "tuttavia" | "but" | "while" | "however" | "yet"
                )
            })
            .unwrap_or(limit.max(end))
    }

    /// Whether a clause break (punctuation, the title's end) lies between two spans.
    fn crosses_clause(&self, a: TermHit, b: TermHit) -> bool {
        let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
        self.folded.breaks_between(first.end, second.start)
    }

    pub(super) fn text(&self, hit: TermHit) -> &str {
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
    scratch.signals.cancelled.clear();
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
            let partner = match check(rules, item, flipped, rule, hit) {
                Outcome::Fires(partner) => partner,
                Outcome::Cancelled(unless) => {
                    if !pass_flips {
                        scratch.signals.cancelled.push((rule, unless));
                    }
                    continue;
                }
                Outcome::Nothing => continue,
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
                    scratch.flipped.push((target, start, item.object_end(end)));
                }
            }
        }
    }
    scratch.candidates = candidates;
    // 3. Each rule counts once, at its best firing that has its topic's context (a title
    //    firing beats a body one): `tally` takes the first of each rule in this order.
    scratch.fired.sort_by_key(|f| (f.rule, !f.in_title, f.hit));
    topic_scores(rules, item, &scratch.fired, why, &mut scratch.signals)
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

/// Whether a lifting rule consumed `hit` for `topic`. There are only ever a few lifted
/// spans, so a scan is the cheapest search.
fn is_flipped(flipped: &[(u32, u32, u32)], item: &Item<'_>, topic: u32, hit: u32) -> bool {
    let hit = item.hits[hit as usize];
    flipped
        .iter()
        .any(|&(target, start, end)| target == topic && hit.start < end && start < hit.end)
}

/// What a rule does at a hit.
enum Outcome {
    /// It fires, with the closest `near` hit and its gap if the rule has `near`.
    Fires(Option<(u32, u32)>),
    /// It would fire, but the `unless` group of this index cancels it.
    Cancelled(u32),
    /// No `near` term close enough.
    Nothing,
}

/// Whether `rule` fires at `hit`: no `unless` term close by, and (if it has one) a `near`
/// term close enough.
fn check(
    rules: &Rules,
    item: &Item<'_>,
    flipped: &[(u32, u32, u32)],
    rule: u32,
    hit: u32,
) -> Outcome {
    let def = &rules.rules[rule as usize];
    let main = item.hits[hit as usize];
    let partner = near_partner(rules, item, flipped, rule, hit);
    if def.near.is_some() && partner.is_none() {
        return Outcome::Nothing;
    }
    // A negation or a hedge speaks of its own clause: "sospende lo stop alle terre rare,
    // Washington allenta i controlli" — the minerals do not reach past the comma. One pass
    // over the widest window checks every `unless` group.
    if !def.unless.is_empty() {
        let widest = def
            .unless
            .iter()
            .map(|&(_, within)| within)
            .max()
            .unwrap_or(0);
        let negated = item.window(main, widest).find_map(|(_, other)| {
            let gap = item.gap(main, other)?;
            if item.crosses_clause(main, other) {
                return None;
            }
            def.unless.iter().position(|&(group, within)| {
                gap <= within && rules.groups.contains(other.term, group)
            })
        });
        if let Some(index) = negated {
            return Outcome::Cancelled(index as u32);
        }
    }
    Outcome::Fires(partner)
}

/// The closest `near` hit of `rule` at `hit` and its gap (`None` if the rule has no
/// `near`, or none is close enough).
fn near_partner(
    rules: &Rules,
    item: &Item<'_>,
    flipped: &[(u32, u32, u32)],
    rule: u32,
    hit: u32,
) -> Option<(u32, u32)> {
    let def = &rules.rules[rule as usize];
    let main = item.hits[hit as usize];
    let (group, within) = def.near?;
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
        // A partner in another clause counts as farther: in "scraps the diffusion rule,
        // eases chip export curbs" what "eases" lifts is the curbs, not the rule before
        // the comma.
        let gap = if item.crosses_clause(main, other) {
            gap.saturating_add(CLAUSE_PENALTY)
        } else {
            gap
        };
        if gap <= within && best.is_none_or(|(_, best_gap)| gap < best_gap) {
            best = Some((index, gap));
        }
    }
    best
}

//! Grouping a whole set of items at once, as `chipwatch cluster` and the evaluation tests
//! do: the order the items are taken in, and the events built so far. The poller does the
//! same one poll at a time (`poller::route`), with events loaded from the store.

use super::{EventParams, add_source, best_match, features, new_event};
use crate::domain::{Classification, Event, EventId, Item};
use chrono::{DateTime, Utc};

/// The order to group items in, with the time each is grouped at: by date, oldest first.
/// An item without a date takes the time of the item before it in the input (real feeds
/// list items newest or oldest first, so a neighbour is the best guess), or, before any
/// dated item, the first date in the input; with no date at all, the Unix epoch. The sort
/// is stable, so an undated item stays right after the item whose time it took.
pub fn processing_order(dates: &[Option<DateTime<Utc>>]) -> Vec<(usize, DateTime<Utc>)> {
    let mut previous = dates
        .iter()
        .flatten()
        .next()
        .copied()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut order: Vec<(usize, DateTime<Utc>)> = dates
        .iter()
        .enumerate()
        .map(|(index, date)| {
            let time = date.unwrap_or(previous);
            previous = time;
            (index, time)
        })
        .collect();
    order.sort_by_key(|(_, time)| *time);
    order
}

/// The events built from the items placed so far.
#[derive(Debug, Clone)]
pub struct Batch {
    params: EventParams,
    events: Vec<Event>,
}

impl Batch {
    pub fn new(params: EventParams) -> Self {
        Self {
            params,
            events: Vec::new(),
        }
    }

    /// Puts an item into the event it matches, or a new one, and returns that event's id;
    /// an irrelevant item (no topic) joins nothing. Items must come in time order (see
    /// [`processing_order`]) for the result to be the one the poller would reach.
    pub fn place(&mut self, item: &Item, classification: &Classification) -> Option<EventId> {
        if !classification.is_relevant() {
            return None;
        }
        let features = features(item, classification);
        let matched = best_match(&self.events, &features, &self.params).map(|e| e.id.clone());
        let index = matched.and_then(|id| self.events.iter().position(|e| e.id == id));
        match index {
            Some(index) => {
                let event = &mut self.events[index];
                add_source(event, item, classification, &features);
                Some(event.id.clone())
            }
            None => {
                let events = &self.events;
                let event = new_event(item, classification, &features, |id| {
                    events.iter().any(|e| &e.id == id)
                });
                let id = event.id.clone();
                self.events.push(event);
                Some(id)
            }
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

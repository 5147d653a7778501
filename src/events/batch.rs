//! Grouping a whole set of items at once, as `chipwatch cluster`, `chipwatch eval stories`
//! and the evaluation tests do: the order the items are taken in, and the grouper. The
//! poller does the same one poll at a time (`poller::route`), with events loaded from the
//! store.

use super::{EventParams, Grouper, When};
use crate::domain::{Classification, EventId, Item};

/// The order to group items in: by time (the middle of a span), oldest first; items of
/// unknown time last, in input order. The sort is stable.
pub fn processing_order(whens: &[When]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..whens.len()).collect();
    order.sort_by_key(|&i| (whens[i].middle().is_none(), whens[i].middle()));
    order
}

/// The events built from the items placed so far.
#[derive(Debug)]
pub struct Batch {
    grouper: Grouper,
}

impl Batch {
    pub fn new(params: EventParams) -> Self {
        Self {
            grouper: Grouper::new(params),
        }
    }

    /// Puts an item into the event it matches, or a new one, and returns that event's id.
    /// Every item gets an event, relevant or not. Items must come in the order of
    /// [`processing_order`] for the result to be the one the poller would reach.
    pub fn place(&mut self, item: &Item, classification: &Classification, when: When) -> EventId {
        self.grouper.place(item, classification, when, |_| false).id
    }

    pub fn events(&self) -> &[crate::domain::Event] {
        self.grouper.events()
    }
}

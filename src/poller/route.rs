//! Routing a relevant item: which event it joins (or starts), and which chats hear about
//! it — a first alert for chats not yet told about the event, at most one "also reported
//! by" follow-up per chat and event per interval for the others.

use crate::config::{DeliveryConfig, EventsConfig, QuietMode};
use crate::domain::{
    Alert, ChatRef, Delivery, DeliveryKind, DeliveryMode, Event, EventId, Subscription,
};
use crate::events;
use crate::store::{EventDelivery, PollCommit, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// The working set of one poll: candidate events and per-chat records, updated in memory
/// as items are routed, then written with the poll's commit.
pub struct Routing<'a> {
    store: &'a Store,
    config: &'a EventsConfig,
    delivery: &'a DeliveryConfig,
    zone: chrono_tz::Tz,
    subscriptions: Vec<Subscription>,
    events: Vec<Event>,
    touched: BTreeSet<EventId>,
    records: HashMap<(EventId, ChatRef), EventDelivery>,
    now: DateTime<Utc>,
}

impl<'a> Routing<'a> {
    pub fn load(
        store: &'a Store,
        config: &'a EventsConfig,
        delivery: &'a DeliveryConfig,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let window =
            chrono::Duration::from_std(config.params.window).unwrap_or(chrono::Duration::days(3));
        Ok(Self {
            store,
            config,
            delivery,
            zone,
            subscriptions: store
                .subscriptions()?
                .into_iter()
                .filter(|s| s.active)
                .collect(),
            events: store.events_since(now - window)?,
            touched: BTreeSet::new(),
            records: HashMap::new(),
            now,
        })
    }

    /// Puts the item into its event and queues what each interested chat should get.
    /// Returns the event's id and whether the item started it.
    pub fn route(
        &mut self,
        alert: &Alert,
        commit: &mut PollCommit,
    ) -> Result<(EventId, bool), StoreError> {
        let features = events::features(&alert.item, &alert.classification);
        let (index, is_new) = match events::best_match(&self.events, &features, &self.config.params)
        {
            Some(event) => {
                let index = self
                    .events
                    .iter()
                    .position(|e| e.id == event.id)
                    .unwrap_or(0);
                events::add_source(
                    &mut self.events[index],
                    &alert.item,
                    &alert.classification,
                    &features,
                );
                (index, false)
            }
            None => {
                let taken: BTreeSet<EventId> = self.events.iter().map(|e| e.id.clone()).collect();
                let store = self.store;
                let event =
                    events::new_event(&alert.item, &alert.classification, &features, |id| {
                        taken.contains(id) || store.event_exists(id)
                    });
                self.events.push(event);
                (self.events.len() - 1, true)
            }
        };
        let event_id = self.events[index].id.clone();
        self.touched.insert(event_id.clone());
        let text = Subscription::match_text(&alert.item);
        let wanting: Vec<Subscription> = self
            .subscriptions
            .iter()
            .filter(|s| s.wants_text(&text, &alert.classification))
            .cloned()
            .collect();
        for subscription in wanting {
            if let Some(kind) = self.decide(&event_id, &subscription.chat, index)? {
                let chat = subscription.chat.clone();
                let mut delivery =
                    Delivery::new(chat, alert.clone(), Some(event_id.clone()), kind, self.now);
                self.schedule(&mut delivery, &subscription, alert);
                commit.deliveries.push(delivery);
            }
        }
        Ok((event_id, is_new))
    }

    /// What `chat` gets about the event now: a first alert, a follow-up, or nothing yet.
    fn decide(
        &mut self,
        event_id: &EventId,
        chat: &ChatRef,
        index: usize,
    ) -> Result<Option<DeliveryKind>, StoreError> {
        let key = (event_id.clone(), chat.clone());
        let previous = match self.records.get(&key) {
            Some(record) => Some(record.clone()),
            None => self.store.event_delivery(event_id, chat)?,
        };
        let kind = match &previous {
            None => DeliveryKind::Alert,
            Some(record) => {
                let interval = chrono::Duration::from_std(self.config.follow_up_interval)
                    .unwrap_or(chrono::Duration::hours(6));
                if self.now < record.last_queued + interval {
                    return Ok(None);
                }
                let event = &self.events[index];
                DeliveryKind::FollowUp {
                    outlets: event.outlets().into_iter().map(str::to_string).collect(),
                    sources: event.sources.len(),
                }
            }
        };
        let first_message_id = previous.and_then(|r| r.first_message_id);
        self.records.insert(
            key,
            EventDelivery {
                first_message_id,
                last_queued: self.now,
            },
        );
        Ok(Some(kind))
    }

    /// Holds a delivery for the chat's digest, or past its quiet hours when configured to
    /// defer; a digest-bypass topic goes at once.
    fn schedule(&self, delivery: &mut Delivery, subscription: &Subscription, alert: &Alert) {
        let bypass = alert
            .classification
            .topics
            .iter()
            .any(|t| self.delivery.digest_bypass.contains(&t.topic));
        if let DeliveryMode::Digest { minute_of_day } = subscription.mode
            && !bypass
        {
            delivery.digest = true;
            delivery.not_before = Some(crate::delivery::next_local_time(
                self.now,
                minute_of_day,
                self.zone,
            ));
            return;
        }
        if self.delivery.quiet_mode == QuietMode::Defer
            && let Some(quiet) = subscription.quiet
        {
            delivery.not_before = crate::delivery::quiet_until(self.now, quiet, self.zone);
        }
    }

    /// Moves the touched events and the new per-chat records into the commit.
    pub fn finish(self, commit: &mut PollCommit) {
        commit.events = self
            .events
            .into_iter()
            .filter(|e| self.touched.contains(&e.id))
            .collect();
        commit.event_deliveries = self
            .records
            .into_iter()
            .map(|((event, chat), record)| (event, chat, record))
            .collect();
    }
}

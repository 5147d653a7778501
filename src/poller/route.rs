//! Routing an item: which event it joins (or starts) — every item, relevant or not, so a
//! story whose first report no topic caught still gathers the others — and which chats
//! hear about it: a first alert for chats that follow the item and were not yet told about
//! the event, at most one "also reported by" follow-up per chat and event per interval for
//! the chats already told, whatever the new report's own topics.

use crate::config::{DeliveryConfig, EventsConfig, QuietMode};
use crate::domain::{Alert, ChatRef, Delivery, DeliveryKind, DeliveryMode, EventId, Subscription};
use crate::events::{Grouper, When};
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
    grouper: Grouper,
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
            grouper: Grouper::with_events(config.params.clone(), store.events_since(now - window)?),
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
        let store = self.store;
        let placed = self.grouper.place(
            &alert.item,
            &alert.classification,
            When::Exact(alert.item.time()),
            |id| store.event_exists(id),
        );
        let event_id = placed.id.clone();
        self.touched.insert(event_id.clone());
        let text = crate::classify::keyword_text(&alert.item.title, &alert.item.summary);
        // Chats already told about an event hear of its new reports (at most once per
        // interval) even when this report alone would not have matched them.
        let told_before = !placed.new && !self.grouper.events()[placed.index].topics.is_empty();
        let subscriptions = self.subscriptions.clone();
        for subscription in subscriptions {
            let wants = subscription.wants_text(&text, &alert.classification);
            let follows = wants || told_before && self.was_told(&event_id, &subscription.chat)?;
            if !follows {
                continue;
            }
            if let Some(kind) = self.decide(&event_id, &subscription.chat, placed.index)? {
                let chat = subscription.chat.clone();
                let mut delivery =
                    Delivery::new(chat, alert.clone(), Some(event_id.clone()), kind, self.now);
                self.schedule(&mut delivery, &subscription, alert);
                commit.deliveries.push(delivery);
            }
        }
        Ok((event_id, placed.new))
    }

    /// Whether `chat` was sent something about the event already (this poll or before).
    fn was_told(&self, event_id: &EventId, chat: &ChatRef) -> Result<bool, StoreError> {
        let key = (event_id.clone(), chat.clone());
        Ok(self.records.contains_key(&key) || self.store.event_delivery(event_id, chat)?.is_some())
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
                let event = &self.grouper.events()[index];
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
            .grouper
            .into_events()
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

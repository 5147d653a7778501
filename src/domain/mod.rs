//! Plain value types shared by every layer: items, topics, classifications, chats,
//! subscriptions and alerts. Nothing here does I/O or reads a clock.

mod chat;
mod classification;
mod event;
mod feed;
mod ids;
mod item;
mod subscription;

pub use chat::{ChatRef, Platform};
pub use classification::{Classification, Entity, EntityKind, TopicScore};
pub use event::{Event, EventId, EventSource};
pub use feed::{FeedRecord, FeedState};
pub use ids::{FeedId, IdError, ItemId, TopicId, stable_hash};
pub use item::{Alert, Delivery, DeliveryKind, Item, Lang};
pub use subscription::{DeliveryMode, QuietHours, Subscription};

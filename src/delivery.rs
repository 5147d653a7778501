//! Pure delivery planning: when a digest is due, when quiet hours end, and how the due
//! deliveries of many chats are grouped into messages (one in flight per chat; a burst
//! or a digest folded into one message). Time and zone are parameters.

use crate::domain::{ChatRef, Delivery, QuietHours};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The next time at `minute_of_day` (local, in `zone`) strictly after `now`. On a day when
/// that local time does not exist (the spring DST gap) it is the first instant after it.
pub fn next_local_time(now: DateTime<Utc>, minute_of_day: u16, zone: Tz) -> DateTime<Utc> {
    let minute_of_day = u32::from(minute_of_day.min(24 * 60 - 1));
    let at = NaiveTime::from_hms_opt(minute_of_day / 60, minute_of_day % 60, 0)
        .unwrap_or(NaiveTime::MIN);
    let local_today = now.with_timezone(&zone).date_naive();
    for day in 0..3 {
        let date = local_today + Duration::days(day);
        let candidate = match zone.from_local_datetime(&date.and_time(at)) {
            chrono::LocalResult::Single(t) => t,
            // The autumn hour that happens twice: the first one.
            chrono::LocalResult::Ambiguous(first, _) => first,
            // The spring hour that does not exist: an hour later is.
            chrono::LocalResult::None => {
                match zone.from_local_datetime(&(date.and_time(at) + Duration::hours(1))) {
                    chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t,
                    chrono::LocalResult::None => continue,
                }
            }
        };
        let candidate = candidate.with_timezone(&Utc);
        if candidate > now {
            return candidate;
        }
    }
    now + Duration::days(1)
}

/// The local minute of the day at `now`.
pub fn local_minute(now: DateTime<Utc>, zone: Tz) -> u16 {
    use chrono::Timelike;
    let local = now.with_timezone(&zone);
    (local.hour() * 60 + local.minute()) as u16
}

/// When the quiet period that contains `now` ends, or `None` outside quiet hours.
pub fn quiet_until(now: DateTime<Utc>, quiet: QuietHours, zone: Tz) -> Option<DateTime<Utc>> {
    quiet
        .contains(local_minute(now, zone))
        .then(|| next_local_time(now, quiet.end, zone))
}

/// Due deliveries grouped for sending: each group goes to one chat as one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub deliveries: Vec<Delivery>,
    pub kind: GroupKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Single,
    /// Several alerts for one chat at once: one message instead of a long wait.
    Burst,
    /// The chat's daily digest.
    Digest,
}

/// Groups due deliveries (in queue order) into at most `max_chats` messages, one chat
/// each: a chat's digest deliveries make one digest; `burst_min` or more instant alerts
/// make one burst; otherwise its oldest delivery goes alone. Later deliveries of a chat
/// that is already in flight wait for the next round, so each chat sees its alerts in
/// order and at most one message per chat is ever in flight.
pub fn plan(due: Vec<Delivery>, max_chats: usize, burst_min: usize) -> Vec<Group> {
    let mut chats: Vec<(ChatRef, Vec<Delivery>)> = Vec::new();
    for delivery in due {
        match chats.iter().position(|(chat, _)| *chat == delivery.chat) {
            Some(index) => chats[index].1.push(delivery),
            None if chats.len() < max_chats => chats.push((delivery.chat.clone(), vec![delivery])),
            None => {}
        }
    }
    chats
        .into_iter()
        .map(|(_, mut list)| {
            let digest: Vec<Delivery> = list.iter().filter(|d| d.digest).cloned().collect();
            if !digest.is_empty() && list[0].digest {
                return Group {
                    deliveries: digest,
                    kind: GroupKind::Digest,
                };
            }
            list.retain(|d| !d.digest);
            if list.len() >= burst_min.max(2) {
                Group {
                    deliveries: list,
                    kind: GroupKind::Burst,
                }
            } else {
                list.truncate(1);
                Group {
                    deliveries: list,
                    kind: GroupKind::Single,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Alert, Classification, DeliveryKind, FeedId, Item, ItemId, Lang, Platform,
    };

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("date").to_utc()
    }

    #[test]
    fn digests_fall_at_local_time_across_dst() {
        let rome = chrono_tz::Europe::Rome;
        let cases = [
            (
                "winter, later today",
                "2026-01-15T06:00:00Z",
                8 * 60,
                "2026-01-15T07:00:00Z",
            ),
            (
                "winter, tomorrow",
                "2026-01-15T08:00:00Z",
                8 * 60,
                "2026-01-16T07:00:00Z",
            ),
            (
                "summer time",
                "2026-07-01T05:00:00Z",
                8 * 60,
                "2026-07-01T06:00:00Z",
            ),
            (
                "exactly now is next day",
                "2026-07-01T06:00:00Z",
                8 * 60,
                "2026-07-02T06:00:00Z",
            ),
            (
                "spring gap 02:30 does not exist",
                "2026-03-28T12:00:00Z",
                2 * 60 + 30,
                "2026-03-29T01:30:00Z",
            ),
            (
                "autumn 02:30 happens twice: the first",
                "2026-10-24T12:00:00Z",
                2 * 60 + 30,
                "2026-10-25T00:30:00Z",
            ),
            (
                "midnight",
                "2026-01-15T22:59:00Z",
                0,
                "2026-01-15T23:00:00Z",
            ),
        ];
        for (name, now, minute, expected) in cases {
            assert_eq!(
                next_local_time(utc(now), minute, rome),
                utc(expected),
                "{name}"
            );
        }
    }

    #[test]
    fn quiet_hours_end_at_their_local_end() {
        let rome = chrono_tz::Europe::Rome;
        let night = QuietHours {
            start: 22 * 60,
            end: 7 * 60,
        };
        assert_eq!(
            quiet_until(utc("2026-01-15T22:30:00Z"), night, rome),
            Some(utc("2026-01-16T06:00:00Z"))
        );
        assert_eq!(quiet_until(utc("2026-01-15T12:00:00Z"), night, rome), None);
    }

    fn delivery(id: u64, chat: i64, digest: bool) -> Delivery {
        let now = utc("2026-01-15T10:00:00Z");
        let item = Item {
            id: ItemId(id),
            feed: FeedId::parse("f").expect("id"),
            outlet: "O".into(),
            title: format!("t{id}"),
            summary: String::new(),
            link: None,
            published: None,
            first_seen: now,
            lang: Lang::It,
        };
        let chat = ChatRef {
            platform: Platform::Telegram,
            id: chat,
            thread: None,
        };
        let mut d = Delivery::new(
            chat,
            Alert {
                item,
                classification: Classification::default(),
            },
            None,
            DeliveryKind::Alert,
            now,
        );
        d.id = id;
        d.digest = digest;
        d
    }

    #[test]
    fn plans_one_message_per_chat_folding_bursts_and_digests() {
        let due = vec![
            delivery(1, 10, false),
            delivery(2, 20, true),
            delivery(3, 10, false),
            delivery(4, 30, false),
            delivery(5, 10, false),
            delivery(6, 20, true),
            delivery(7, 40, false),
        ];
        let groups = plan(due, 3, 3);
        let summary: Vec<(GroupKind, Vec<u64>)> = groups
            .iter()
            .map(|g| (g.kind, g.deliveries.iter().map(|d| d.id).collect()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (GroupKind::Burst, vec![1, 3, 5]),
                (GroupKind::Digest, vec![2, 6]),
                (GroupKind::Single, vec![4])
            ],
            "chat 40 waits: at most 3 chats in flight"
        );
        let two = plan(vec![delivery(1, 10, false), delivery(2, 10, false)], 8, 3);
        assert_eq!(two.len(), 1);
        assert_eq!(
            (two[0].kind, two[0].deliveries.len()),
            (GroupKind::Single, 1),
            "below the burst size: oldest first"
        );
    }
}

//! The platform-neutral bot commands: `parse` turns text into a [`Command`]; [`Engine`]
//! executes it against the store and answers with a [`Reply`] that each platform
//! renders. Rights (chat admin, operator) are decided by the platform adapter and passed
//! in; user-facing text comes from `i18n`, never from an internal error.

mod feeds;
mod parse;
mod read;

pub use parse::{Command, KeywordAction, MAX_RECENT, ParseError, format_clock, parse, parse_clock};

use crate::classify::Rules;
use crate::config::FeedConfig;
use crate::domain::{ChatRef, DeliveryMode, Lang, Subscription, TopicId};
use crate::i18n;
use crate::render::{Doc, Span};
use crate::store::{Store, StoreError};
use chrono_tz::Tz;
use std::sync::Arc;

/// A button under a reply (Telegram inline keyboard, Discord component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    /// Opaque data sent back when pressed, at most 64 bytes (Telegram's limit).
    pub data: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub doc: Doc,
    /// Rows of buttons; empty for none.
    pub buttons: Vec<Vec<Button>>,
}

impl Reply {
    pub fn text(text: &str) -> Self {
        Self {
            doc: Doc::text(text),
            buttons: Vec::new(),
        }
    }
}

/// Who asks, where, and with which rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The chat whose subscription the command reads or changes.
    pub chat: ChatRef,
    pub lang: Lang,
    /// A private chat, or a group admin (when admins-only is configured).
    pub may_manage: bool,
    pub is_operator: bool,
}

/// The data prefix of the topic-toggle buttons.
pub const TOGGLE_PREFIX: &str = "toggle:";

pub struct Engine {
    pub store: Store,
    pub rules: Arc<Rules>,
    pub feeds: Vec<FeedConfig>,
    pub zone: Tz,
    /// Whether `/addfeed` may name loopback or private addresses (never, by default).
    pub allow_private_addresses: bool,
}

impl Engine {
    /// The language a chat asked for, else the given default (the user's client language).
    pub fn chat_lang(&self, chat: &ChatRef, default: Lang) -> Lang {
        match self.store.subscription(chat) {
            Ok(Some(subscription)) => subscription.lang,
            _ => default,
        }
    }

    /// Answers a parse error in the chat's language; `None` when the message is not for us.
    pub fn parse_error_reply(&self, lang: Lang, error: &ParseError) -> Option<Reply> {
        match error {
            ParseError::NotForUs => None,
            ParseError::Unknown(_) => Some(Reply::text(&i18n::text(lang, "unknown_command"))),
            ParseError::Usage(usage) => Some(Reply::text(&i18n::format(
                lang,
                "usage",
                &[("usage", usage)],
            ))),
        }
    }

    pub async fn execute(&self, invocation: &Invocation, command: Command) -> Reply {
        let lang = invocation.lang;
        if command.changes_subscription() && !invocation.may_manage {
            return Reply::text(&i18n::text(lang, "not_admin"));
        }
        if command.is_operator_only() && !invocation.is_operator {
            return Reply::text(&i18n::text(lang, "not_operator"));
        }
        match self.try_execute(invocation, command).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::error!(chat = %invocation.chat, %error, "command failed");
                Reply::text(&i18n::text(lang, "internal_error"))
            }
        }
    }

    async fn try_execute(
        &self,
        invocation: &Invocation,
        command: Command,
    ) -> Result<Reply, StoreError> {
        let lang = invocation.lang;
        let chat = &invocation.chat;
        match command {
            Command::Start => self.start(chat, lang).await,
            Command::Help => Ok(Reply::text(&i18n::text(lang, "help"))),
            Command::Subscribe { topics, .. } if topics.is_empty() => {
                self.topic_buttons(chat, lang)
            }
            Command::Subscribe { topics, .. } => self.subscribe(chat, lang, &topics).await,
            Command::Unsubscribe { topics, all, .. } => {
                self.unsubscribe(chat, lang, &topics, all).await
            }
            Command::List => self.list(chat, lang),
            Command::Topics => Ok(self.topics(lang)),
            Command::Recent { topic, count } => self.recent(lang, topic.as_deref(), count),
            Command::Event { id } => self.event(lang, &id),
            Command::Search { words } => self.search(lang, &words),
            Command::Keywords(action) => self.keywords(chat, lang, action).await,
            Command::Mode(mode) => {
                self.update(
                    chat,
                    lang,
                    |s| s.mode = mode,
                    mode_text(lang, mode, self.zone),
                )
                .await
            }
            Command::Quiet(quiet) => {
                let text = match quiet {
                    Some(range) => i18n::format(
                        lang,
                        "quiet_set",
                        &[
                            (
                                "range",
                                &format!(
                                    "{}-{}",
                                    format_clock(range.start),
                                    format_clock(range.end)
                                ),
                            ),
                            ("zone", self.zone.name()),
                        ],
                    ),
                    None => i18n::text(lang, "quiet_off"),
                };
                self.update(chat, lang, |s| s.quiet = quiet, text).await
            }
            Command::Lang(new) => {
                self.update(chat, new, |s| s.lang = new, i18n::text(new, "lang_set"))
                    .await
            }
            Command::Status => self.status(lang),
            Command::Feeds => self.feeds_list(lang),
            Command::AddFeed { url } => self.add_feed(invocation, &url).await,
            Command::RemoveFeed { id } => self.remove_feed(lang, &id).await,
        }
    }

    fn load(&self, chat: &ChatRef, lang: Lang) -> Result<Subscription, StoreError> {
        Ok(self.store.subscription(chat)?.unwrap_or_else(|| {
            let mut subscription = Subscription::new(chat.clone());
            subscription.lang = lang;
            subscription
        }))
    }

    async fn update(
        &self,
        chat: &ChatRef,
        lang: Lang,
        change: impl FnOnce(&mut Subscription),
        text: String,
    ) -> Result<Reply, StoreError> {
        let mut subscription = self.load(chat, lang)?;
        change(&mut subscription);
        self.store.put_subscription(&subscription).await?;
        Ok(Reply::text(&text))
    }

    async fn start(&self, chat: &ChatRef, lang: Lang) -> Result<Reply, StoreError> {
        let mut subscription = self.load(chat, lang)?;
        let reactivated = !subscription.active;
        subscription.active = true;
        self.store.put_subscription(&subscription).await?;
        let mut reply = Reply::text(&i18n::text(lang, "start"));
        if reactivated {
            reply.doc.push_text(&i18n::text(lang, "start_reactivated"));
        }
        Ok(reply)
    }

    /// The requested topics as ids, or the reply naming those that do not exist.
    fn known_topics(&self, requested: &[String], lang: Lang) -> Result<Vec<TopicId>, Reply> {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for topic in requested {
            match self.rules.topic(topic) {
                Some(info) => known.push(info.id.clone()),
                None => unknown.push(topic.as_str()),
            }
        }
        if unknown.is_empty() {
            Ok(known)
        } else {
            Err(Reply::text(&i18n::format(
                lang,
                "unknown_topics",
                &[("topics", &unknown.join(", "))],
            )))
        }
    }

    async fn subscribe(
        &self,
        chat: &ChatRef,
        lang: Lang,
        requested: &[String],
    ) -> Result<Reply, StoreError> {
        let known = match self.known_topics(requested, lang) {
            Ok(known) => known,
            Err(reply) => return Ok(reply),
        };
        let mut subscription = self.load(chat, lang)?;
        subscription.topics.extend(known.iter().cloned());
        subscription.active = true;
        self.store.put_subscription(&subscription).await?;
        let names: Vec<&str> = known.iter().map(TopicId::as_str).collect();
        Ok(Reply::text(&i18n::format(
            lang,
            "subscribed",
            &[("topics", &names.join(", "))],
        )))
    }

    async fn unsubscribe(
        &self,
        chat: &ChatRef,
        lang: Lang,
        requested: &[String],
        all: bool,
    ) -> Result<Reply, StoreError> {
        let mut subscription = self.load(chat, lang)?;
        if all {
            subscription.topics.clear();
            self.store.put_subscription(&subscription).await?;
            return Ok(Reply::text(&i18n::text(lang, "unsubscribed_all")));
        }
        let known = match self.known_topics(requested, lang) {
            Ok(known) => known,
            Err(reply) => return Ok(reply),
        };
        for topic in &known {
            subscription.topics.remove(topic);
        }
        self.store.put_subscription(&subscription).await?;
        let names: Vec<&str> = known.iter().map(TopicId::as_str).collect();
        Ok(Reply::text(&i18n::format(
            lang,
            "unsubscribed",
            &[("topics", &names.join(", "))],
        )))
    }

    /// The inline keyboard of `/subscribe` with no argument: one toggle per topic.
    fn topic_buttons(&self, chat: &ChatRef, lang: Lang) -> Result<Reply, StoreError> {
        let subscription = self.load(chat, lang)?;
        let buttons = self
            .rules
            .topics()
            .iter()
            .map(|topic| {
                let on = subscription.topics.contains(&topic.id);
                let name = if lang == Lang::It {
                    &topic.name_it
                } else {
                    &topic.name_en
                };
                vec![Button {
                    label: format!("{} {name}", if on { "✅" } else { "▫️" }),
                    data: format!("{TOGGLE_PREFIX}{}", topic.id),
                }]
            })
            .collect();
        Ok(Reply {
            doc: Doc::text(&i18n::text(lang, "choose_topics")),
            buttons,
        })
    }

    /// A topic button was pressed: flips the topic and returns the updated keyboard.
    pub async fn toggle_topic(&self, invocation: &Invocation, topic: &str) -> Reply {
        let lang = invocation.lang;
        if !invocation.may_manage {
            return Reply::text(&i18n::text(lang, "not_admin"));
        }
        let result = async {
            let Some(info) = self.rules.topic(topic) else {
                return Ok(Reply::text(&i18n::format(
                    lang,
                    "unknown_topics",
                    &[("topics", topic)],
                )));
            };
            let mut subscription = self.load(&invocation.chat, lang)?;
            if !subscription.topics.remove(&info.id) {
                subscription.topics.insert(info.id.clone());
            }
            subscription.active = true;
            self.store.put_subscription(&subscription).await?;
            self.topic_buttons(&invocation.chat, lang)
        };
        result.await.unwrap_or_else(|error: StoreError| {
            tracing::error!(chat = %invocation.chat, %error, "toggle failed");
            Reply::text(&i18n::text(lang, "internal_error"))
        })
    }

    fn topics(&self, lang: Lang) -> Reply {
        let mut doc = Doc::text(&i18n::text(lang, "topics_header"));
        for topic in self.rules.topics() {
            let (name, description) = match lang {
                Lang::It => (&topic.name_it, &topic.description_it),
                Lang::En => (&topic.name_en, &topic.description_en),
            };
            doc.push(vec![
                Span::Code(topic.id.to_string()),
                Span::Bold(format!(" {name}")),
                Span::Text(format!(" — {description}")),
            ]);
        }
        Reply {
            doc,
            buttons: Vec::new(),
        }
    }

    async fn keywords(
        &self,
        chat: &ChatRef,
        lang: Lang,
        action: KeywordAction,
    ) -> Result<Reply, StoreError> {
        let mut subscription = self.load(chat, lang)?;
        // A leading `-` makes an exclude keyword: "-smartphone". Keywords are kept folded
        // (lowercase, no accents, words split as the classifier splits them), the form
        // `Subscription::wants_text` matches whole words in.
        let split = |word: &str| match word.strip_prefix('-') {
            Some(rest) => (true, crate::classify::fold(rest)),
            None => (false, crate::classify::fold(word)),
        };
        let text = match action {
            KeywordAction::List => {
                return Ok(Reply {
                    doc: keyword_lines(&subscription, lang),
                    buttons: Vec::new(),
                });
            }
            KeywordAction::Add(raw) => {
                let (exclude, word) = split(&raw);
                if word.is_empty() {
                    return Ok(Reply::text(&i18n::format(
                        lang,
                        "keywords_no_word",
                        &[("word", &raw)],
                    )));
                }
                let kept =
                    subscription.include_keywords.len() + subscription.exclude_keywords.len();
                let set = if exclude {
                    &mut subscription.exclude_keywords
                } else {
                    &mut subscription.include_keywords
                };
                if !set.contains(&word) && kept >= Subscription::MAX_KEYWORDS {
                    return Ok(Reply::text(&i18n::format(
                        lang,
                        "keywords_limit",
                        &[("max", &Subscription::MAX_KEYWORDS.to_string())],
                    )));
                }
                set.insert(word.clone());
                i18n::format(lang, "keywords_added", &[("word", &word)])
            }
            KeywordAction::Remove(raw) => {
                let (exclude, word) = split(&raw);
                let set = if exclude {
                    &mut subscription.exclude_keywords
                } else {
                    &mut subscription.include_keywords
                };
                // Keywords stored before they were folded are removed as typed.
                let typed = raw.strip_prefix('-').unwrap_or(&raw).trim().to_string();
                if !set.remove(&word) && !set.remove(&typed) {
                    return Ok(Reply::text(&i18n::format(
                        lang,
                        "keywords_missing",
                        &[("word", &word)],
                    )));
                }
                i18n::format(lang, "keywords_removed", &[("word", &word)])
            }
        };
        self.store.put_subscription(&subscription).await?;
        Ok(Reply::text(&text))
    }

    fn list(&self, chat: &ChatRef, lang: Lang) -> Result<Reply, StoreError> {
        let Some(subscription) = self.store.subscription(chat)? else {
            return Ok(Reply::text(&i18n::text(lang, "not_subscribed")));
        };
        let mut doc = Doc::text(&i18n::text(lang, "list_header"));
        let topics: Vec<&str> = subscription.topics.iter().map(TopicId::as_str).collect();
        let topics = if topics.is_empty() {
            "—".to_string()
        } else {
            topics.join(", ")
        };
        doc.push_text(&i18n::format(lang, "list_topics", &[("topics", &topics)]));
        doc.append(keyword_lines(&subscription, lang));
        doc.push_text(&match subscription.mode {
            DeliveryMode::Instant => i18n::text(lang, "list_mode_instant"),
            DeliveryMode::Digest { minute_of_day } => i18n::format(
                lang,
                "list_mode_digest",
                &[("time", &format_clock(minute_of_day))],
            ),
        });
        if let Some(quiet) = subscription.quiet {
            let range = format!("{}-{}", format_clock(quiet.start), format_clock(quiet.end));
            doc.push_text(&i18n::format(lang, "list_quiet", &[("range", &range)]));
        }
        if !subscription.active {
            doc.push_text(&i18n::text(lang, "list_inactive"));
        }
        Ok(Reply {
            doc,
            buttons: Vec::new(),
        })
    }
}

fn keyword_lines(subscription: &Subscription, lang: Lang) -> Doc {
    let mut doc = Doc::new();
    if subscription.include_keywords.is_empty() && subscription.exclude_keywords.is_empty() {
        doc.push_text(&i18n::text(lang, "keywords_none"));
        return doc;
    }
    let join = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    if !subscription.include_keywords.is_empty() {
        doc.push_text(&i18n::format(
            lang,
            "list_include",
            &[("words", &join(&subscription.include_keywords))],
        ));
    }
    if !subscription.exclude_keywords.is_empty() {
        doc.push_text(&i18n::format(
            lang,
            "list_exclude",
            &[("words", &join(&subscription.exclude_keywords))],
        ));
    }
    doc
}

fn mode_text(lang: Lang, mode: DeliveryMode, zone: Tz) -> String {
    match mode {
        DeliveryMode::Instant => i18n::text(lang, "mode_instant"),
        DeliveryMode::Digest { minute_of_day } => i18n::format(
            lang,
            "mode_digest",
            &[
                ("time", &format_clock(minute_of_day)),
                ("zone", zone.name()),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    fn engine(dir: &std::path::Path) -> Engine {
        let topics = include_str!("../../config/topics.toml");
        Engine {
            store: Store::open(dir).expect("store"),
            rules: Arc::new(Rules::from_toml(topics).expect("rules")),
            feeds: Vec::new(),
            zone: chrono_tz::Europe::Rome,
            allow_private_addresses: false,
        }
    }

    fn chat() -> ChatRef {
        ChatRef {
            platform: Platform::Telegram,
            id: 7,
            thread: None,
        }
    }

    async fn run_as(engine: &Engine, text: &str, may_manage: bool, is_operator: bool) -> String {
        let invocation = Invocation {
            chat: chat(),
            lang: engine.chat_lang(&chat(), Lang::En),
            may_manage,
            is_operator,
        };
        let command = parse(text, None).expect("a valid command");
        engine.execute(&invocation, command).await.doc.plain()
    }

    async fn run(engine: &Engine, text: &str) -> String {
        run_as(engine, text, true, false).await
    }

    #[tokio::test]
    async fn subscribe_list_unsubscribe_and_lang_change_the_stored_subscription() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(dir.path());
        let subscribed = run(&engine, "/subscribe export_ban approval").await;
        assert!(subscribed.contains("export_ban"), "{subscribed}");
        let list = run(&engine, "/list").await;
        assert!(
            list.contains("export_ban") && list.contains("approval"),
            "{list}"
        );
        let unsubscribed = run(&engine, "/unsubscribe approval").await;
        assert!(unsubscribed.contains("approval"), "{unsubscribed}");
        let list = run(&engine, "/list").await;
        assert!(
            list.contains("export_ban") && !list.contains("approval"),
            "{list}"
        );
        // A member who may not manage the chat changes nothing.
        let refused = run_as(&engine, "/unsubscribe export_ban", false, false).await;
        assert!(refused.contains("admin"), "{refused}");
        assert!(run(&engine, "/list").await.contains("export_ban"));
        // The chat's language sticks: replies come in Italian from then on.
        let lang = run(&engine, "/lang it").await;
        assert!(lang.contains("italiano"), "{lang}");
        let none = run(&engine, "/search gallio").await;
        assert!(none.contains("Nessun risultato per «gallio»"), "{none}");
        let subscription = engine
            .store
            .subscription(&chat())
            .expect("read")
            .expect("stored");
        assert_eq!(subscription.lang, Lang::It);
    }

    #[tokio::test]
    async fn status_counts_feeds_and_the_outbox_and_operator_commands_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(dir.path());
        let status = run(&engine, "/status").await;
        assert!(
            status.contains("Feeds: 0 healthy, 0 failing, of 0"),
            "{status}"
        );
        assert!(
            status.contains("0 queued, 0 delivered, 0 dead letters"),
            "{status}"
        );
        let refused = run(&engine, "/addfeed https://example.org/feed.xml").await;
        assert!(refused.contains("operators"), "{refused}");
    }

    #[tokio::test]
    async fn keywords_are_folded_whole_words_and_capped_per_chat() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(dir.path());
        assert!(
            run(&engine, "/keywords add Perché")
                .await
                .contains("perche")
        );
        assert!(
            run(&engine, "/keywords add -Smartphone")
                .await
                .contains("smartphone")
        );
        assert!(run(&engine, "/keywords add ?!").await.contains("No word"));
        let chat = ChatRef {
            platform: Platform::Telegram,
            id: 7,
            thread: None,
        };
        let subscription = engine
            .store
            .subscription(&chat)
            .expect("read")
            .expect("stored");
        assert_eq!(
            subscription.include_keywords.iter().collect::<Vec<_>>(),
            ["perche"]
        );
        assert!(subscription.exclude_keywords.contains("smartphone"));
        for n in 2..Subscription::MAX_KEYWORDS {
            let reply = run(&engine, &format!("/keywords add parola{n}")).await;
            assert!(reply.contains("added"), "{n}: {reply}");
        }
        let full = run(&engine, "/keywords add onetoomany").await;
        assert!(full.contains("50 keywords"), "{full}");
        // One already kept is no new keyword, and a removal makes room.
        assert!(
            run(&engine, "/keywords add parola2")
                .await
                .contains("added")
        );
        assert!(
            run(&engine, "/keywords remove PAROLA2")
                .await
                .contains("removed")
        );
        assert!(
            run(&engine, "/keywords add onetoomany")
                .await
                .contains("added")
        );
    }
}

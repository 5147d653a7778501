//! Answering what users do: slash commands (turned into command text and run through
//! the shared engine) and the topic buttons of `/subscribe`. Rights are decided here: in
//! a server, only members who may manage the server or its channels change a channel's
//! subscription (when `admins_only`); in DMs anyone may; operator commands only for
//! `discord.operators`. Refusals and errors are ephemeral; nothing posted can ping.
//! Discord drops an interaction that is not answered within 3 s: a command or button
//! still running after `discord.defer_after` is answered "thinking…" (deferred) and its
//! reply edited in when it is done.

use super::commands::{command_text, definitions};
use super::errors::answer_refused;
use super::notifier::no_mentions;
use crate::commands::{Command, Engine, Invocation, Reply, TOGGLE_PREFIX};
use crate::domain::{ChatRef, Lang, Platform};
use crate::i18n;
use crate::render::discord::{MAX_CONTENT, markdown_chunks};
use crate::secrets::redact;
use serenity::all::{
    ButtonStyle, CommandInteraction, ComponentInteraction, Context, CreateActionRow, CreateButton,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse, EventHandler, Interaction, Permissions, Ready, ResolvedOption,
    ResolvedValue,
};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the gateway handlers share.
pub struct Handler {
    pub engine: Arc<Engine>,
    pub operators: Vec<u64>,
    pub admins_only: bool,
    /// How long a command may run before its answer is deferred; zero defers every one.
    pub defer_after: Duration,
    /// Whether the slash commands were registered by this process.
    pub registered: AtomicBool,
}

/// Whether an interaction was answered with its reply, or deferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    InTime,
    Deferred,
}

/// Runs `work`; if it is not done within `budget` (with a zero budget, at once), sends
/// `defer` while the work goes on, so that Discord has an answer within its 3 s.
async fn in_time<T>(
    budget: Duration,
    work: impl Future<Output = T>,
    defer: impl Future<Output = ()>,
) -> (T, Answered) {
    let mut work = std::pin::pin!(work);
    if !budget.is_zero()
        && let Ok(output) = tokio::time::timeout(budget, &mut work).await
    {
        return (output, Answered::InTime);
    }
    let ((), output) = tokio::join!(defer, work);
    (output, Answered::Deferred)
}

/// Discord allows 5 buttons in a row and 5 rows; a label of at most 80 characters.
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const MAX_LABEL: usize = 80;

/// The language of a Discord client's locale (`it`, `en-US`, …): Italian for `it*`.
pub fn locale_lang(locale: &str) -> Lang {
    if locale.to_ascii_lowercase().starts_with("it") {
        Lang::It
    } else {
        Lang::En
    }
}

/// Whether the member may change the channel's subscription: always in a DM; in a server
/// with Manage Server or Manage Channels (Administrator implies both), unless anyone may.
pub fn may_manage(in_guild: bool, permissions: Option<Permissions>, admins_only: bool) -> bool {
    if !in_guild || !admins_only {
        return true;
    }
    permissions.is_some_and(|p| {
        p.contains(Permissions::ADMINISTRATOR)
            || p.contains(Permissions::MANAGE_GUILD)
            || p.contains(Permissions::MANAGE_CHANNELS)
    })
}

/// The channel an interaction came from: its subscription is the channel's (a thread is
/// a channel of its own).
fn chat(channel_id: u64) -> ChatRef {
    ChatRef {
        platform: Platform::Discord,
        // Snowflakes stay below 2^63 until the 2080s; a larger one would not be a channel.
        id: i64::try_from(channel_id).unwrap_or(i64::MAX),
        thread: None,
    }
}

/// Option values in order, subcommand names included, as words of command text.
fn words(options: &[ResolvedOption<'_>], out: &mut Vec<String>) {
    for option in options {
        match &option.value {
            ResolvedValue::SubCommand(inner) | ResolvedValue::SubCommandGroup(inner) => {
                out.push(option.name.to_string());
                words(inner, out);
            }
            ResolvedValue::String(text) => out.push(text.to_string()),
            ResolvedValue::Integer(n) => out.push(n.to_string()),
            ResolvedValue::Number(n) => out.push(n.to_string()),
            ResolvedValue::Boolean(b) => out.push(b.to_string()),
            _ => {}
        }
    }
}

fn components(reply: &Reply) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = reply
        .buttons
        .iter()
        .flatten()
        .take(BUTTONS_PER_ROW * MAX_ROWS)
        .map(|button| {
            CreateButton::new(button.data.clone())
                .label(crate::render::truncate(&button.label, MAX_LABEL))
                .style(ButtonStyle::Secondary)
        })
        .collect();
    buttons
        .chunks(BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

/// Whether a reply says the command was refused or failed: those are shown only to the
/// user who asked.
fn is_refusal(lang: Lang, reply: &Reply) -> bool {
    let text = reply.doc.plain();
    ["not_admin", "not_operator", "internal_error"]
        .iter()
        .any(|key| text == i18n::text(lang, key))
}

impl Handler {
    async fn on_command(&self, ctx: &Context, interaction: &CommandInteraction) {
        let chat = chat(interaction.channel_id.get());
        let lang = self
            .engine
            .chat_lang(&chat, locale_lang(&interaction.locale));
        let mut args = Vec::new();
        words(&interaction.data.options(), &mut args);
        let text = command_text(&interaction.data.name, &args);
        let command = match crate::commands::parse(&text, None) {
            // Naming a Telegram channel means nothing here.
            Ok(Command::Subscribe {
                channel: Some(_), ..
            }) => Err(crate::commands::ParseError::Usage("/subscribe <topic…>")),
            Ok(Command::Unsubscribe {
                channel: Some(_), ..
            }) => Err(crate::commands::ParseError::Usage(
                "/unsubscribe <topic…|all>",
            )),
            other => other,
        };
        let command = match command {
            Ok(command) => command,
            Err(error) => {
                let reply = self
                    .engine
                    .parse_error_reply(lang, &error)
                    .unwrap_or_else(|| Reply::text(&i18n::text(lang, "unknown_command")));
                return respond(ctx, interaction, lang, reply, true).await;
            }
        };
        let operator_only = command.is_operator_only();
        let invocation = Invocation {
            chat,
            lang,
            may_manage: may_manage(
                interaction.guild_id.is_some(),
                interaction.member.as_ref().and_then(|m| m.permissions),
                self.admins_only,
            ),
            is_operator: self.operators.contains(&interaction.user.id.get()),
        };
        tracing::debug!(chat = %invocation.chat, command = %interaction.data.name, may_manage = invocation.may_manage, "discord command");
        // Operators' answers (feeds, errors with URLs) are for them alone, and so is a
        // refusal; both are known before the command runs, as a deferral needs.
        let private = operator_only || (command.changes_subscription() && !invocation.may_manage);
        let defer = async {
            let thinking = CreateInteractionResponseMessage::new().ephemeral(private);
            if let Err(error) = interaction
                .create_response(&ctx.http, CreateInteractionResponse::Defer(thinking))
                .await
            {
                tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "deferral not sent");
            }
        };
        let work = self.engine.execute(&invocation, command);
        match in_time(self.defer_after, work, defer).await {
            (reply, Answered::InTime) => {
                let ephemeral = private || is_refusal(lang, &reply);
                respond(ctx, interaction, lang, reply, ephemeral).await;
            }
            (reply, Answered::Deferred) => {
                respond_deferred(ctx, interaction, lang, reply, private).await
            }
        }
    }

    async fn on_button(&self, ctx: &Context, interaction: &ComponentInteraction) {
        let Some(topic) = interaction.data.custom_id.strip_prefix(TOGGLE_PREFIX) else {
            if let Err(error) = interaction
                .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                .await
            {
                tracing::debug!(error = %redact(&error.to_string()), "button not acknowledged");
            }
            return;
        };
        let chat = chat(interaction.channel_id.get());
        let lang = self
            .engine
            .chat_lang(&chat, locale_lang(&interaction.locale));
        let invocation = Invocation {
            chat: chat.clone(),
            lang,
            may_manage: may_manage(
                interaction.guild_id.is_some(),
                interaction.member.as_ref().and_then(|m| m.permissions),
                self.admins_only,
            ),
            is_operator: false,
        };
        // A deferred button press keeps the message as it is until it is edited.
        let defer = async {
            if let Err(error) = interaction
                .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                .await
            {
                tracing::warn!(chat = %chat, error = %redact(&error.to_string()), "button deferral not sent");
            }
        };
        let work = self.engine.toggle_topic(&invocation, topic);
        let (reply, answered) = in_time(self.defer_after, work, defer).await;
        // No buttons: refused or failed, said to the one who pressed; else the updated
        // buttons replace the old ones.
        let refused = reply.buttons.is_empty();
        let sent = match (answered, refused) {
            (Answered::InTime, true) => {
                let response = CreateInteractionResponse::Message(message(&reply, true));
                interaction.create_response(&ctx.http, response).await
            }
            (Answered::InTime, false) => {
                let update = CreateInteractionResponseMessage::new().components(components(&reply));
                let response = CreateInteractionResponse::UpdateMessage(update);
                interaction.create_response(&ctx.http, response).await
            }
            (Answered::Deferred, true) => {
                let content = first_part(&reply);
                let followup = CreateInteractionResponseFollowup::new()
                    .content(content)
                    .ephemeral(true)
                    .allowed_mentions(no_mentions());
                interaction
                    .create_followup(&ctx.http, followup)
                    .await
                    .map(drop)
            }
            (Answered::Deferred, false) => {
                let edit = EditInteractionResponse::new().components(components(&reply));
                interaction.edit_response(&ctx.http, edit).await.map(drop)
            }
        };
        if let Err(error) = sent {
            tracing::warn!(chat = %chat, error = %redact(&error.to_string()), "button answer not sent");
        }
    }
}

/// The reply's first part as an interaction message (with the buttons when it is the
/// only part).
fn message(reply: &Reply, ephemeral: bool) -> CreateInteractionResponseMessage {
    let mut parts = markdown_chunks(&reply.doc, MAX_CONTENT).into_iter();
    let mut message = CreateInteractionResponseMessage::new()
        .content(parts.next().unwrap_or_default())
        .ephemeral(ephemeral)
        .allowed_mentions(no_mentions());
    if parts.next().is_none() {
        message = message.components(components(reply));
    }
    message
}

/// A reply's first message-sized part (empty for an empty reply, never a panic).
fn first_part(reply: &Reply) -> String {
    markdown_chunks(&reply.doc, MAX_CONTENT)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The localized "something went wrong" that replaces a reply Discord refused.
fn apology(lang: Lang) -> Reply {
    Reply::text(&i18n::text(lang, "internal_error"))
}

/// Answers an interaction: the first part as its response, further parts (a long
/// `/recent`) as follow-ups, the buttons under the last. A failure is logged: one
/// channel's error never stops the bot. A reply Discord refuses is replaced by the
/// localized apology, so the user is never left without an answer.
async fn respond(
    ctx: &Context,
    interaction: &CommandInteraction,
    lang: Lang,
    reply: Reply,
    ephemeral: bool,
) {
    let parts = markdown_chunks(&reply.doc, MAX_CONTENT);
    let first = CreateInteractionResponse::Message(message(&reply, ephemeral));
    if let Err(error) = interaction.create_response(&ctx.http, first).await {
        tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "reply not sent");
        if answer_refused(&error) {
            let apology = CreateInteractionResponse::Message(message(&apology(lang), true));
            if let Err(error) = interaction.create_response(&ctx.http, apology).await {
                tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "apology not sent");
            }
        }
        return;
    }
    follow_ups(ctx, interaction, &reply, parts, ephemeral).await;
}

/// Answers a deferred interaction: its "thinking…" becomes the reply's first part, and
/// further parts follow as in [`respond`].
async fn respond_deferred(
    ctx: &Context,
    interaction: &CommandInteraction,
    lang: Lang,
    reply: Reply,
    ephemeral: bool,
) {
    let parts = markdown_chunks(&reply.doc, MAX_CONTENT);
    let mut edit = EditInteractionResponse::new()
        .content(first_part(&reply))
        .allowed_mentions(no_mentions());
    if parts.len() == 1 {
        edit = edit.components(components(&reply));
    }
    if let Err(error) = interaction.edit_response(&ctx.http, edit).await {
        tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "deferred reply not sent");
        if answer_refused(&error) {
            let apology = first_part(&apology(lang));
            let edit = EditInteractionResponse::new()
                .content(apology)
                .allowed_mentions(no_mentions());
            if let Err(error) = interaction.edit_response(&ctx.http, edit).await {
                tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "apology not sent");
            }
        }
        return;
    }
    follow_ups(ctx, interaction, &reply, parts, ephemeral).await;
}

/// The parts after the first as follow-up messages, the buttons under the last.
async fn follow_ups(
    ctx: &Context,
    interaction: &CommandInteraction,
    reply: &Reply,
    parts: Vec<String>,
    ephemeral: bool,
) {
    let last = parts.len().saturating_sub(1);
    for (index, part) in parts.into_iter().enumerate().skip(1) {
        let mut followup = CreateInteractionResponseFollowup::new()
            .content(part)
            .ephemeral(ephemeral)
            .allowed_mentions(no_mentions());
        if index == last {
            followup = followup.components(components(reply));
        }
        if let Err(error) = interaction.create_followup(&ctx.http, followup).await {
            tracing::warn!(channel = interaction.channel_id.get(), error = %redact(&error.to_string()), "reply part not sent");
            return;
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    /// On the first session: registers the slash commands (a PUT of the whole set). A new
    /// session (Discord invalidated the old one, or the connection was lost past
    /// resuming) brings a new READY; the commands are not sent again then (the endpoint
    /// has its own rate limit), unless registering failed before.
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, application = %ready.application.id, "connected to the Discord gateway");
        if self.registered.swap(true, Ordering::SeqCst) {
            tracing::debug!("Discord commands already registered by this process");
            return;
        }
        match serenity::all::Command::set_global_commands(&ctx.http, definitions()).await {
            Ok(registered) => tracing::info!(
                commands = registered.len(),
                "Discord commands registered (en, it)"
            ),
            Err(error) => {
                self.registered.store(false, Ordering::SeqCst);
                tracing::warn!(error = %redact(&error.to_string()), "cannot register the Discord commands; will try again on the next session")
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(command) => self.on_command(&ctx, &command).await,
            Interaction::Component(component) => self.on_button(&ctx, &component).await,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_managers_change_a_servers_channel_and_anyone_a_dm() {
        let member = Permissions::SEND_MESSAGES | Permissions::VIEW_CHANNEL;
        assert!(may_manage(false, None, true), "a DM");
        assert!(!may_manage(true, Some(member), true), "a plain member");
        assert!(!may_manage(true, None, true), "no permissions sent");
        assert!(may_manage(
            true,
            Some(member | Permissions::MANAGE_GUILD),
            true
        ));
        assert!(may_manage(
            true,
            Some(member | Permissions::MANAGE_CHANNELS),
            true
        ));
        assert!(may_manage(true, Some(Permissions::ADMINISTRATOR), true));
        assert!(may_manage(true, Some(member), false), "admins_only = false");
    }

    /// Discord's 3 s: a command done within the budget is answered with its reply; one
    /// still running is deferred when the budget runs out and goes on to its end.
    #[tokio::test(start_paused = true)]
    async fn a_slow_command_is_deferred_when_its_budget_runs_out() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let started = tokio::time::Instant::now();
        let deferred_at = std::sync::Mutex::new(None);
        let defer = || async {
            *deferred_at.lock().expect("lock") = Some(started.elapsed());
        };
        let quick = async { "quick" };
        assert_eq!(
            in_time(Duration::from_secs(2), quick, defer()).await,
            ("quick", Answered::InTime)
        );
        assert_eq!(*deferred_at.lock().expect("lock"), None, "not deferred");

        let finished = AtomicBool::new(false);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            finished.store(true, Ordering::SeqCst);
            "slow"
        };
        assert_eq!(
            in_time(Duration::from_secs(2), slow, defer()).await,
            ("slow", Answered::Deferred)
        );
        assert!(
            finished.load(Ordering::SeqCst),
            "the work went on to its end"
        );
        assert_eq!(
            *deferred_at.lock().expect("lock"),
            Some(Duration::from_secs(2)),
            "deferred when the budget ran out, not when the work ended"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        let quick = async { "quick" };
        assert_eq!(
            in_time(Duration::ZERO, quick, defer()).await,
            ("quick", Answered::Deferred),
            "a zero budget defers every command"
        );
    }

    #[test]
    fn the_client_locale_picks_the_language() {
        assert_eq!(locale_lang("it"), Lang::It);
        assert_eq!(locale_lang("IT"), Lang::It);
        assert_eq!(locale_lang("en-US"), Lang::En);
        assert_eq!(locale_lang("de"), Lang::En);
        assert_eq!(locale_lang(""), Lang::En);
    }

    #[test]
    fn topic_buttons_fit_discords_rows() {
        let row = |n: usize| {
            (0..n)
                .map(|i| crate::commands::Button {
                    label: "x".repeat(100),
                    data: format!("{TOGGLE_PREFIX}t{i}"),
                })
                .collect::<Vec<_>>()
        };
        let reply = Reply {
            doc: crate::render::Doc::text("choose"),
            buttons: (0..30).map(|_| row(1)).collect(),
        };
        let rows = components(&reply);
        assert_eq!(rows.len(), MAX_ROWS);
        let json = serde_json::to_value(&rows).expect("serialises");
        for row in json.as_array().expect("rows") {
            let buttons = row["components"].as_array().expect("buttons");
            assert!(buttons.len() <= BUTTONS_PER_ROW);
            for button in buttons {
                assert!(button["label"].as_str().expect("label").chars().count() <= MAX_LABEL);
                assert!(
                    button["custom_id"]
                        .as_str()
                        .expect("id")
                        .starts_with(TOGGLE_PREFIX)
                );
            }
        }
    }
}

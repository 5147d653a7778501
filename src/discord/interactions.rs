//! Answering what users do: slash commands (turned into command text and run through
//! the shared engine) and the topic buttons of `/subscribe`. Rights are decided here: in
//! a server, only members who may manage the server or its channels change a channel's
//! subscription (when `admins_only`); in DMs anyone may; operator commands only for
//! `discord.operators`. Refusals and errors are ephemeral; nothing posted can ping.
//! Discord drops an interaction that is not answered within 3 s: a command or button
//! still running after `discord.defer_after` is answered "thinking…" (deferred) and its
//! reply edited in when it is done (`answer`).

use super::answer::{
    Answered, components, first_part, in_time, message, respond, respond_deferred,
};
use super::commands::{command_text, definitions};
use super::notifier::no_mentions;
use crate::commands::{Command, Engine, Invocation, Reply, TOGGLE_PREFIX};
use crate::domain::{ChatRef, Lang, Platform};
use crate::i18n;
use crate::secrets::redact;
use serenity::all::{
    CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, EditInteractionResponse,
    EventHandler, Interaction, Permissions, Ready, ResolvedOption, ResolvedValue,
};
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
        // serenity's names are Discord's bits.
        assert_eq!(Permissions::ADMINISTRATOR.bits(), 1 << 3);
        assert_eq!(Permissions::MANAGE_CHANNELS.bits(), 1 << 4);
        assert_eq!(Permissions::MANAGE_GUILD.bits(), 1 << 5);
        let neighbours = Permissions::from_bits_truncate((1 << 2) | (1 << 6) | (1 << 13));
        assert!(!may_manage(true, Some(neighbours), true));
    }

    #[test]
    fn the_client_locale_picks_the_language() {
        assert_eq!(locale_lang("it"), Lang::It);
        assert_eq!(locale_lang("IT"), Lang::It);
        assert_eq!(locale_lang("en-US"), Lang::En);
        assert_eq!(locale_lang("de"), Lang::En);
        assert_eq!(locale_lang(""), Lang::En);
    }
}

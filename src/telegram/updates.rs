//! Handling what users send: commands in private chats, groups (admins only, when so
//! configured), forum topics and channels; the topic buttons of `/subscribe`; a group's
//! migration to a supergroup. Every reply goes through the command engine and is
//! rendered as escaped HTML.

use super::Context;
use crate::commands::{self, Command, Invocation, Reply, TOGGLE_PREFIX};
use crate::domain::{ChatRef, Lang, Platform};
use crate::i18n;
use crate::render::telegram::{MAX_MESSAGE, html_chunks};
use std::sync::Arc;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, MessageId, ParseMode, Recipient, ThreadId,
};

fn chat_ref(message: &Message) -> ChatRef {
    // In a forum, replies go to the topic the command came from.
    let thread = if message.is_topic_message {
        message.thread_id.map(|t| i64::from(t.0.0))
    } else {
        None
    };
    ChatRef {
        platform: Platform::Telegram,
        id: message.chat.id.0,
        thread,
    }
}

fn user_lang(user: Option<&teloxide::types::User>) -> Lang {
    user.and_then(|u| u.language_code.as_deref())
        .and_then(Lang::parse)
        .unwrap_or_default()
}

pub async fn on_message(bot: Bot, message: Message, context: Arc<Context>) -> ResponseResult<()> {
    if let Some(new_id) = message.migrate_to_chat_id() {
        context.migrate(message.chat.id.0, new_id.0).await;
        return Ok(());
    }
    if let Some(text) = message.text() {
        handle_command(&bot, &message, text, &context, false).await;
    }
    Ok(())
}

/// In a channel only its admins can post, so every command there may manage it.
pub async fn on_channel_post(
    bot: Bot,
    message: Message,
    context: Arc<Context>,
) -> ResponseResult<()> {
    if let Some(text) = message.text() {
        handle_command(&bot, &message, text, &context, true).await;
    }
    Ok(())
}

async fn handle_command(
    bot: &Bot,
    message: &Message,
    text: &str,
    context: &Context,
    channel_post: bool,
) {
    let origin = chat_ref(message);
    let user = message.from.as_ref();
    let lang = context.engine.chat_lang(&origin, user_lang(user));
    let command = match commands::parse(text, Some(&context.username)) {
        Ok(command) => command,
        Err(error) => {
            if let Some(reply) = context.engine.parse_error_reply(lang, &error) {
                send_reply(bot, &origin, reply).await;
            }
            return;
        }
    };
    let is_operator = user.is_some_and(|u| context.operators.contains(&(u.id.0 as i64)));
    let channel = match &command {
        Command::Subscribe { channel, .. } | Command::Unsubscribe { channel, .. } => {
            channel.clone()
        }
        _ => None,
    };
    let invocation = match channel {
        Some(name) => match resolve_channel(bot, context, message, &name, lang).await {
            Ok(target) => Invocation {
                chat: target,
                lang,
                may_manage: true,
                is_operator,
            },
            Err(reply) => return send_reply(bot, &origin, reply).await,
        },
        None => {
            let may_manage = channel_post || may_manage(bot, context, message, &command).await;
            Invocation {
                chat: origin.clone(),
                lang,
                may_manage,
                is_operator,
            }
        }
    };
    let reply = context.engine.execute(&invocation, command).await;
    send_reply(bot, &origin, reply).await;
}

/// Private chats always; in groups, admins only unless configured otherwise. A message
/// sent "as the group" comes from an anonymous admin.
async fn may_manage(bot: &Bot, context: &Context, message: &Message, command: &Command) -> bool {
    if message.chat.is_private() || !command.changes_subscription() || !context.admins_only {
        return true;
    }
    if message
        .sender_chat
        .as_ref()
        .is_some_and(|c| c.id == message.chat.id)
    {
        return true;
    }
    let Some(user) = message.from.as_ref() else {
        return false;
    };
    is_admin(bot, message.chat.id, user.id).await
}

async fn is_admin(bot: &Bot, chat: ChatId, user: UserId) -> bool {
    match bot.get_chat_member(chat, user).await {
        Ok(member) => member.is_privileged(),
        Err(error) => {
            tracing::warn!(chat = chat.0, error = %crate::secrets::redact(&error.to_string()), "cannot check admin rights; refusing");
            false
        }
    }
}

/// `/subscribe @channel …` from a private chat: the user and the bot must both be admins
/// of the channel, the bot with the right to post.
async fn resolve_channel(
    bot: &Bot,
    context: &Context,
    message: &Message,
    name: &str,
    lang: Lang,
) -> Result<ChatRef, Reply> {
    let refuse = |key: &str| Reply::text(&i18n::format(lang, key, &[("channel", name)]));
    let Some(user) = message.from.as_ref().filter(|_| message.chat.is_private()) else {
        return Err(refuse("channel_not_admin"));
    };
    let chat = bot
        .get_chat(Recipient::ChannelUsername(name.to_string()))
        .await
        .map_err(|_| refuse("channel_not_found"))?;
    if !is_admin(bot, chat.id, user.id).await {
        return Err(refuse("channel_not_admin"));
    }
    match bot.get_chat_member(chat.id, context.bot_id).await {
        Ok(member) if member.can_post_messages() => Ok(ChatRef {
            platform: Platform::Telegram,
            id: chat.id.0,
            thread: None,
        }),
        _ => Err(refuse("channel_bot_not_admin")),
    }
}

fn keyboard(reply: &Reply) -> Option<InlineKeyboardMarkup> {
    if reply.buttons.is_empty() {
        return None;
    }
    let rows = reply.buttons.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.data.clone()))
            .collect::<Vec<_>>()
    });
    Some(InlineKeyboardMarkup::new(rows))
}

/// Sends a reply, split at 4096 characters, the buttons under the last part. A failure
/// is logged: one chat's error never stops the bot.
pub async fn send_reply(bot: &Bot, chat: &ChatRef, reply: Reply) {
    let chunks = html_chunks(&reply.doc, MAX_MESSAGE);
    let last = chunks.len().saturating_sub(1);
    for (index, chunk) in chunks.into_iter().enumerate() {
        let mut request = bot
            .send_message(ChatId(chat.id), chunk)
            .parse_mode(ParseMode::Html);
        if let Some(thread) = chat.thread {
            request = request.message_thread_id(ThreadId(MessageId(thread as i32)));
        }
        if index == last
            && let Some(markup) = keyboard(&reply)
        {
            request = request.reply_markup(markup);
        }
        if let Err(error) = request.await {
            tracing::warn!(chat = %chat, error = %crate::secrets::redact(&error.to_string()), "reply not sent");
            return;
        }
    }
}

pub async fn on_callback(
    bot: Bot,
    query: CallbackQuery,
    context: Arc<Context>,
) -> ResponseResult<()> {
    let topic = query
        .data
        .as_deref()
        .and_then(|d| d.strip_prefix(TOGGLE_PREFIX))
        .map(str::to_string);
    let (Some(topic), Some(message)) = (topic, query.regular_message()) else {
        bot.answer_callback_query(query.id.clone()).await?;
        return Ok(());
    };
    let chat = chat_ref(message);
    let lang = context
        .engine
        .chat_lang(&chat, user_lang(Some(&query.from)));
    let may_manage = message.chat.is_private()
        || !context.admins_only
        || is_admin(&bot, message.chat.id, query.from.id).await;
    let invocation = Invocation {
        chat: chat.clone(),
        lang,
        may_manage,
        is_operator: false,
    };
    let reply = context.engine.toggle_topic(&invocation, &topic).await;
    match keyboard(&reply) {
        Some(markup) => {
            if let Err(error) = bot
                .edit_message_reply_markup(message.chat.id, message.id)
                .reply_markup(markup)
                .await
            {
                tracing::debug!(chat = %chat, error = %crate::secrets::redact(&error.to_string()), "keyboard not updated");
            }
            bot.answer_callback_query(query.id.clone()).await?;
        }
        None => {
            // Refused (not an admin) or failed: say why in the little toast.
            bot.answer_callback_query(query.id.clone())
                .text(reply.doc.plain())
                .await?;
        }
    }
    Ok(())
}

//! How an interaction is answered: in time or deferred (Discord drops an interaction
//! with no answer within 3 s), a long reply as its first part and follow-ups, the topic
//! buttons within Discord's rows, and the localized apology in place of a reply Discord
//! refused. Every message sets `allowed_mentions` to parse nothing.

use super::errors::answer_refused;
use super::notifier::no_mentions;
use crate::commands::Reply;
use crate::domain::Lang;
use crate::i18n;
use crate::render::discord::{MAX_CONTENT, markdown_chunks};
use crate::secrets::redact;
use serenity::all::{
    ButtonStyle, CommandInteraction, Context, CreateActionRow, CreateButton,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse,
};
use std::future::Future;
use std::time::Duration;

/// Whether an interaction was answered with its reply, or deferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    InTime,
    Deferred,
}

/// Runs `work`; if it is not done within `budget` (with a zero budget, at once), sends
/// `defer` while the work goes on, so that Discord has an answer within its 3 s.
pub async fn in_time<T>(
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

pub fn components(reply: &Reply) -> Vec<CreateActionRow> {
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

/// The reply's first part as an interaction message (with the buttons when it is the
/// only part).
pub fn message(reply: &Reply, ephemeral: bool) -> CreateInteractionResponseMessage {
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
pub fn first_part(reply: &Reply) -> String {
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
pub async fn respond(
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
pub async fn respond_deferred(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::TOGGLE_PREFIX;

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

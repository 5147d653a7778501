//! The slash commands: their definitions in English with Italian localizations, and an
//! invocation's options turned back into the command text that `commands::parse` reads,
//! so that Discord and Telegram share one parser and one behaviour.

use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::CommandOptionType;

/// An option (or subcommand) of a slash command: name and description in English and
/// Italian.
struct OptionSpec {
    kind: CommandOptionType,
    name: (&'static str, &'static str),
    description: (&'static str, &'static str),
    required: bool,
    /// The options of a subcommand.
    sub: &'static [OptionSpec],
}

struct CommandSpec {
    name: (&'static str, &'static str),
    description: (&'static str, &'static str),
    options: &'static [OptionSpec],
}

const fn text(
    name: (&'static str, &'static str),
    description: (&'static str, &'static str),
    required: bool,
) -> OptionSpec {
    OptionSpec {
        kind: CommandOptionType::String,
        name,
        description,
        required,
        sub: &[],
    }
}

const fn sub(
    name: (&'static str, &'static str),
    description: (&'static str, &'static str),
    options: &'static [OptionSpec],
) -> OptionSpec {
    OptionSpec {
        kind: CommandOptionType::SubCommand,
        name,
        description,
        required: false,
        sub: options,
    }
}

const WORD: OptionSpec = text(
    ("word", "parola"),
    (
        "A keyword; a leading - excludes it",
        "Una parola; un - iniziale la esclude",
    ),
    true,
);

/// Every command, in the order of `/help`. The option names are English in the payload
/// whatever the user's language, so the text built from them is what `parse` expects.
const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: ("start", "avvia"),
        description: (
            "Start or resume alerts in this channel",
            "Avvia o riprendi gli avvisi in questo canale",
        ),
        options: &[],
    },
    CommandSpec {
        name: ("help", "aiuto"),
        description: ("How to use the bot", "Come usare il bot"),
        options: &[],
    },
    CommandSpec {
        name: ("subscribe", "iscrivi"),
        description: (
            "Follow topics (none: choose with buttons)",
            "Segui dei temi (nessuno: scegli con i pulsanti)",
        ),
        options: &[text(
            ("topics", "temi"),
            (
                "Topic ids, separated by spaces",
                "Gli id dei temi, separati da spazi",
            ),
            false,
        )],
    },
    CommandSpec {
        name: ("unsubscribe", "disiscrivi"),
        description: ("Stop following topics", "Smetti di seguire dei temi"),
        options: &[text(
            ("topics", "temi"),
            ("Topic ids, or all", "Gli id dei temi, oppure all"),
            true,
        )],
    },
    CommandSpec {
        name: ("list", "elenco"),
        description: (
            "This channel's subscription",
            "L'iscrizione di questo canale",
        ),
        options: &[],
    },
    CommandSpec {
        name: ("topics", "temi"),
        description: ("Topics you can follow", "I temi che puoi seguire"),
        options: &[],
    },
    CommandSpec {
        name: ("recent", "recenti"),
        description: ("Latest events", "Gli ultimi eventi"),
        options: &[
            text(
                ("topic", "tema"),
                ("Only this topic", "Solo questo tema"),
                false,
            ),
            OptionSpec {
                kind: CommandOptionType::Integer,
                name: ("count", "numero"),
                description: ("How many (1-20)", "Quanti (1-20)"),
                required: false,
                sub: &[],
            },
        ],
    },
    CommandSpec {
        name: ("event", "evento"),
        description: ("One event and its sources", "Un evento e le sue fonti"),
        options: &[text(
            ("id", "id"),
            ("The event's id", "L'id dell'evento"),
            true,
        )],
    },
    CommandSpec {
        name: ("search", "cerca"),
        description: ("Search events", "Cerca negli eventi"),
        options: &[text(
            ("words", "parole"),
            ("What to look for", "Cosa cercare"),
            true,
        )],
    },
    CommandSpec {
        name: ("keywords", "parole"),
        description: ("Extra keywords", "Parole chiave in più"),
        options: &[
            sub(
                ("add", "aggiungi"),
                ("Add a keyword", "Aggiungi una parola chiave"),
                &[WORD],
            ),
            sub(
                ("remove", "rimuovi"),
                ("Remove a keyword", "Rimuovi una parola chiave"),
                &[WORD],
            ),
            sub(
                ("list", "elenco"),
                (
                    "This channel's keywords",
                    "Le parole chiave di questo canale",
                ),
                &[],
            ),
        ],
    },
    CommandSpec {
        name: ("mode", "modo"),
        description: (
            "Instant alerts or daily digest",
            "Avvisi subito o riepilogo giornaliero",
        ),
        options: &[
            sub(
                ("instant", "immediato"),
                ("Alerts as soon as found", "Avvisi appena trovati"),
                &[],
            ),
            sub(
                ("digest", "riepilogo"),
                ("One digest a day", "Un riepilogo al giorno"),
                &[text(("time", "ora"), ("HH:MM", "HH:MM"), true)],
            ),
        ],
    },
    CommandSpec {
        name: ("quiet", "silenzio"),
        description: ("Silent hours", "Ore di silenzio"),
        options: &[text(
            ("hours", "ore"),
            ("HH:MM-HH:MM, or off", "HH:MM-HH:MM, oppure off"),
            true,
        )],
    },
    CommandSpec {
        name: ("lang", "lingua"),
        description: ("Language: it or en", "Lingua: it o en"),
        options: &[text(("language", "lingua"), ("it or en", "it o en"), true)],
    },
    CommandSpec {
        name: ("status", "stato"),
        description: ("Feeds and delivery health", "Stato di fonti e consegne"),
        options: &[],
    },
    CommandSpec {
        name: ("feeds", "fonti"),
        description: ("Operators: every feed", "Operatori: tutte le fonti"),
        options: &[],
    },
    CommandSpec {
        name: ("addfeed", "aggiungifonte"),
        description: ("Operators: add a feed", "Operatori: aggiungi una fonte"),
        options: &[text(
            ("url", "url"),
            ("The feed's URL", "L'URL della fonte"),
            true,
        )],
    },
    CommandSpec {
        name: ("removefeed", "rimuovifonte"),
        description: (
            "Operators: remove an added feed",
            "Operatori: rimuovi una fonte aggiunta",
        ),
        options: &[text(
            ("id", "id"),
            ("The feed's id", "L'id della fonte"),
            true,
        )],
    },
];

fn option(spec: &OptionSpec) -> CreateCommandOption {
    let mut option = CreateCommandOption::new(spec.kind, spec.name.0, spec.description.0)
        .name_localized("it", spec.name.1)
        .description_localized("it", spec.description.1)
        .required(spec.required);
    if spec.kind == CommandOptionType::Integer {
        option = option
            .min_int_value(1)
            .max_int_value(crate::commands::MAX_RECENT as u64);
    }
    if spec.name.0 == "language" {
        option = option
            .add_string_choice_localized("Italiano", "it", [("it", "Italiano")])
            .add_string_choice_localized("English", "en", [("it", "Inglese")]);
    }
    for sub in spec.sub {
        option = option.add_sub_option(self::option(sub));
    }
    option
}

/// The commands to register, English by default and Italian for Italian clients.
pub fn definitions() -> Vec<CreateCommand> {
    COMMANDS
        .iter()
        .map(|spec| {
            let mut command = CreateCommand::new(spec.name.0)
                .name_localized("it", spec.name.1)
                .description(spec.description.0)
                .description_localized("it", spec.description.1);
            for spec in spec.options {
                command = command.add_option(option(spec));
            }
            command
        })
        .collect()
}

/// The text `commands::parse` reads for a command and its option values in order
/// (subcommand names included): `/keywords add huawei`.
pub fn command_text(name: &str, words: &[String]) -> String {
    let mut text = format!("/{name}");
    for word in words {
        text.push(' ');
        text.push_str(word);
    }
    text
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;

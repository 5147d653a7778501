//! Pure: a chat message → a [`Command`], or a usage error that names the right form.
//! English command names, with Italian aliases for people who type them.

use crate::domain::{DeliveryMode, Lang, QuietHours};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeywordAction {
    Add(String),
    Remove(String),
    List,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    /// `channel` is `@name` when a channel is subscribed from a private chat.
    Subscribe {
        channel: Option<String>,
        topics: Vec<String>,
    },
    Unsubscribe {
        channel: Option<String>,
        topics: Vec<String>,
        all: bool,
    },
    List,
    Topics,
    Recent {
        topic: Option<String>,
        count: usize,
    },
    Event {
        id: String,
    },
    Search {
        words: String,
    },
    Keywords(KeywordAction),
    Mode(DeliveryMode),
    Quiet(Option<QuietHours>),
    Lang(Lang),
    Status,
    Feeds,
    AddFeed {
        url: String,
    },
    RemoveFeed {
        id: String,
    },
}

impl Command {
    /// Whether the command changes the chat's subscription (admins only in groups).
    pub fn changes_subscription(&self) -> bool {
        matches!(
            self,
            Command::Subscribe { .. }
                | Command::Unsubscribe { .. }
                | Command::Keywords(KeywordAction::Add(_) | KeywordAction::Remove(_))
                | Command::Mode(_)
                | Command::Quiet(_)
                | Command::Lang(_)
        )
    }

    /// Whether the command is for the bot's operators only.
    pub fn is_operator_only(&self) -> bool {
        matches!(
            self,
            Command::Feeds | Command::AddFeed { .. } | Command::RemoveFeed { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not a command, or a command addressed to another bot: ignore it.
    NotForUs,
    Unknown(String),
    /// The arguments are wrong; the string is the command's usage line.
    Usage(&'static str),
}

pub const MAX_RECENT: usize = 20;

/// Parses `/name[@bot] args…`. `bot_username` is ours, without `@`.
pub fn parse(text: &str, bot_username: Option<&str>) -> Result<Command, ParseError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else {
        return Err(ParseError::NotForUs);
    };
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (name, addressee) = head.split_once('@').unwrap_or((head, ""));
    if !addressee.is_empty()
        && bot_username.is_some_and(|ours| !ours.eq_ignore_ascii_case(addressee))
    {
        return Err(ParseError::NotForUs);
    }
    let args: Vec<&str> = args.split_whitespace().collect();
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "start" | "avvia" => Ok(Command::Start),
        "help" | "aiuto" => Ok(Command::Help),
        "subscribe" | "iscrivi" => subscribe(&args),
        "unsubscribe" | "disiscrivi" => unsubscribe(&args),
        "list" | "elenco" => Ok(Command::List),
        "topics" | "temi" => Ok(Command::Topics),
        "recent" | "recenti" => recent(&args),
        "event" | "evento" => match args.as_slice() {
            [id] => Ok(Command::Event { id: id.to_string() }),
            _ => Err(ParseError::Usage("/event <id>")),
        },
        "search" | "cerca" if !args.is_empty() => Ok(Command::Search {
            words: args.join(" "),
        }),
        "search" | "cerca" => Err(ParseError::Usage("/search <words>")),
        "keywords" | "parole" => keywords(&args),
        "mode" | "modo" => mode(&args),
        "quiet" | "silenzio" => quiet(&args),
        "lang" | "lingua" => match args.as_slice() {
            [code] => Lang::parse(code)
                .map(Command::Lang)
                .ok_or(ParseError::Usage("/lang it|en")),
            _ => Err(ParseError::Usage("/lang it|en")),
        },
        "status" | "stato" => Ok(Command::Status),
        "feeds" | "fonti" => Ok(Command::Feeds),
        "addfeed" => match args.as_slice() {
            [url] => Ok(Command::AddFeed {
                url: url.to_string(),
            }),
            _ => Err(ParseError::Usage("/addfeed <url>")),
        },
        "removefeed" => match args.as_slice() {
            [id] => Ok(Command::RemoveFeed { id: id.to_string() }),
            _ => Err(ParseError::Usage("/removefeed <id>")),
        },
        _ => Err(ParseError::Unknown(name)),
    }
}

fn split_channel<'a>(args: &'a [&'a str]) -> (Option<String>, &'a [&'a str]) {
    match args.split_first() {
        Some((first, rest)) if first.starts_with('@') && first.len() > 1 => {
            (Some(first.to_string()), rest)
        }
        _ => (None, args),
    }
}

fn topics(args: &[&str]) -> Vec<String> {
    args.iter()
        .flat_map(|a| a.split(','))
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn subscribe(args: &[&str]) -> Result<Command, ParseError> {
    let (channel, rest) = split_channel(args);
    if channel.is_some() && rest.is_empty() {
        return Err(ParseError::Usage("/subscribe @channel <topic…>"));
    }
    Ok(Command::Subscribe {
        channel,
        topics: topics(rest),
    })
}

fn unsubscribe(args: &[&str]) -> Result<Command, ParseError> {
    let (channel, rest) = split_channel(args);
    let topics = topics(rest);
    if topics.is_empty() {
        return Err(ParseError::Usage("/unsubscribe <topic…|all>"));
    }
    let all = topics.iter().any(|t| t == "all" || t == "tutti");
    Ok(Command::Unsubscribe {
        channel,
        topics: if all { Vec::new() } else { topics },
        all,
    })
}

fn recent(args: &[&str]) -> Result<Command, ParseError> {
    const USAGE: &str = "/recent [topic] [n]";
    let mut topic = None;
    let mut count = 5;
    for arg in args {
        match arg.parse::<usize>() {
            Ok(n) if (1..=MAX_RECENT).contains(&n) => count = n,
            Ok(_) => return Err(ParseError::Usage(USAGE)),
            Err(_) if topic.is_none() => topic = Some(arg.to_lowercase()),
            Err(_) => return Err(ParseError::Usage(USAGE)),
        }
    }
    Ok(Command::Recent { topic, count })
}

fn keywords(args: &[&str]) -> Result<Command, ParseError> {
    const USAGE: &str = "/keywords add|remove <word> | list";
    let word = |rest: &[&str]| {
        let word = rest.join(" ").trim().to_lowercase();
        if word.is_empty() || word == "-" || word.chars().count() > 64 {
            None
        } else {
            Some(word)
        }
    };
    match args.split_first() {
        Some((&"list", [])) | None => Ok(Command::Keywords(KeywordAction::List)),
        Some((&"add", rest)) => word(rest)
            .map(|w| Command::Keywords(KeywordAction::Add(w)))
            .ok_or(ParseError::Usage(USAGE)),
        Some((&"remove", rest)) => word(rest)
            .map(|w| Command::Keywords(KeywordAction::Remove(w)))
            .ok_or(ParseError::Usage(USAGE)),
        _ => Err(ParseError::Usage(USAGE)),
    }
}

/// `HH:MM` → minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 && text.len() <= 5).then_some(hours * 60 + minutes)
}

pub fn format_clock(minute_of_day: u16) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

fn mode(args: &[&str]) -> Result<Command, ParseError> {
    const USAGE: &str = "/mode instant | digest HH:MM";
    match args {
        ["instant" | "immediato"] => Ok(Command::Mode(DeliveryMode::Instant)),
        ["digest" | "riepilogo", time] => parse_clock(time)
            .map(|minute_of_day| Command::Mode(DeliveryMode::Digest { minute_of_day }))
            .ok_or(ParseError::Usage(USAGE)),
        _ => Err(ParseError::Usage(USAGE)),
    }
}

fn quiet(args: &[&str]) -> Result<Command, ParseError> {
    const USAGE: &str = "/quiet HH:MM-HH:MM | off";
    match args {
        ["off"] => Ok(Command::Quiet(None)),
        [range] => {
            let (start, end) = range.split_once('-').ok_or(ParseError::Usage(USAGE))?;
            match (parse_clock(start), parse_clock(end)) {
                (Some(start), Some(end)) if start != end => {
                    Ok(Command::Quiet(Some(QuietHours { start, end })))
                }
                _ => Err(ParseError::Usage(USAGE)),
            }
        }
        _ => Err(ParseError::Usage(USAGE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<Command, ParseError>) {
        assert_eq!(parse(input, Some("chipwatch_bot")), expected, "{input}");
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        let sub = |channel: Option<&str>, topics: &[&str]| Command::Subscribe {
            channel: channel.map(str::to_string),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        };
        check("/start", Ok(Command::Start));
        check("/help@chipwatch_bot", Ok(Command::Help));
        check("/help@other_bot", Err(ParseError::NotForUs));
        check("hello", Err(ParseError::NotForUs));
        check(
            "/subscribe export_ban approval",
            Ok(sub(None, &["export_ban", "approval"])),
        );
        check(
            "/subscribe export_ban,Approval",
            Ok(sub(None, &["export_ban", "approval"])),
        );
        check("/iscrivi export_ban", Ok(sub(None, &["export_ban"])));
        check("/subscribe", Ok(sub(None, &[])));
        check(
            "/subscribe @canale export_ban",
            Ok(sub(Some("@canale"), &["export_ban"])),
        );
        check(
            "/subscribe @canale",
            Err(ParseError::Usage("/subscribe @channel <topic…>")),
        );
        check(
            "/unsubscribe all",
            Ok(Command::Unsubscribe {
                channel: None,
                topics: vec![],
                all: true,
            }),
        );
        check(
            "/unsubscribe",
            Err(ParseError::Usage("/unsubscribe <topic…|all>")),
        );
        check(
            "/recent",
            Ok(Command::Recent {
                topic: None,
                count: 5,
            }),
        );
        check(
            "/recent approval 10",
            Ok(Command::Recent {
                topic: Some("approval".into()),
                count: 10,
            }),
        );
        check(
            "/recent 10 approval",
            Ok(Command::Recent {
                topic: Some("approval".into()),
                count: 10,
            }),
        );
        check("/recent 500", Err(ParseError::Usage("/recent [topic] [n]")));
        check(
            "/event k7mq2x",
            Ok(Command::Event {
                id: "k7mq2x".into(),
            }),
        );
        check("/event", Err(ParseError::Usage("/event <id>")));
        check(
            "/search chip H20",
            Ok(Command::Search {
                words: "chip H20".into(),
            }),
        );
        check(
            "/keywords add Huawei",
            Ok(Command::Keywords(KeywordAction::Add("huawei".into()))),
        );
        check(
            "/keywords add",
            Err(ParseError::Usage("/keywords add|remove <word> | list")),
        );
        check("/keywords", Ok(Command::Keywords(KeywordAction::List)));
        check(
            "/mode digest 08:30",
            Ok(Command::Mode(DeliveryMode::Digest { minute_of_day: 510 })),
        );
        check(
            "/mode digest 25:00",
            Err(ParseError::Usage("/mode instant | digest HH:MM")),
        );
        check(
            "/quiet 22:00-07:00",
            Ok(Command::Quiet(Some(QuietHours {
                start: 1320,
                end: 420,
            }))),
        );
        check("/quiet off", Ok(Command::Quiet(None)));
        check(
            "/quiet 22:00",
            Err(ParseError::Usage("/quiet HH:MM-HH:MM | off")),
        );
        check("/lang EN", Ok(Command::Lang(Lang::En)));
        check("/lang fr", Err(ParseError::Usage("/lang it|en")));
        check("/frobnicate", Err(ParseError::Unknown("frobnicate".into())));
    }

    #[test]
    fn hostile_input_never_panics() {
        for input in [
            "/",
            "/@",
            "/ ",
            "/\u{0}",
            "/recent 99999999999999999999999",
            "/quiet 9:9999-1:1",
            "/lang",
            &format!("/search {}", "é".repeat(10_000)),
        ] {
            let _ = parse(input, None);
        }
        assert_eq!(parse_clock("07:5"), Some(425));
        assert_eq!(parse_clock("7:05"), Some(425));
        assert_eq!(parse_clock("007:05"), None);
    }

    #[test]
    fn which_commands_need_rights() {
        assert!(
            parse("/subscribe x", None)
                .expect("parses")
                .changes_subscription()
        );
        assert!(!parse("/list", None).expect("parses").changes_subscription());
        assert!(
            parse("/addfeed https://x.it/feed", None)
                .expect("parses")
                .is_operator_only()
        );
    }
}

use super::*;
use crate::commands::{Command, KeywordAction, ParseError, parse};
use crate::domain::DeliveryMode;
use serde_json::Value;

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

#[test]
fn options_become_the_text_the_shared_parser_reads() {
    let check = |name: &str, args: &[&str], expected: Command| {
        assert_eq!(
            parse(&command_text(name, &words(args)), None),
            Ok(expected),
            "{name} {args:?}"
        );
    };
    check(
        "subscribe",
        &["export_ban approval"],
        Command::Subscribe {
            channel: None,
            topics: words(&["export_ban", "approval"]),
        },
    );
    check(
        "subscribe",
        &[],
        Command::Subscribe {
            channel: None,
            topics: vec![],
        },
    );
    check(
        "keywords",
        &["add", "Huawei"],
        Command::Keywords(KeywordAction::Add("huawei".into())),
    );
    check(
        "mode",
        &["digest", "08:30"],
        Command::Mode(DeliveryMode::Digest { minute_of_day: 510 }),
    );
    check(
        "recent",
        &["approval", "3"],
        Command::Recent {
            topic: Some("approval".into()),
            count: 3,
        },
    );
    assert_eq!(
        parse(&command_text("mode", &words(&["digest", "25:00"])), None),
        Err(ParseError::Usage("/mode instant | digest HH:MM"))
    );
}

#[test]
fn every_registered_command_is_one_the_parser_knows() {
    for spec in COMMANDS {
        let result = parse(&command_text(spec.name.0, &[]), None);
        assert!(
            !matches!(result, Err(ParseError::Unknown(_) | ParseError::NotForUs)),
            "{}: {result:?}",
            spec.name.0
        );
    }
}

/// Discord's rules for names (lowercase, 1-32, no spaces) and descriptions (1-100),
/// checked on the payload that is sent, Italian localizations included.
#[test]
fn every_command_and_option_is_valid_and_localized_in_italian() {
    fn check_named(value: &Value) {
        let name = value["name"].as_str().expect("name");
        let it_name = value["name_localizations"]["it"].as_str().expect("it name");
        for name in [name, it_name] {
            assert!(
                (1..=32).contains(&name.chars().count())
                    && name
                        .chars()
                        .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
                "bad name {name:?}"
            );
        }
        let description = value["description"].as_str().expect("description");
        let it_description = value["description_localizations"]["it"]
            .as_str()
            .expect("it description");
        for description in [description, it_description] {
            assert!(
                (1..=100).contains(&description.chars().count()),
                "{description:?}"
            );
        }
        if let Some(options) = value["options"].as_array() {
            assert!(options.len() <= 25);
            options.iter().for_each(check_named);
        }
    }
    let definitions = definitions();
    assert_eq!(definitions.len(), COMMANDS.len());
    for command in &definitions {
        let value = serde_json::to_value(command).expect("serialises");
        check_named(&value);
    }
}

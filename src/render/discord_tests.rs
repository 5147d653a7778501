use super::*;
use crate::domain::{
    Alert, Classification, Entity, EntityKind, FeedId, Item, ItemId, Lang, TopicId, TopicScore,
};

const HOSTILE: &str = "@everyone **H20** <@123> [x](javascript:alert(1))";

/// What a reader sees: backslash escapes resolved, zero-width spaces invisible.
fn shown(markdown: &str) -> String {
    let mut out = String::new();
    let mut chars = markdown.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            ZWSP => {}
            c => out.push(c),
        }
    }
    out
}

/// No text that Discord would turn into a ping, a mention, a masked link or markup.
fn assert_inert(markdown: &str) {
    for needle in [
        "@everyone",
        "@here",
        "<@",
        "<#",
        "<@&",
        "<:",
        "<t:",
        "](javascript",
    ] {
        assert!(
            !markdown.contains(needle),
            "{needle:?} survives in {markdown:?}"
        );
    }
    // Every `@` and `<` of feed text is followed by a zero-width space; the only bare `<`
    // is the one the plain-text form writes around a checked http(s) URL.
    for (at, c) in markdown.char_indices() {
        let rest = &markdown[at + c.len_utf8()..];
        let guarded = rest.starts_with(ZWSP) || (c == '<' && rest.starts_with("https://"));
        if matches!(c, '@' | '<') {
            assert!(guarded, "a bare {c:?} in {markdown:?}");
        }
    }
}

fn alert(title: &str, link: Option<&str>) -> Alert {
    let when = chrono::DateTime::parse_from_rfc3339("2026-01-29T08:30:00Z")
        .expect("date")
        .to_utc();
    Alert {
        item: Item {
            id: ItemId(1),
            feed: FeedId::parse("hdblog").expect("id"),
            outlet: "HD_blog <@&9>".into(),
            title: title.into(),
            summary: "lead".into(),
            link: link.map(str::to_string),
            published: Some(when),
            first_seen: when,
            lang: Lang::It,
        },
        classification: Classification {
            topics: vec![TopicScore {
                topic: TopicId::parse("export_ban").expect("id"),
                score: 3.0,
            }],
            entities: vec![Entity {
                kind: EntityKind::Chip,
                name: "H20".into(),
            }],
            why: vec!["export_ban: \"vieta\" (+3.0) @here".into()],
            concepts: vec![],
            actor: None,
        },
    }
}

#[test]
fn every_markdown_character_is_escaped() {
    let cases = [
        ("plain text, è così", "plain text, è così"),
        ("**bold** __u__ ~~s~~", r"\*\*bold\*\* \_\_u\_\_ \~\~s\~\~"),
        ("`code` ||spoiler||", r"\`code\` \|\|spoiler\|\|"),
        ("> quote # head -# sub", r"\> quote \# head \-\# sub"),
        ("[x](https://e.it)", r"\[x\]\(https://e.it\)"),
        (r"back\slash", r"back\\slash"),
        ("two\nlines", "two lines"),
        ("@everyone", "@\u{200B}everyone"),
        ("@here", "@\u{200B}here"),
        ("<@123>", "<\u{200B}@\u{200B}123\\>"),
        ("<#456>", "<\u{200B}\\#456\\>"),
        ("<@&789>", "<\u{200B}@\u{200B}&789\\>"),
        ("<t:1:R>", "<\u{200B}t:1:R\\>"),
    ];
    for (input, expected) in cases {
        assert_eq!(escape(input), expected, "{input:?}");
        assert_inert(&escape(input));
        assert_eq!(shown(&escape(input)), input.replace('\n', " "), "{input:?}");
    }
}

#[test]
fn spans_render_as_markdown_around_escaped_text() {
    let rendered = line(&[
        Span::Bold("#export_ban".into()),
        Span::Italic(" — HD_blog, 09:30 ".into()),
        Span::Code("/event `ab`".into()),
        Span::Link {
            text: "Stop a [H20]".into(),
            url: "https://x.it/a_(b)?q=1 2".into(),
        },
    ]);
    assert_eq!(
        rendered,
        r"**\#export\_ban** _— HD\_blog, 09:30_ `/event ˋabˋ`[Stop a \[H20\]](https://x.it/a_%28b%29?q=1%202)"
    );
}

#[test]
fn only_http_links_become_links() {
    assert_eq!(link_target("javascript:alert(1)"), None);
    assert_eq!(link_target("discord://x"), None);
    assert_eq!(
        link_target("https://x.it/<a>").as_deref(),
        Some("https://x.it/%3Ca%3E")
    );
    let rendered = line(&[Span::Link {
        text: "click".into(),
        url: "javascript:alert(1)".into(),
    }]);
    assert_eq!(rendered, "click");
}

#[test]
fn a_hostile_title_is_inert_in_embeds_content_and_plain_text() {
    for url in [
        Some("javascript:alert(1)"),
        Some("https://news.example.it/ban"),
        None,
    ] {
        let doc = crate::render::alert_doc(&alert(HOSTILE, url), Lang::It, chrono_tz::Europe::Rome);
        for embed in embeds(&doc) {
            for text in [
                embed.title.clone().unwrap_or_default(),
                embed.description.clone(),
            ] {
                assert_inert(&text);
            }
            for field in &embed.fields {
                assert_inert(&field.name);
                assert_inert(&field.value);
            }
            if let Some(url) = &embed.url {
                assert!(url.starts_with("https://"), "{url}");
            }
        }
        for text in markdown_chunks(&doc, MAX_CONTENT)
            .into_iter()
            .chain(plain_chunks(&doc, MAX_CONTENT))
        {
            assert_inert(&text);
        }
    }
}

#[test]
fn an_alert_becomes_a_linked_title_a_description_and_a_field() {
    let doc = crate::render::alert_doc(
        &alert(HOSTILE, Some("https://news.example.it/ban")),
        Lang::En,
        chrono_tz::Europe::Rome,
    );
    let embeds = embeds(&doc);
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    let title = embed.title.as_deref().expect("title");
    assert_eq!(shown(title), HOSTILE);
    assert_eq!(embed.url.as_deref(), Some("https://news.example.it/ban"));
    assert_eq!(
        embed.description,
        "**\\#export\\_ban**\n_HD\\_blog <\u{200B}@\u{200B}&9\\> · 29/01/2026 09:30_\nH20"
    );
    assert_eq!(embed.fields.len(), 1);
    assert_eq!(embed.fields[0].name, "Why");
    assert!(shown(&embed.fields[0].value).contains("vieta"));
}

#[test]
fn every_limit_is_kept_and_cuts_are_marked() {
    let long = "è*".repeat(3000);
    let mut doc = Doc::new();
    doc.push(vec![Span::Link {
        text: long.clone(),
        url: "https://x.it/a".into(),
    }]);
    doc.push(vec![Span::Bold("Why: ".into()), Span::Text(long.clone())]);
    for i in 0..400 {
        doc.push(vec![Span::Text(format!(
            "riga {i} — perché è così & basta"
        ))]);
    }
    doc.push(vec![Span::Bold(long.clone())]);
    let embeds = embeds(&doc);
    assert!(
        embeds.len() > 1,
        "a long description goes on in more embeds"
    );
    let title = embeds[0].title.as_deref().expect("title");
    assert!(
        length(title) <= MAX_TITLE && title.ends_with('…'),
        "{title}"
    );
    assert!(!title.ends_with("\\…"), "no escape cut in half");
    let field = &embeds[0].fields[0];
    assert!(length(&field.value) <= MAX_FIELD_VALUE && field.value.ends_with('…'));
    for embed in &embeds {
        assert!(length(&embed.description) <= MAX_DESCRIPTION);
        assert!(embed.total_length() <= MAX_EMBED_TOTAL);
    }
    let lines: usize = embeds.iter().map(|e| e.description.lines().count()).sum();
    assert_eq!(lines, 401, "no line lost");
    let last = embeds.last().expect("embeds");
    assert!(last.description.ends_with('…'), "the overlong line is cut");
    for chunk in markdown_chunks(&doc, MAX_CONTENT)
        .into_iter()
        .chain(plain_chunks(&doc, MAX_CONTENT))
    {
        assert!(length(&chunk) <= MAX_CONTENT);
        assert_eq!(chunk.matches("**").count() % 2, 0, "no bold left open");
    }
}

#[test]
fn fields_are_bounded_by_count_and_total() {
    let mut doc = Doc::new();
    for i in 0..40 {
        doc.push(vec![
            Span::Bold(format!("L{i}: ")),
            Span::Text("v".repeat(1000)),
        ]);
    }
    let embed = &embeds(&doc)[0];
    assert!(embed.fields.len() <= MAX_FIELDS);
    assert!(embed.total_length() <= MAX_EMBED_TOTAL);
    assert!(!embed.fields.is_empty());
}

#[test]
fn cutting_never_leaves_a_dangling_escape() {
    assert_eq!(escape_within("***", 4), "\\*…");
    assert_eq!(escape_within("ab", 5), "ab");
    assert_eq!(escape_within("", 1), "");
}

/// Past 25 fields, or past the 6000 an embed may hold in all, a field goes on as a line
/// of the next embeds' descriptions: nothing of the document is lost, and every embed
/// stays within every limit.
#[test]
fn fields_past_the_limits_go_on_as_lines_and_none_is_lost() {
    for (count, value_length) in [(40, 4), (40, 1000)] {
        let mut doc = Doc::new();
        doc.push(vec![Span::Text("intro".into())]);
        for i in 0..count {
            doc.push(vec![
                Span::Bold(format!("L{i}: ")),
                Span::Text(format!("v{i}x{}", "x".repeat(value_length))),
            ]);
        }
        let embeds = embeds(&doc);
        assert!(embeds[0].fields.len() <= MAX_FIELDS);
        if value_length == 4 {
            assert_eq!(
                embeds[0].fields.len(),
                MAX_FIELDS,
                "short fields: 25 of them"
            );
        }
        let mut text = String::new();
        for embed in &embeds {
            assert!(embed.total_length() <= MAX_EMBED_TOTAL);
            assert!(length(&embed.description) <= MAX_DESCRIPTION);
            text.push_str(&embed.description);
            for field in &embed.fields {
                text.push_str(&format!("\n{}: {}", field.name, field.value));
            }
        }
        for i in 0..count {
            assert!(
                text.contains(&format!("L{i}:")) && text.contains(&format!("v{i}x")),
                "field L{i} lost ({count} fields of {value_length})"
            );
        }
    }
}

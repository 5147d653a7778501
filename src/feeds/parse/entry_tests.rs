//! Fixture-driven tests of what `parse_feed` makes of each entry: summaries, dates,
//! guids and the identities built on them.

use super::tests::fixture_feed as parse;
use super::*;

#[test]
fn summaries_prefer_the_summary_then_the_content() {
    let cases: &[(&str, &[&str])] = &[
        (
            "rss2_wordpress.xml",
            &[
                "Il Dipartimento del Commercio ha pubblicato nuove regole sull’esportazione di GPU avanzate. L'articolo Gli USA stringono proviene da Red Hot Cyber.",
                "L’Aia estende i controlli sulle esportazioni «DUV» verso la Cina.",
            ],
        ),
        (
            "atom_dday.xml",
            &[
                "Secondo Reuters Washington prepara nuove regole.",
                "Taiwan aggiorna l’elenco delle entità.",
            ],
        ),
        (
            "jsonfeed.json",
            &[
                "Le nuove regole toccano anche l'Italia.",
                "Le licenze olandesi pesano sulle consegne.",
            ],
        ),
        (
            "unclosed_tag_description.xml",
            &[
                "Washington aggiunge 140 aziende alla Entity List. Tra queste due fornitori europei.",
                "Testo normale.",
            ],
        ),
        (
            "unclosed_description.xml",
            &["Il governo conferma", "Licenze rinnovate."],
        ),
        ("html_titles.xml", &["", "", "", "Riassunto pulito"]),
    ];
    for (file, summaries) in cases {
        let feed = parse(file);
        let got: Vec<&str> = feed
            .entries
            .iter()
            .map(|entry| entry.summary.as_str())
            .collect();
        assert_eq!(&got, summaries, "{file}");
    }
}

fn date(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .with_timezone(&chrono::Utc),
    )
}

#[test]
fn dates_are_read_in_italian_and_missing_ones_stay_missing() {
    let cases: &[(&str, &[Option<&str>])] = &[
        (
            "italian_dates.xml",
            &[
                Some("2025-01-06T09:00:00Z"),
                Some("2025-01-06T09:00:00Z"),
                Some("2025-01-06T00:00:00Z"),
                Some("2025-07-15T06:30:00Z"),
                None,
                None,
            ],
        ),
        (
            "atom_dday.xml",
            &[Some("2025-01-06T08:45:00Z"), Some("2025-01-05T18:00:00Z")],
        ),
        ("rss1_rdf.xml", &[Some("2025-01-06T10:20:00Z")]),
        ("jsonfeed.json", &[Some("2025-01-06T11:00:00Z"), None]),
        ("unclosed_element.xml", &[Some("2025-01-06T09:00:00Z")]),
    ];
    for (file, dates) in cases {
        let feed = parse(file);
        let got: Vec<_> = feed.entries.iter().map(|entry| entry.published).collect();
        let expect: Vec<_> = dates.iter().map(|text| text.and_then(date)).collect();
        assert_eq!(got, expect, "{file}");
    }
}

#[test]
fn guids_are_kept_only_when_the_document_has_them() {
    let cases: &[(&str, &[Option<&str>])] = &[
        (
            "rss2_wordpress.xml",
            &[
                Some("https://www.redhotcyber.com/?p=91234"),
                Some("https://www.redhotcyber.com/?p=91201"),
            ],
        ),
        (
            "atom_dday.xml",
            &[
                Some("https://www.dday.it/redazione/51234"),
                Some("tag:dday.it,2025:51200"),
            ],
        ),
        (
            "jsonfeed.json",
            &[Some("hdblog-158812"), Some("hdblog-158700")],
        ),
        ("rss091.xml", &[None]),
        ("rss1_rdf.xml", &[None]),
        ("no_guid_no_link.xml", &[None, None, None]),
    ];
    for (file, guids) in cases {
        let feed = parse(file);
        let got: Vec<Option<&str>> = feed
            .entries
            .iter()
            .map(|entry| entry.guid.as_deref())
            .collect();
        assert_eq!(&got, guids, "{file}");
    }
}

fn identities(feed: &ParsedFeed) -> Vec<crate::domain::ItemId> {
    feed.entries.iter().map(item_identity).collect()
}

#[test]
fn items_without_guid_or_link_keep_their_identity_across_parses() {
    let first = identities(&parse("no_guid_no_link.xml"));
    let second = identities(&parse("no_guid_no_link.xml"));
    assert_eq!(first, second);
    // Same title on two days: two items.
    assert_ne!(first[0], first[1]);
    assert_ne!(first[1], first[2]);
}

#[test]
fn tracking_parameters_do_not_make_a_new_item() {
    let feed = parse("tracking_links.xml");
    let ids = identities(&feed);
    assert_eq!(
        ids[0], ids[1],
        "utm_*, fbclid, www., http and a trailing slash differ only"
    );
    assert_ne!(ids[0], ids[2]);
    let expect = crate::domain::ItemId(crate::domain::stable_hash(&[
        "link:",
        "https://tomshw.it/hardware/asml-cina",
    ]));
    assert_eq!(ids[0], expect);
}

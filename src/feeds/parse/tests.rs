//! Fixture-driven tests of `parse_feed`: realistic Italian feeds under
//! `tests/data/feeds/parse/`, each with the exact text, links, dates and repairs expected.

use super::*;
use crate::domain::Lang;

use fixture_feed as parse;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/feeds/parse/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
}

fn parse_with(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&url::Url>,
) -> Result<ParsedFeed, ParseError> {
    parse_feed(&FeedBody {
        bytes,
        content_type,
        charset_override: None,
        base_url,
    })
}

pub(super) fn fixture_feed(name: &str) -> ParsedFeed {
    parse_with(&fixture(name), None, None).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn titles(feed: &ParsedFeed) -> Vec<&str> {
    feed.entries
        .iter()
        .map(|entry| entry.title.as_str())
        .collect()
}

/// One fixture and what reading it must give.
struct Case {
    file: &'static str,
    encoding: &'static str,
    title: Option<&'static str>,
    titles: &'static [&'static str],
    repairs: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        file: "rss2_wordpress.xml",
        encoding: "UTF-8",
        title: Some("Red Hot Cyber"),
        titles: &[
            "Gli USA stringono sull’export di chip AI: cosa cambia per l’Europa",
            "Paesi Bassi: nuove licenze per le macchine litografiche ASML",
        ],
        repairs: &[],
    },
    Case {
        file: "rss1_rdf.xml",
        encoding: "UTF-8",
        title: Some("Punto Informatico"),
        titles: &["La Cina limita l'export di gallio e germanio"],
        repairs: &[],
    },
    Case {
        file: "rss091.xml",
        encoding: "UTF-8",
        title: Some("ANSA.it - Tecnologia"),
        titles: &["Chip, Bruxelles valuta il Chips Act 2.0"],
        repairs: &[],
    },
    Case {
        file: "atom_dday.xml",
        encoding: "UTF-8",
        title: Some("DDay.it"),
        titles: &[
            "Nvidia H20: stop all’export verso la Cina?",
            "TSMC e le regole sull'esportazione",
        ],
        repairs: &[],
    },
    Case {
        file: "jsonfeed.json",
        encoding: "UTF-8",
        title: Some("HDblog.it"),
        titles: &[
            "Restrizioni all’export: cosa significa per i chip",
            "ASML, consegne rallentate",
        ],
        repairs: &[],
    },
    Case {
        file: "win1252_declared_iso.xml",
        encoding: "windows-1252",
        title: Some("Hardware Upgrade - Notizie"),
        titles: &["Perché l’Italia guarda ai chip: «è già tardi»"],
        repairs: &[],
    },
    Case {
        file: "utf8_declared_iso.xml",
        encoding: "UTF-8",
        title: Some("Corriere.it - Tecnologia"),
        titles: &["Perché i chip italiani sono già «strategici»"],
        repairs: &["declared ISO-8859-1 (XML declaration) but the body is UTF-8: read as UTF-8"],
    },
    Case {
        file: "latin1_declared_utf8.xml",
        encoding: "windows-1252",
        title: Some("Tom's Hardware Italia"),
        titles: &["Più controlli sull'export: è l'ora delle fonderie"],
        repairs: &["4 byte(s) of invalid UTF-8 read as windows-1252"],
    },
    Case {
        file: "bare_ampersand.xml",
        encoding: "UTF-8",
        title: Some("Key4biz"),
        titles: &[
            "Ricerca & Sviluppo: l'UE investe nei semiconduttori",
            "AT&T e le reti europee",
        ],
        repairs: &["bare & escaped (4)"],
    },
    Case {
        file: "rss_version_200.xml",
        encoding: "UTF-8",
        title: Some("Formiche"),
        titles: &["Semiconduttori, la partita geopolitica"],
        repairs: &["rss version \"2.00\" read as 2.0"],
    },
    Case {
        file: "rss_no_version.xml",
        encoding: "UTF-8",
        title: Some("StartMag"),
        titles: &["Chip e dazi: il punto"],
        repairs: &["rss without version read as 2.0"],
    },
    Case {
        file: "unclosed_tag_description.xml",
        encoding: "UTF-8",
        title: Some("Wired Italia"),
        titles: &[
            "Export di chip, la lista nera si allunga",
            "Secondo articolo",
        ],
        repairs: &["raw HTML in <description> wrapped in CDATA (1)"],
    },
    // A description left open must not swallow the next item: the markup repair closes it
    // at `</item>`, and then it can be wrapped like any other.
    Case {
        file: "unclosed_description.xml",
        encoding: "UTF-8",
        title: Some("HDblog"),
        titles: &["Intel e i fondi del Chips Act", "Samsung e le licenze USA"],
        repairs: &[
            "unclosed tag(s) closed (2)",
            "raw HTML in <description> wrapped in CDATA (1)",
        ],
    },
    Case {
        file: "unclosed_element.xml",
        encoding: "UTF-8",
        title: Some("AgendaDigitale"),
        titles: &["Chips Act europeo: a che punto siamo"],
        repairs: &["unclosed tag(s) closed (1)"],
    },
    Case {
        file: "truncated.xml",
        encoding: "UTF-8",
        title: Some("la Repubblica - Tecnologia"),
        titles: &["Chip, l'Olanda stringe sulle esportazioni"],
        repairs: &["truncated document: incomplete last item dropped"],
    },
    Case {
        file: "html_titles.xml",
        encoding: "UTF-8",
        title: Some("Red Hot Cyber – Notizie"),
        titles: &[
            "Perché l’UE rivede l’export",
            "Esclusivo: la lista Entity & i chip",
            "Grassetto nel titolo",
            "Titolo sicuro",
        ],
        repairs: &[],
    },
    Case {
        file: "bom_utf8.xml",
        encoding: "UTF-8",
        title: Some("DDay.it"),
        titles: &["Perché il BOM non rompe più nulla"],
        repairs: &[],
    },
];

#[test]
fn fixtures_give_clean_titles_and_name_their_repairs() {
    for case in CASES {
        let feed = parse(case.file);
        assert_eq!(feed.encoding, case.encoding, "{}", case.file);
        assert_eq!(feed.title.as_deref(), case.title, "{}", case.file);
        assert_eq!(titles(&feed), case.titles, "{}", case.file);
        assert_eq!(feed.repairs, case.repairs, "{}", case.file);
    }
}

#[test]
fn http_charset_and_override_come_before_the_declaration() {
    let bytes = fixture("win1252_declared_iso.xml");
    let expect = "Perché l’Italia guarda ai chip: «è già tardi»";
    // A header claiming UTF-8 is wrong here: the invalid bytes are read as windows-1252.
    let feed =
        parse_with(&bytes, Some("application/rss+xml; charset=UTF-8"), None).expect("parses");
    assert_eq!((titles(&feed)[0], feed.encoding), (expect, "windows-1252"));
    assert_eq!(
        feed.repairs,
        ["9 byte(s) of invalid UTF-8 read as windows-1252"]
    );
    // ISO-8859-15 reads 0x92 as a C1 control (which clean text turns into a space), where
    // windows-1252 reads `’`: proof that the override won over header and declaration.
    let body = FeedBody {
        bytes: &bytes,
        content_type: Some("text/xml; charset=utf-8"),
        charset_override: Some("iso-8859-15"),
        base_url: None,
    };
    let feed = parse_feed(&body).expect("parses");
    assert_eq!(
        (titles(&feed)[0], feed.encoding),
        (
            "Perché l Italia guarda ai chip: «è già tardi»",
            "ISO-8859-15"
        )
    );
}

#[test]
fn feed_level_fields_are_read() {
    let cases: &[(&str, Option<Lang>, Option<u32>)] = &[
        ("rss2_wordpress.xml", Some(Lang::It), Some(30)),
        ("rss1_rdf.xml", Some(Lang::It), None),
        ("atom_dday.xml", Some(Lang::It), None),
        ("rss091.xml", Some(Lang::It), None),
        ("jsonfeed.json", Some(Lang::It), None),
        ("bom_utf8.xml", None, None),
    ];
    for (file, lang, ttl) in cases {
        let feed = parse(file);
        assert_eq!((feed.lang, feed.ttl_minutes), (*lang, *ttl), "{file}");
    }
}

#[test]
fn links_are_absolute() {
    let feed_url = url::Url::parse("https://www.hdblog.it/feed.json").expect("valid URL");
    type Case<'a> = (&'a str, Option<&'a url::Url>, &'a [Option<&'a str>]);
    let cases: &[Case] = &[
        (
            "atom_dday.xml",
            None,
            &[
                Some("https://www.dday.it/redazione/51234/nvidia-h20-export-cina"),
                Some("https://www.dday.it/speciali/chip/tsmc-regole"),
            ],
        ),
        (
            "jsonfeed.json",
            Some(&feed_url),
            &[
                Some("https://www.hdblog.it/tecnologia/articoli/n158812/chip-export-restrizioni/"),
                Some("https://www.hdblog.it/tecnologia/articoli/n158700/asml/"),
            ],
        ),
        (
            "bare_ampersand.xml",
            None,
            &[
                Some("https://www.key4biz.it/?p=501&cat=chip"),
                Some("https://www.key4biz.it/?p=502&cat=tlc"),
            ],
        ),
        ("no_guid_no_link.xml", None, &[None, None, None]),
    ];
    for (file, base, links) in cases {
        let feed = parse_with(&fixture(file), None, *base).expect("parses");
        let got: Vec<Option<&str>> = feed
            .entries
            .iter()
            .map(|entry| entry.link.as_deref())
            .collect();
        assert_eq!(&got, links, "{file}");
    }
}

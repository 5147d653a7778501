//! `parse_feed` on hostile input: clear errors for what is no feed, no panic on anything,
//! and a truncated document never yields a half-written item.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/feeds/parse/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {path}: {error}"))
}

fn parse_bytes(bytes: &[u8]) -> Result<ParsedFeed, ParseError> {
    parse_feed(&FeedBody {
        bytes,
        content_type: None,
        charset_override: None,
        base_url: None,
    })
}

/// A small deterministic generator (xorshift), so that failures reproduce.
fn pseudo_random_bytes(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn what_is_no_feed_is_a_clear_error() {
    let html = fixture("html_page.html");
    let cases: &[(&[u8], &str)] = &[
        (b"", "the response body is empty"),
        (b" \r\n\t ", "the response body is empty"),
        (&html, "not a feed: an HTML page"),
        (
            b"<?xml version=\"1.0\"?><opml version=\"2.0\"/>",
            "not a feed: the root element is <opml>, not rss, RDF, feed or JSON Feed",
        ),
        (
            b"plain text, no markup at all",
            "not a feed: no XML or JSON document found",
        ),
        (
            b"\x00\x01\x02\xff\xfe\xfd",
            "not a feed: no XML or JSON document found",
        ),
    ];
    for (bytes, message) in cases {
        let error = parse_bytes(bytes).expect_err("no feed here");
        assert_eq!(error.to_string(), *message, "input: {bytes:?}");
    }
}

#[test]
fn broken_json_and_bad_overrides_are_errors() {
    let error = parse_bytes(b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [")
        .expect_err("truncated JSON");
    assert!(matches!(error, ParseError::Malformed { .. }), "{error:?}");

    let body = FeedBody {
        bytes: b"<rss/>",
        content_type: None,
        charset_override: Some("klingon"),
        base_url: None,
    };
    let error = parse_feed(&body).expect_err("unknown override");
    assert_eq!(
        error.to_string(),
        "the charset override `klingon` is not a known encoding"
    );
}

/// Cuts every fixture at many points: each cut parses or fails cleanly, and whatever it
/// yields is an item of the whole document, never half of one.
#[test]
fn truncated_documents_never_yield_half_items() {
    let files = [
        "rss2_wordpress.xml",
        "rss1_rdf.xml",
        "rss091.xml",
        "atom_dday.xml",
        "jsonfeed.json",
        "win1252_declared_iso.xml",
        "bare_ampersand.xml",
        "italian_dates.xml",
        "html_titles.xml",
        "unclosed_tag_description.xml",
    ];
    for file in files {
        let bytes = fixture(file);
        let whole = parse_bytes(&bytes).expect("the whole fixture parses");
        let known: Vec<(&str, Option<&str>)> = whole
            .entries
            .iter()
            .map(|entry| (entry.title.as_str(), entry.link.as_deref()))
            .collect();
        for cut in (0..bytes.len()).step_by(3) {
            let Ok(feed) = parse_bytes(&bytes[..cut]) else {
                continue;
            };
            for entry in &feed.entries {
                let item = (entry.title.as_str(), entry.link.as_deref());
                assert!(
                    known.contains(&item),
                    "{file} cut at {cut}: half item {item:?}"
                );
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut inputs: Vec<Vec<u8>> = (1..200)
        .map(|seed| pseudo_random_bytes(seed, 64 + seed as usize * 7))
        .collect();
    // Garbage after a plausible start reaches the repairs and feed-rs, not just the sniffing.
    for seed in 1..100 {
        let mut bytes =
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>".to_vec();
        bytes.extend(pseudo_random_bytes(seed, 300));
        inputs.push(bytes);
    }
    inputs.push(b"<<<<>>>>&&&&;;;;<![CDATA[<!--<?".to_vec());
    inputs.push(b"<rss version=\"2.0\"><channel><item><title>a</title></item>".to_vec());
    inputs.push(b"{\"items\": 5}".to_vec());
    inputs.push(b"\xef\xbb\xbf".to_vec());
    inputs.push(b"\xff\xfe".to_vec());
    for input in &inputs {
        // Either outcome is fine; reaching the next line is the test.
        let _outcome = parse_bytes(input);
    }
}

#[test]
fn deep_nesting_and_big_documents_are_handled() {
    let deep = format!("<rss version=\"2.0\"><channel>{}", "<x>".repeat(50_000));
    assert!(parse_bytes(deep.as_bytes()).is_ok_and(|feed| feed.entries.is_empty()));

    // About 2 MB of items: all of them come through.
    let item = "<item><title>Chip &amp; export: perché l’UE</title><link>https://www.dday.it/a/N</link></item>\n";
    let items: String = (0..20_000)
        .map(|n| item.replace('N', &n.to_string()))
        .collect();
    let big = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>{items}</channel></rss>"
    );
    assert!(big.len() > 2_000_000);
    let feed = parse_bytes(big.as_bytes()).expect("a big valid feed parses");
    assert_eq!(feed.entries.len(), 20_000);
    assert_eq!(
        feed.entries[19_999].link.as_deref(),
        Some("https://www.dday.it/a/19999")
    );

    // The same, broken by a bare `&`, goes through the repair path at full size.
    let broken = big.replace("&amp;", "&");
    let feed = parse_bytes(broken.as_bytes()).expect("repaired");
    assert_eq!(
        (feed.entries.len(), feed.repairs.as_slice()),
        (20_000, ["bare & escaped (20000)".to_string()].as_slice())
    );

    let garbage = pseudo_random_bytes(7, 2_000_000);
    let _outcome = parse_bytes(&garbage);
}

#[test]
fn a_feed_whose_items_are_swallowed_by_a_comment_or_cdata_is_an_error() {
    let cases = [
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><!-- oops <item><title>A</title><guid>a</guid></item></channel></rss>",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><description><![CDATA[never closed</description><item><title>A</title><guid>a</guid></item></channel></rss>",
    ];
    for text in cases {
        let body = FeedBody {
            bytes: text.as_bytes(),
            content_type: None,
            charset_override: None,
            base_url: None,
        };
        match parse_feed(&body) {
            Err(ParseError::Malformed { detail }) => assert!(!detail.is_empty()),
            Ok(feed) => assert!(
                !feed.entries.is_empty(),
                "{text}: parsed as an empty, healthy feed"
            ),
            Err(other) => panic!("{text}: {other}"),
        }
    }
    // A feed that is simply empty stays a healthy empty feed.
    let empty =
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title></channel></rss>";
    let body = FeedBody {
        bytes: empty.as_bytes(),
        content_type: None,
        charset_override: None,
        base_url: None,
    };
    assert_eq!(parse_feed(&body).expect("an empty feed").entries.len(), 0);
}

#[test]
fn overlong_titles_summaries_and_links_are_cut_and_counted() {
    let title = format!("Chip {}", "è".repeat(2_000_000));
    let summary = "perché ".repeat(100_000);
    let link = format!("https://news.example.it/{}", "a".repeat(3_000));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>{title}</title><link>https://news.example.it/</link><description>d</description>\
         <item><title>{title}</title><link>{link}</link><guid>g1</guid>\
         <description>{summary}</description></item>\
         <item><title>Breve</title><link>https://news.example.it/b</link><description>corto</description></item>\
         </channel></rss>"
    );
    let feed = parse_feed(&FeedBody {
        bytes: body.as_bytes(),
        content_type: None,
        charset_override: None,
        base_url: None,
    })
    .expect("parses");
    let entry = &feed.entries[0];
    assert_eq!(entry.title.chars().count(), 1000);
    assert!(entry.title.starts_with("Chip è") && entry.title.ends_with("è…"));
    assert!(entry.summary.chars().count() <= 1000 && entry.summary.ends_with("perché…"));
    assert_eq!(entry.link, None, "a cut URL leads nowhere: dropped");
    assert_eq!(entry.guid.as_deref(), Some("g1"));
    let channel = feed.title.as_deref().expect("channel title");
    assert_eq!(channel.chars().count(), 1000);
    assert_eq!(
        (
            feed.entries[1].title.as_str(),
            feed.entries[1].summary.as_str()
        ),
        ("Breve", "corto")
    );
    assert_eq!(
        feed.cuts,
        Cuts {
            titles: 2,
            summaries: 1,
            links: 1
        }
    );
    assert_eq!(
        feed.repairs,
        ["2 title(s) cut to 1000 characters, 1 link(s) over 2048 bytes dropped"]
    );
}

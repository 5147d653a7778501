//! `chipwatch feeds import-opml FILE [--write]` and `chipwatch feeds export-opml [-o FILE]`:
//! the feed list in and out of OPML. The feed list lives in the configuration file, so
//! neither command opens the store (both work beside a running service). An import prints
//! the `[[feeds]]` tables it would add; `--write` appends them to the configuration after
//! checking that the result still loads.

use crate::config::Config;
use crate::feeds::opml::{self, NewFeed};
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

pub fn export(config: &Config, output: Option<&Path>) -> anyhow::Result<()> {
    let text = opml::write("chipwatch feeds", &config.feeds, crate::clock::now());
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "chipwatch: {} feeds written to {}",
                config.feeds.len(),
                path.display()
            );
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
    }
    Ok(())
}

pub fn import(config: &Config, file: &Path, write: bool) -> anyhow::Result<()> {
    // 1. Read and understand the OPML file.
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let parsed = opml::parse(&bytes).with_context(|| format!("in {}", file.display()))?;
    // 2. Decide what is new.
    let (added, already) = opml::plan_import(&config.feeds, &parsed.feeds);
    for reason in parsed.skipped.iter().chain(&already) {
        eprintln!(
            "chipwatch: skipped {}",
            crate::render::terminal_safe(reason)
        );
    }
    eprintln!(
        "chipwatch: {} new feeds in {} ({} skipped)",
        added.len(),
        file.display(),
        parsed.skipped.len() + already.len()
    );
    if added.is_empty() {
        return Ok(());
    }
    let tables = to_toml(&added)?;
    if !write {
        print!("{tables}");
        return Ok(());
    }
    // 3. Append to the configuration, but only if the result still loads.
    append_checked(&config.path, &tables)?;
    eprintln!(
        "chipwatch: added {} feeds to {}",
        added.len(),
        config.path.display()
    );
    Ok(())
}

#[derive(Serialize)]
struct TomlFeeds<'a> {
    feeds: Vec<TomlFeed<'a>>,
}

#[derive(Serialize)]
struct TomlFeed<'a> {
    id: &'a str,
    name: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
}

/// `[[feeds]]` tables, quoted by the toml crate so that any name or URL stays valid TOML.
fn to_toml(added: &[NewFeed]) -> anyhow::Result<String> {
    let feeds = TomlFeeds {
        feeds: added
            .iter()
            .map(|feed| TomlFeed {
                id: feed.id.as_str(),
                name: &feed.name,
                url: &feed.url,
                lang: feed.lang.as_deref(),
            })
            .collect(),
    };
    let body = toml::to_string(&feeds).context("rendering the feeds as TOML")?;
    Ok(format!("\n# Imported from OPML\n{body}"))
}

/// Appends `tables` to the configuration through a temporary file beside it, loaded with
/// the same validation as at start; the original is replaced only if that succeeds, so a
/// bad import never leaves a configuration the service cannot start with.
fn append_checked(path: &Path, tables: &str) -> anyhow::Result<()> {
    let original =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = original;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(tables);
    let temporary = path.with_extension("toml.import");
    std::fs::write(&temporary, &text)
        .with_context(|| format!("writing {}", temporary.display()))?;
    if let Err(error) = Config::load(&temporary, None) {
        let _ = std::fs::remove_file(&temporary);
        anyhow::bail!(
            "the configuration would not load after the import, so it is unchanged:\n{error}"
        );
    }
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

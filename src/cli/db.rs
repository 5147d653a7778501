//! `chipwatch db`: statistics, and recovery from a database that cannot be opened.

use crate::app::{self, RunOptions};
use crate::config::Config;
use crate::store::Store;
use anyhow::Context;

pub fn stats(config: &Config) -> anyhow::Result<()> {
    let store = Store::open_existing(&config.settings.data_dir)?;
    let outbox = store.outbox_stats();
    println!("database:      {}", store.path().display());
    println!("seen items:    {}", store.seen_count());
    println!("stored items:  {}", store.items()?.len());
    println!("subscriptions: {}", store.subscriptions()?.len());
    println!("queued:        {}", outbox.pending);
    println!("delivered:     {}", outbox.delivered);
    println!("dead letters:  {}", outbox.dead_letters);
    for letter in store.dead_letters()? {
        println!(
            "  dead letter {} to {}: {}",
            letter.delivery.id, letter.delivery.chat, letter.reason
        );
    }
    Ok(())
}

/// Moves the database aside and rebuilds the seen-set by polling every feed once with
/// the first-poll rule and no backfill, so nothing the feeds list now is alerted again.
pub async fn recover(mut config: Config) -> anyhow::Result<()> {
    let dir = config.settings.data_dir.clone();
    if dir.exists() {
        let aside = dir.with_extension(format!(
            "broken-{}",
            crate::clock::now().format("%Y%m%dT%H%M%S")
        ));
        std::fs::rename(&dir, &aside)
            .with_context(|| format!("moving {} to {}", dir.display(), aside.display()))?;
        eprintln!("moved the old database to {}", aside.display());
    }
    for feed in &mut config.feeds {
        feed.backfill = 0;
    }
    let reports = app::poll_once(config, RunOptions::default(), false).await?;
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, crate::poller::PollOutcome::Failed { .. }))
        .count();
    eprintln!(
        "rebuilt the seen-set from {} feeds ({failed} failed and will be primed on their next poll); \
         subscriptions must be made again",
        reports.len()
    );
    Ok(())
}

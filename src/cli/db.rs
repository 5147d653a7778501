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

/// Moves the database aside and rebuilds it: the subscriptions and queued deliveries that
/// can be read from the old one are written into the new one, and the seen-set is rebuilt
/// by polling every feed once with the first-poll rule and no backfill, so nothing the
/// feeds list now is alerted again.
///
/// Refuses (and touches nothing) when there is no database, when another process holds it
/// (the old database is opened, and its lock held, until it has been moved aside), and
/// when it is healthy unless `force`.
pub async fn recover(mut config: Config, force: bool) -> anyhow::Result<()> {
    let dir = config.settings.data_dir.clone();
    // The rules are checked before anything moves: a broken configuration must not leave
    // the operator without a database.
    app::compile_rules(&config)?;
    let inspection = Store::inspect(&dir).context("refusing to recover")?;
    match (&inspection.problem, force) {
        (None, false) => anyhow::bail!(
            "the database at {} opens and passes the schema check: nothing to recover; \
             `chipwatch db recover --force` rebuilds it anyway (keeping the subscriptions \
             and queued deliveries)",
            dir.display()
        ),
        (None, true) => eprintln!(
            "the database at {} is healthy; rebuilding it anyway (--force)",
            dir.display()
        ),
        (Some(problem), _) => eprintln!("the database at {} is damaged: {problem}", dir.display()),
    }
    let aside = dir.with_extension(format!(
        "broken-{}",
        crate::clock::now().format("%Y%m%dT%H%M%S")
    ));
    if aside.exists() {
        anyhow::bail!(
            "{} already exists; move it away and run `chipwatch db recover` again",
            aside.display()
        );
    }
    // Moved while still open and locked: no other process can open it in between.
    std::fs::rename(&dir, &aside)
        .with_context(|| format!("moving {} to {}", dir.display(), aside.display()))?;
    let salvage = inspection.release();
    eprintln!("moved the old database to {}", aside.display());

    for feed in &mut config.feeds {
        feed.backfill = 0;
    }
    let parts = app::build(&config, RunOptions::default()).await?;
    let (subscriptions, deliveries) = parts.store.restore(&salvage).await?;
    let reports = parts.poller.poll_many(config.feeds.clone(), false).await;
    parts.store.flush().await?;
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, crate::poller::PollOutcome::Failed { .. }))
        .count();
    eprintln!(
        "kept {subscriptions} subscriptions and {deliveries} queued deliveries{}",
        if salvage.unreadable > 0 {
            format!(
                " ({} unreadable records left in the old database)",
                salvage.unreadable
            )
        } else {
            String::new()
        }
    );
    eprintln!(
        "rebuilt the seen-set from {} feeds ({failed} failed and will be primed on their next poll)",
        reports.len()
    );
    Ok(())
}

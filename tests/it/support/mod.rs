//! Local stand-ins and helpers shared by the integration tests.

pub mod fake_discord;
pub mod fake_telegram;
pub mod feed_server;
pub mod process;

/// RSS 2.0 text for a list of (guid, title, lead) items, published a few minutes before
/// the clock's now: fixture dates never expire, and they move with `CHIPWATCH_CLOCK_SHIFT`
/// when the suite is run years ahead.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let published = (chipwatch::clock::now() - chrono::Duration::minutes(5)).to_rfc2822();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title>\
         <link>https://news.example.it/</link><description>test</description><language>it-IT</language>\n",
    );
    for (guid, title, lead) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://news.example.it/{guid}</link><guid>{guid}</guid>\
             <pubDate>{published}</pubDate><description>{lead}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

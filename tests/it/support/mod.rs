//! Local stand-ins and helpers shared by the integration tests.

pub mod fake_discord;
pub mod fake_telegram;
pub mod feed_server;
pub mod process;

/// RSS 2.0 text for a list of (guid, title, lead) items.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title>\
         <link>https://news.example.it/</link><description>test</description><language>it-IT</language>\n",
    );
    for (guid, title, lead) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://news.example.it/{guid}</link><guid>{guid}</guid>\
             <pubDate>Sun, 29 Nov 2026 09:00:00 +0100</pubDate><description>{lead}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

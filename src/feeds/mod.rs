//! The only user of reqwest and feed-rs: fetching a feed politely (`fetch`), turning its
//! bytes into clean entries (`parse`), and deciding which addresses may be fetched
//! (`guard`), and the feed list in and out of OPML (`opml`). Nothing here touches the
//! store or classifies.

pub mod fetch;
pub mod guard;
pub mod opml;
pub mod parse;
pub mod schedule;

pub use fetch::{CacheHints, FetchError, FetchOutcome, Fetcher, FetcherSettings};

//! chipwatch: watches Italian tech and policy outlets for semiconductor export-policy
//! news and alerts the chats that follow it. See ARCHITECTURE.md for the map.

pub mod app;
#[path = "classify_shim.rs"]
pub mod classify;
pub mod cli;
pub mod config;
pub mod console;
pub mod dispatcher;
pub mod domain;
pub mod feeds;
pub mod notify;
pub mod poller;
pub mod render;
pub mod store;

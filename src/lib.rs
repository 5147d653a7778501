//! chipwatch: watches Italian tech and policy outlets for semiconductor export-policy
//! news and alerts the chats that follow it. See ARCHITECTURE.md for the map.

pub mod app;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod console;
pub mod delivery;
pub mod discord;
pub mod dispatcher;
pub mod domain;
pub mod events;
pub mod feeds;
pub mod i18n;
pub mod learn;
pub mod notify;
pub mod poller;
pub mod render;
pub mod secrets;
pub mod store;
pub mod telegram;

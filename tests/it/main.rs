//! The one integration-test binary (ripgrep's habit: one binary links faster than many).
//! Every test is hermetic: feeds come from a local HTTP server on 127.0.0.1:0, the
//! database lives in a temporary directory, and nothing connects anywhere else.

mod support;

mod cluster_cli;
mod crash;
mod db;
mod delivery;
mod discord;
mod discord_delivery;
mod discord_interactions;
mod events_e2e;
mod feeds_http;
mod learn_cli;
mod operator;
mod run_binary;
mod telegram;

//! `mathesarctl`: self-hosted Mathesar as a system package.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod day2;
pub mod debconf;
pub mod exit;
pub(crate) mod pg;
pub mod preflight;
pub mod rendering;
pub mod secrets;
pub mod settings;
pub mod sources;
pub mod stack;
pub mod storage;
pub mod systemd;
pub mod time;
pub mod tls;
pub mod version;

//! The Docker Compose lifecycle of the Mathesar stack: configuration read back, the engine
//! (bollard), Compose as a child process, ordered start with health waits, the bundled database,
//! the first admin, and watching the running stack.

pub(crate) mod admin;
pub(crate) mod app_setup;
pub(crate) mod app_version;
pub(crate) mod compose;
pub(crate) mod config;
pub(crate) mod database;
pub(crate) mod db_upgrade;
pub(crate) mod drain;
pub(crate) mod engine;
pub(crate) mod exec;
pub(crate) mod health;
pub(crate) mod journal;
pub(crate) mod lifecycle;
pub(crate) mod pull;
pub(crate) mod registry;
pub(crate) mod services;
pub(crate) mod start_lock;
pub(crate) mod takeover;
pub(crate) mod throwaway;
pub(crate) mod user_db;
pub(crate) mod user_sql;
pub(crate) mod watch;

pub(crate) use lifecycle::{Options, Stack, StackError};

//! The Docker Compose lifecycle of the Mathesar stack: configuration read back, the engine
//! (bollard), Compose as a child process, ordered start with health waits, the bundled database,
//! the first admin, and watching the running stack.

pub mod admin;
pub mod app_version;
pub mod compose;
pub mod config;
pub mod database;
pub mod engine;
pub mod exec;
pub mod health;
pub mod journal;
pub mod lifecycle;
pub mod pull;
pub mod registry;
pub mod services;
pub mod start_lock;
pub mod user_db;
pub mod watch;

pub use lifecycle::{Options, Stack, StackError};

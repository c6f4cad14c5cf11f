//! Files on disk: where they are, with which modes, and how they are written without ever leaving
//! a half-written file.

pub mod atomic;
pub mod commit;
pub mod dirs;
pub mod layout;
pub mod lock;
pub mod modes;
pub mod purge;

pub use layout::{ConfigLayout, DataLayout, Layout};

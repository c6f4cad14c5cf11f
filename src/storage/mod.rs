//! Files on disk: where they are, with which modes, and how they are written without ever leaving
//! a half-written file.

pub(crate) mod atomic;
pub(crate) mod commit;
pub(crate) mod dirs;
pub(crate) mod env_text;
pub(crate) mod layout;
pub(crate) mod lock;
pub(crate) mod modes;

pub(crate) use layout::{ConfigLayout, DataLayout, Layout};

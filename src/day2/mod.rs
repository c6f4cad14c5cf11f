//! Day-2 operations: logs, backups and restores of the bundled databases and the configuration,
//! upgrades that take a backup first, support bundles with every secret redacted, and image
//! archives for hosts without a registry.

pub mod backup;
pub mod bundle;
pub mod images;
pub mod manifest;
pub mod redact;
pub mod restore;

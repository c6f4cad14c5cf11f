//! Day-2 operations: logs, backups and restores of the bundled databases and the configuration,
//! upgrades that take a backup first, support bundles with every secret redacted, image archives
//! for hosts without a registry, and security rebuilds of the pinned images.

pub(crate) mod backup;
pub(crate) mod bundle;
pub(crate) mod drill;
pub(crate) mod dump;
pub(crate) mod images;
pub(crate) mod manifest;
pub(crate) mod purge;
pub(crate) mod put_back;
pub(crate) mod record;
pub(crate) mod redact;
pub(crate) mod refresh;
pub(crate) mod repository;
pub(crate) mod restic;
pub(crate) mod restore;
pub(crate) mod retries;
pub(crate) mod ssh_key;

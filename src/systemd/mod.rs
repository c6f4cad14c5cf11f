//! systemd: readiness notification for `Type=notify` (sd_notify) and the unit's state over D-Bus.

pub mod notify;
pub mod unit;

/// The unit this package installs.
pub const UNIT: &str = "mathesar.service";

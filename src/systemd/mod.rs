//! systemd: readiness notification for `Type=notify` (sd_notify), the unit's state over D-Bus and
//! its drop-in for directories other than the defaults.

pub mod dropin;
pub mod notify;
pub mod paths;
pub mod unit;

/// The unit this package installs.
pub const UNIT: &str = "mathesar.service";

//! systemd: readiness notification for `Type=notify` (sd_notify), the unit's state over D-Bus and
//! its drop-in for directories other than the defaults, the timers, and what the maintainer
//! scripts do to units the Debian way (`debian`: deb-systemd-invoke, policy-rc.d).

pub(crate) mod debian;
pub(crate) mod dropin;
pub(crate) mod notify;
pub(crate) mod paths;
pub(crate) mod timers;
pub(crate) mod unit;

/// The unit this package installs.
pub(crate) const UNIT: &str = "mathesar.service";

//! systemd: the unit's state over D-Bus and readiness notification.

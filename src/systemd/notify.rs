//! sd_notify(3) messages for the unit's main process; a no-op outside systemd (no NOTIFY_SOCKET).

use sd_notify::NotifyState;

/// The status line shown by `systemctl status` once the stack runs.
pub(crate) fn running_status(login_url: &str) -> String {
    format!("Mathesar is running at {login_url}")
}

/// READY=1 with a STATUS= line.
pub(crate) fn ready(status: &str) -> std::io::Result<()> {
    sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)])
}

/// A STATUS= line alone.
pub(crate) fn status(status: &str) -> std::io::Result<()> {
    sd_notify::notify(&[NotifyState::Status(status)])
}

/// A STATUS= line, and the start timeout pushed `by` further (EXTEND_TIMEOUT_USEC=): a start that
/// is still making progress (a pull, a wait for another host's lock) is not killed by it.
pub(crate) fn extend_start(status: &str, by: std::time::Duration) -> std::io::Result<()> {
    let usec = u32::try_from(by.as_micros()).unwrap_or(u32::MAX);
    sd_notify::notify(&[
        NotifyState::Status(status),
        NotifyState::ExtendTimeoutUsec(usec),
    ])
}

/// STOPPING=1 with a STATUS= line.
pub(crate) fn stopping(status: &str) -> std::io::Result<()> {
    sd_notify::notify(&[NotifyState::Stopping, NotifyState::Status(status)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_the_address() {
        assert_eq!(
            running_status("http://192.0.2.1/"),
            "Mathesar is running at http://192.0.2.1/"
        );
    }
}

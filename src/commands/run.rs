//! `mathesarctl run`: the foreground process of `mathesar.service` (`Type=notify`). Brings the
//! stack up, tells systemd READY=1 with a STATUS= line, then watches the containers; a container
//! that does not recover within the grace period ends it non-zero so that `Restart=` acts.
//! SIGTERM or SIGINT stop the stack (as `down`) and end it with 0.

use std::time::Duration;

use anyhow::anyhow;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::RunArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::stack::watch::{self, Notice};
use crate::stack::{Stack, config, journal, services};
use crate::systemd::{UNIT, notify, unit};

pub async fn run(args: RunArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::new(Code::Failure, e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Failure::new(Code::Failure, e))?;
    let _ = notify::status("Starting Mathesar ...");

    let started = tokio::select! {
        r = super::up::up(&dir, args.timeout.map(Duration::from_secs), true) => r,
        _ = term.recv() => return stop(&dir, "SIGTERM").await,
        _ = int.recv() => return stop(&dir, "SIGINT").await,
    };
    let applied = match started {
        Ok(a) => a,
        Err(e) => {
            let code = e.code();
            let _ = notify::status(&format!(
                "Mathesar did not start: {}",
                first_line(&e.to_string())
            ));
            journal::error(format!("{:#}", anyhow::Error::from(e)));
            return Err(Failure::new(
                code,
                anyhow!("Mathesar did not start (see above)"),
            ));
        }
    };
    let running = notify::running_status(&applied.login_url);
    let _ = notify::ready(&running);
    journal::info(&running);
    // A failed upgrade put the previous release back: said at every start, in the journal.
    if let Ok(Some(held)) = crate::rendering::held::read(&dir) {
        journal::warn(held.summary());
        for line in &held.last_log_lines {
            journal::warn(format!("Mathesar {} said: {line}", held.failed_release));
        }
    }
    // An administrator's or the package's start that came up is no step of a crash loop: its
    // count toward the unit's StartLimitBurst= is forgotten (see systemd/mathesar.service).
    // INVOCATION_ID: run by systemd (by hand, there is no unit's count to clear).
    if std::env::var_os("INVOCATION_ID").is_some() {
        if let Err(e) = unit::forget_starts_after_manual_start(UNIT, std::process::id()).await {
            journal::warn(format!(
                "the unit's start limit count could not be cleared: {e}"
            ));
        }
    }

    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    let grace = Duration::from_secs(args.grace);
    // The configuration is read again before each look: a reload may change the login address
    // (the STATUS= line follows) or the services run (an external database for Mathesar's own).
    let status = std::cell::RefCell::new((applied.login_url.clone(), running.clone()));
    let refresh = || {
        let settings = match config::load(&dir) {
            Ok(c) => c.settings,
            Err(_) => stack.current.settings.clone(),
        };
        let url = settings.login_url();
        let mut st = status.borrow_mut();
        if url != st.0 {
            st.1 = notify::running_status(&url);
            let _ = notify::status(&st.1);
            st.0 = url;
        }
        services::enabled(&settings)
    };
    let watched = watch::watch(
        &stack.engine,
        refresh,
        grace,
        |n| {
            let st = status.borrow();
            let line = match n {
                Notice::Healthy => st.1.clone(),
                other => format!("Mathesar at {} is {other}", st.0),
            };
            let _ = notify::status(&line);
        },
        || async {
            unit::state(UNIT)
                .await
                .is_ok_and(|u| u.is_stopping_or_reloading())
        },
    );
    // A generated admin password's file goes 24 hours after it was written, however long
    // Mathesar runs.
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    tokio::pin!(watched);
    loop {
        tokio::select! {
            _ = hourly.tick() => {
                for f in crate::stack::admin::forget_password(&stack.current.layout) {
                    journal::info(format!("removed the admin password file {}", f.display()));
                }
                continue;
            }
            r = &mut watched => {
                let code = match &r {
                    Err(watch::WatchError::EngineLost { .. }) => Code::Docker,
                    _ => Code::Unhealthy,
                };
                let e = r.err().map_or_else(|| anyhow!("the watch ended"), anyhow::Error::from);
                let _ = notify::status(&format!("Mathesar failed: {}", first_line(&e.to_string())));
                journal::error(format!("{e:#}"));
                return Err(Failure::new(code, e));
            }
            _ = term.recv() => return stop(&dir, "SIGTERM").await,
            _ = int.recv() => return stop(&dir, "SIGINT").await,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Stops the stack on a signal; containers and data are kept.
async fn stop(dir: &std::path::Path, signal: &str) -> Outcome {
    let _ = notify::stopping("Stopping Mathesar ...");
    journal::info(format!(
        "{signal}: stopping Mathesar (containers and data are kept)"
    ));
    let stack = Stack::open(dir).await.map_err(super::up::failure)?;
    stack.down().await.map_err(super::up::failure)?;
    journal::info("Mathesar is stopped");
    Ok(())
}

//! `mathesarctl logs [SERVICE] [-f] [--tail N]`: the stack's container logs, through
//! `docker compose logs` in the configuration directory.

use anyhow::anyhow;

use crate::cli::LogsArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::stack::compose::Compose;
use crate::stack::config;
use crate::stack::services;

/// The compose service a user's name means: a service name, its container name, or a short word.
pub(crate) fn service_name(given: &str) -> Option<&'static str> {
    let name = match given {
        "mathesar_db" | "database" | "postgres" | "postgresql" => "db",
        "mathesar_service" | "mathesar" | "app" | "web" => "service",
        "caddy" | "proxy" => "caddy-reverse-proxy",
        other => other,
    };
    services::by_name(name).map(|s| s.name)
}

pub(crate) fn run(args: LogsArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let current = config::load(&dir).map_err(|e| Failure::new(e.code(), e))?;
    let compose = Compose::new(&current.layout);
    let tail = match args.tail.as_str() {
        "all" => "all".to_string(),
        n => n.parse::<u64>().map(|n| n.to_string()).map_err(|_| {
            Failure::new(
                Code::Usage,
                anyhow!("--tail takes a number or `all`, not `{n}`"),
            )
        })?,
    };
    let mut sub = vec!["logs", "--no-color", "--tail", tail.as_str()];
    if args.follow {
        sub.push("--follow");
    }
    if args.timestamps {
        sub.push("--timestamps");
    }
    if let Some(given) = &args.service {
        let name = service_name(given).ok_or_else(|| {
            let known: Vec<&str> = services::ALL.iter().map(|s| s.name).collect();
            Failure::new(
                Code::Usage,
                anyhow!(
                    "no service `{given}`; the services are {}",
                    known.join(", ")
                ),
            )
        })?;
        sub.push(name);
    }
    let status = compose
        .run_foreground(&sub)
        .map_err(|e| Failure::new(Code::Docker, e))?;
    // Ctrl-C while following ends compose by a signal: that is how `-f` is meant to end.
    if status.success() || (args.follow && status.code().is_none()) {
        Ok(())
    } else {
        Err(Failure::new(
            Code::Docker,
            anyhow!("`docker compose logs` failed ({status})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_found_by_any_of_their_names() {
        assert_eq!(service_name("db"), Some("db"));
        assert_eq!(service_name("mathesar_db"), Some("db"));
        assert_eq!(service_name("mathesar_service"), Some("service"));
        assert_eq!(service_name("proxy"), Some("caddy-reverse-proxy"));
        assert_eq!(service_name("nope"), None);
    }
}

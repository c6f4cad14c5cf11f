//! The services of the compose file, in start order, with how long each may take to become
//! healthy and what to check when it does not.

use std::time::Duration;

use crate::settings::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Service {
    /// The service name in the compose file.
    pub name: &'static str,
    /// What people call it.
    pub title: &'static str,
    /// How long it may take to become healthy by default.
    pub timeout: Duration,
    /// What to look at when it does not become healthy.
    pub hint: &'static str,
}

pub(crate) const DB: Service = Service {
    name: "db",
    title: "the database (PostgreSQL)",
    timeout: Duration::from_secs(180),
    hint: "the database files in DATA_DIR/pgdata (owner, permissions, a PostgreSQL major version the image \
           can read), free disk space, and `docker logs mathesar_db`",
};

pub(crate) const APP: Service = Service {
    name: "service",
    title: "the Mathesar application",
    // The first start runs the database migrations.
    timeout: Duration::from_secs(600),
    hint: "that it can log in to its database (POSTGRES_* in CONFIG_DIR/.env, `mathesarctl show-config`; \
           a password changed outside `mathesarctl configure` is not applied to the database), \
           and `docker logs mathesar_service`",
};

pub(crate) const PROXY: Service = Service {
    name: "caddy-reverse-proxy",
    title: "the web proxy (Caddy)",
    timeout: Duration::from_secs(180),
    hint: "that http-port and https-port are free (`ss -ltnp`), that the domain's DNS points at this host \
           when HTTPS is used, DATA_DIR/caddy/Caddyfile, and `docker compose -p mathesar logs caddy-reverse-proxy`",
};

/// Every service a compose file can hold, in start order.
pub(crate) const ALL: [Service; 3] = [DB, APP, PROXY];

/// The service older releases could run beside them (watchtower, the answer `watchtower`): its
/// container, which they created, is removed when the stack next starts or reloads.
pub(crate) const RETIRED: &str = "watchtower";

/// The services these settings run, in start order.
pub(crate) fn enabled(s: &Settings) -> Vec<Service> {
    ALL.iter()
        .copied()
        .filter(|svc| match svc.name {
            "db" => s.bundled_db(),
            _ => true,
        })
        .collect()
}

/// The service definition for a compose service name.
pub(crate) fn by_name(name: &str) -> Option<Service> {
    ALL.iter().copied().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Key;

    use crate::settings::for_tests as settings;

    #[test]
    fn default_order_is_db_app_proxy() {
        let names: Vec<_> = enabled(&settings(&[])).iter().map(|s| s.name).collect();
        assert_eq!(names, ["db", "service", "caddy-reverse-proxy"]);
    }

    #[test]
    fn no_db_with_an_external_internal_database_nor_watchtower_with_its_old_answer() {
        let s = settings(&[
            (Key::Watchtower, "true"),
            (Key::InternalDbHost, "db.example.internal"),
        ]);
        let names: Vec<_> = enabled(&s).iter().map(|s| s.name).collect();
        assert_eq!(names, ["service", "caddy-reverse-proxy"]);
    }

    #[test]
    fn names_are_the_compose_template_s() {
        let template = crate::rendering::compose::TEMPLATE;
        for s in ALL {
            assert!(
                template.contains(&format!("\n  {}:\n", s.name)),
                "{}",
                s.name
            );
        }
        assert_eq!(by_name("db"), Some(DB));
        assert_eq!(by_name("nope"), None);
    }
}

//! The compose file, rendered from the template the package ships. Only structure is rendered
//! here (which services, which ports, which images); values stay `${VAR}` references into `.env`,
//! so that Compose recreates exactly the services whose values changed.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, context};
use thiserror::Error;

use crate::settings::Settings;

use super::images::Image;

pub(crate) const TEMPLATE: &str = include_str!("../../packaging/docker-compose.yml.j2");
pub(crate) const CADDYFILE: &str = include_str!("../../packaging/Caddyfile.j2");

#[derive(Debug, Error)]
#[error("the compose template cannot be rendered: {0}")]
pub(crate) struct RenderError(#[from] minijinja::Error);

fn environment() -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_template("compose", TEMPLATE)?;
    env.add_template("Caddyfile", CADDYFILE)?;
    Ok(env)
}

/// The Caddyfile: which global options and directives the proxy has; their values are `{$VAR}`
/// references to the proxy's environment.
pub(crate) fn render_caddyfile(s: &Settings) -> Result<String, RenderError> {
    let env = environment()?;
    let out = env.get_template("Caddyfile")?.render(context! {
        https => s.serves_https(),
        secure_cookies => s.domain.is_some(),
        https_redirect_port => s.serves_https() && s.https_port != 443,
        trusted_proxies => s.trusted_proxies.as_deref().map(caddy_trusted_proxies),
        acme_email => s.acme() && !s.admin_email.is_empty(),
        acme_ca => s.acme() && s.acme_ca.is_some(),
        acme_ca_root => s.acme_root().is_some(),
        own_cert => s.own_cert().is_some(),
    })?;
    Ok(out)
}

/// The `trusted_proxies` ranges of Caddy's `reverse_proxy` (the server-level option is not in
/// every Caddy the package meets: Debian's 2.6.2 lacks it). A proxy on this machine (a loopback address)
/// reaches the bundled proxy through Docker's port forwarding, from the gateway of the stack's
/// bridge network, an address Docker picks from its private pools: it is trusted as Caddy's
/// `private_ranges`.
fn caddy_trusted_proxies(list: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for item in list.split_whitespace() {
        let ip = item.split('/').next().unwrap_or_default();
        let entry = if ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            "private_ranges".to_string()
        } else {
            item.to_string()
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    // Caddy's shortcut first, as its documentation writes it.
    out.sort_by_key(|e| e != "private_ranges");
    out.join(" ")
}

pub(crate) fn render(s: &Settings) -> Result<String, RenderError> {
    let env = environment()?;
    let registry = s.image_registry.as_deref();
    let out = env.get_template("compose")?.render(context! {
        bundled_db => s.bundled_db(),
        db_port => s.db_port.is_some() && s.bundled_db(),
        https => s.serves_https(),
        acme => s.acme(),
        http_bind => s.http_bind.is_some(),
        tls_files => s.acme_root().is_some() || s.own_cert().is_some(),
        db_ca => s.db_ca().is_some(),
        images => context! {
            db => Image::Db.pinned(registry),
            service => Image::Service.pinned(registry),
            caddy => Image::Proxy.pinned(registry),
        },
    })?;
    Ok(out)
}

/// For each service of a rendered compose file, the `.env` variables its definition uses: a
/// changed variable makes Compose recreate exactly these services.
pub(crate) fn variables_by_service(compose: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let Ok(doc) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(compose) else {
        return out;
    };
    let Some(services) = doc.get("services").and_then(|s| s.as_mapping()) else {
        return out;
    };
    for (name, def) in services {
        let (Some(name), Ok(text)) = (name.as_str(), serde_yaml_ng::to_string(def)) else {
            continue;
        };
        let mut vars = BTreeSet::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("${") {
            rest = &rest[i + 2..];
            // `$${VAR}` is a literal for the container's shell, not an interpolation.
            let escaped = text.len() >= rest.len() + 3
                && text.as_bytes()[text.len() - rest.len() - 3] == b'$';
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if !escaped && end > 0 {
                vars.insert(rest[..end].to_string());
            }
        }
        out.insert(name.to_string(), vars);
    }
    out
}

/// The services whose definition uses a variable that differs between two `.env` contents.
pub(crate) fn services_to_recreate(
    compose: &str,
    old_env: &BTreeMap<String, String>,
    new_env: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    variables_by_service(compose)
        .into_iter()
        .filter(|(_, vars)| vars.iter().any(|v| old_env.get(v) != new_env.get(v)))
        .map(|(s, _)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Key, Settings, Source};

    fn test_sizing(s: &Settings) -> crate::settings::sizing::Sizing {
        let host = crate::settings::sizing::Host {
            cores: 2,
            memory_mib: Some(4096),
        };
        crate::settings::sizing::Sizing::new(host, s)
    }

    fn settings(domain: &str) -> Settings {
        let mut a = crate::sources::defaults::answers(std::path::Path::new("/etc/mathesar"));
        a.set(Key::ExternalAddress, "192.0.2.1", Source::Detected);
        a.set(Key::DbPassword, "long-enough-pw", Source::Generated);
        a.set(Key::Domain, domain, Source::Prompt);
        Settings::from_answers(&a).unwrap()
    }

    #[test]
    fn a_port_variable_touches_the_proxy_only() {
        let compose = render(&settings("")).unwrap();
        let by = variables_by_service(&compose);
        assert!(by["caddy-reverse-proxy"].contains("MATHESAR_HTTP_PORT"));
        assert!(
            !by["db"].contains("MATHESAR_HTTP_PORT")
                && !by["service"].contains("MATHESAR_HTTP_PORT")
        );
        assert!(
            by["db"].contains("MATHESAR_DB_PASSWORD")
                && by["service"].contains("MATHESAR_DB_PASSWORD")
        );
        // `$${POSTGRES_USER}` in the healthcheck is the container's own variable.
        let old = BTreeMap::from([("MATHESAR_HTTP_PORT".to_string(), "80".to_string())]);
        let new = BTreeMap::from([("MATHESAR_HTTP_PORT".to_string(), "8080".to_string())]);
        assert_eq!(
            services_to_recreate(&compose, &old, &new),
            BTreeSet::from(["caddy-reverse-proxy".to_string()])
        );
    }

    #[test]
    fn the_caddyfile_names_the_acme_ca_only_when_one_is_used() {
        let plain = render_caddyfile(&crate::settings::for_tests(&[])).unwrap();
        assert!(!plain.contains("acme_ca") && !plain.contains("email"));
        assert!(plain.contains("{$CADDY_SITE_ADDRESS} {"));
        assert!(!plain.contains("{%") && !plain.contains("{#"));
        assert!(plain.contains("\treverse_proxy mathesar_service:8000\n}"));
        assert!(!plain.contains("Secure"));
        let acme = crate::settings::for_tests(&[
            (Key::Domain, "mathesar.example.org"),
            (Key::AdminEmail, "admin@example.org"),
            (Key::AcmeCa, "https://ca.example.internal/acme/directory"),
            (Key::AcmeCaRoot, "/etc/ssl/internal-root.pem"),
        ]);
        let c = render_caddyfile(&acme).unwrap();
        assert!(c.contains("\tacme_ca {$ACME_CA}\n"), "{c}");
        assert!(c.contains("\tacme_ca_root /etc/caddy/tls/acme-ca-root.pem\n"));
        assert!(c.contains("\temail {$ACME_EMAIL}\n"));
        assert!(c.contains("header_down Set-Cookie"));
        let compose = render(&acme).unwrap();
        assert!(compose.contains("/caddy/tls:/etc/caddy/tls:ro"));
        let by = variables_by_service(&compose);
        assert!(by["caddy-reverse-proxy"].contains("MATHESAR_ACME_CA"));
        assert!(!by["service"].contains("MATHESAR_ACME_CA"));
        // Without a CA to ask, the proxy does not read the answer (a change recreates nothing).
        let by = variables_by_service(&render(&crate::settings::for_tests(&[])).unwrap());
        assert!(!by["caddy-reverse-proxy"].contains("MATHESAR_ACME_CA"));
        // The public CA: no acme_ca, no root, nothing mounted.
        let public = crate::settings::for_tests(&[(Key::Domain, "mathesar.example.org")]);
        let c = render_caddyfile(&public).unwrap();
        assert!(!c.contains("acme_ca"));
        // On 443 Caddy's own redirect is right; on another port it would drop the port.
        assert!(!c.contains("\tredir "));
        let other = crate::settings::for_tests(&[
            (Key::Domain, "mathesar.example.org"),
            (Key::HttpsPort, "8443"),
        ]);
        let c = render_caddyfile(&other).unwrap();
        assert!(
            c.contains(
                "http://{$CADDY_SITE_ADDRESS} {\n\tredir https://{host}:{$HTTPS_PORT}{uri} 308\n}"
            ),
            "{c}"
        );
        assert!(!render(&public).unwrap().contains("/etc/caddy/tls"));
    }

    #[test]
    fn behind_a_proxy_the_bundled_one_serves_plain_http_and_trusts_it() {
        let s = crate::settings::for_tests(&[
            (Key::Domain, "mathesar.example.org"),
            (Key::TrustedProxies, "10.1.2.0/24, 127.0.0.1"),
            (Key::HttpBind, "127.0.0.1"),
        ]);
        let c = render_caddyfile(&s).unwrap();
        assert!(
            c.contains("\t\ttrusted_proxies private_ranges 10.1.2.0/24\n"),
            "{c}"
        );
        assert!(!c.contains("acme_ca") && !c.contains("\tredir "));
        assert!(
            c.contains("header_down Set-Cookie"),
            "users reach it over https"
        );
        let compose = render(&s).unwrap();
        assert!(
            compose.contains("\"${HTTP_BIND}:${MATHESAR_HTTP_PORT}:${MATHESAR_HTTP_PORT}\""),
            "{compose}"
        );
        assert!(!compose.contains("${MATHESAR_HTTPS_PORT}:${MATHESAR_HTTPS_PORT}"));
        assert_eq!(s.login_url(), "https://mathesar.example.org/");
        assert!(!s.serves_https() && !s.acme());
    }

    /// The sslmode of Mathesar's own database and the CA reach the application: POSTGRES_SSLMODE
    /// (upstream's) and PGSSLMODE (what 0.11.0's Django connection really follows), the CA's
    /// directory read-only and PGSSLROOTCERT only when a server is verified.
    #[test]
    fn the_sslmode_and_the_ca_reach_the_application_only() {
        let s = crate::settings::for_tests(&[
            (Key::InternalDbHost, "pg.example.org"),
            (Key::InternalDbSslmode, "verify-full"),
            (Key::DbCaFile, "/etc/ssl/pg-ca.pem"),
        ]);
        let compose = render(&s).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&compose).unwrap();
        let service = &doc["services"]["service"];
        assert_eq!(service["environment"]["PGSSLMODE"], "${POSTGRES_SSLMODE}");
        assert_eq!(
            service["environment"]["POSTGRES_SSLMODE"],
            "${POSTGRES_SSLMODE}"
        );
        assert_eq!(service["environment"]["PGSSLROOTCERT"], "${PGSSLROOTCERT}");
        let volumes = serde_yaml_ng::to_string(&service["volumes"]).unwrap();
        assert!(
            volumes.contains("${MATHESAR_DATA_DIR}/pg-tls:/etc/mathesar-pg-tls:ro"),
            "{volumes}"
        );
        let by = variables_by_service(&compose);
        assert!(
            by["service"].contains("POSTGRES_SSLMODE") && by["service"].contains("PGSSLROOTCERT")
        );
        assert!(!by["caddy-reverse-proxy"].contains("PGSSLROOTCERT"));
        let env: BTreeMap<_, _> = crate::storage::env_text::parse(&super::super::env_file::render(
            &s,
            &state(),
            &test_sizing(&s),
        ))
        .unwrap()
        .into_iter()
        .collect();
        assert_eq!(env["POSTGRES_SSLMODE"], "verify-full");
        assert_eq!(
            env["PGSSLROOTCERT"],
            super::super::env_file::CONTAINER_DB_CA
        );
        assert_eq!(env["MATHESAR_INTERNAL_DB_SSLMODE"], "verify-full");
        assert_eq!(env["MATHESAR_DB_CA_FILE"], "/etc/ssl/pg-ca.pem");

        // The bundled database: prefer (libpq refuses an empty PGSSLMODE), nothing mounted.
        let plain = crate::settings::for_tests(&[]);
        let compose = render(&plain).unwrap();
        assert!(!compose.contains("PGSSLROOTCERT") && !compose.contains("pg-tls"));
        let env: BTreeMap<_, _> = crate::storage::env_text::parse(&super::super::env_file::render(
            &plain,
            &state(),
            &test_sizing(&plain),
        ))
        .unwrap()
        .into_iter()
        .collect();
        assert_eq!(env["POSTGRES_SSLMODE"], "prefer");
        assert_eq!(env["PGSSLROOTCERT"], "");
    }

    fn state() -> super::super::State {
        super::super::State {
            secret_key: crate::secrets::Secret::new("k"),
        }
    }

    #[test]
    fn structure_follows_the_settings() {
        let plain = render(&settings("")).unwrap();
        assert!(!plain.contains("${MATHESAR_HTTPS_PORT}:${MATHESAR_HTTPS_PORT}"));
        assert!(plain.contains("${MATHESAR_DB_PORT}:5432"));
        let https = render(&settings("mathesar.example.org")).unwrap();
        assert!(https.contains("${MATHESAR_HTTPS_PORT}:${MATHESAR_HTTPS_PORT}"));
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&https).unwrap();
        let services: Vec<&str> = doc["services"]
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(services, ["db", "service", "caddy-reverse-proxy"]);
    }

    #[test]
    fn the_sizing_reaches_the_application_and_each_limit_its_own_service() {
        let compose = render(&settings("")).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&compose).unwrap();
        let env = &doc["services"]["service"]["environment"];
        assert_eq!(env["WEB_CONCURRENCY"].as_str(), Some("${WEB_CONCURRENCY}"));
        assert_eq!(
            env["GUNICORN_CMD_ARGS"].as_str(),
            Some("${GUNICORN_CMD_ARGS}")
        );
        for (service, var) in [
            ("db", "DB_MEM_LIMIT"),
            ("service", "SERVICE_MEM_LIMIT"),
            ("caddy-reverse-proxy", "PROXY_MEM_LIMIT"),
        ] {
            assert_eq!(
                doc["services"][service]["mem_limit"].as_str(),
                Some(format!("${{{var}}}").as_str()),
                "{service}"
            );
            // A host with more memory recreates that service alone.
            let old = BTreeMap::from([(var.to_string(), "512m".to_string())]);
            let new = BTreeMap::from([(var.to_string(), "1024m".to_string())]);
            assert_eq!(
                services_to_recreate(&compose, &old, &new),
                BTreeSet::from([service.to_string()])
            );
        }
        let old = BTreeMap::from([("GUNICORN_CMD_ARGS".to_string(), "a".to_string())]);
        let new = BTreeMap::from([("GUNICORN_CMD_ARGS".to_string(), "b".to_string())]);
        assert_eq!(
            services_to_recreate(&compose, &old, &new),
            BTreeSet::from(["service".to_string()])
        );
    }
}

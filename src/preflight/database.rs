//! The PostgreSQL servers named in the answers: a real connection, as the containers will make it.

mod gateway;

use std::net::IpAddr;

use super::docker::Bridge;
use super::{Check, Options, Status};
use crate::pg::{ConnectError, Server, TIMEOUT, Target, classify, major, open, targets};
use crate::settings::validate::{SslMode, is_loopback_host};
use crate::settings::{DOCKER_HOST_GATEWAY, Key, Settings};

use gateway::{Gateway, through_gateway};

/// The oldest PostgreSQL Mathesar supports.
const MIN_SERVER_MAJOR: u32 = 13;
/// Docker's default address pools for bridge networks (172.17.0.0/16 to 172.31.0.0/16): where a
/// compose network not created yet will get its subnet.
const DOCKER_DEFAULT_POOL: &str = "172.16.0.0/12";

/// One attempt at one address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attempt {
    host: String,
    result: Result<Server, ConnectError>,
}

/// How the containers will reach the server, and what was tried.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    /// A host the containers use as given.
    Direct(Attempt),
    /// A loopback host: containers use `host.docker.internal`, the default bridge's gateway.
    Gateway {
        gateway: IpAddr,
        subnet: Option<String>,
        via: Attempt,
        local: Attempt,
    },
    /// A loopback host, with the gateway unknown (no Docker Engine to ask).
    LocalOnly(Attempt),
}

pub(super) async fn check(s: &Settings, opts: &Options, bridge: Option<&Bridge>) -> Vec<Check> {
    let checks = targets(s).into_iter().map(|t| async move {
        let route = route(&t, bridge).await;
        verdict(&t, &route, opts)
    });
    futures_util::future::join_all(checks).await
}

async fn route(t: &Target, bridge: Option<&Bridge>) -> Route {
    if !is_loopback_host(&t.host) {
        return Route::Direct(attempt(t, &t.host, None).await);
    }
    match bridge {
        None => Route::LocalOnly(attempt(t, &t.host, None).await),
        Some(b) => {
            let gw = b.gateway.to_string();
            let (via, local) = tokio::join!(
                attempt(t, &gw, Some(b.test_source())),
                attempt(t, &t.host, None)
            );
            Route::Gateway {
                gateway: b.gateway,
                subnet: b.project.as_ref().map(|p| p.subnet.clone()),
                via,
                local,
            }
        }
    }
}

async fn attempt(t: &Target, host: &str, source: Option<IpAddr>) -> Attempt {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let result = match tokio::time::timeout(TIMEOUT, connect(t, &host, source)).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout),
    };
    Attempt { host, result }
}

/// Connects as the containers will, reads the server version, and disconnects. TLS follows
/// the target's sslmode (libpq's meaning; the certificate is not verified, as with libpq's
/// `prefer` and `require`). The password goes to the server only, never to a command line or a
/// log, and never in clear text, with or without TLS: [`open`] watches the server's messages.
///
/// With a `source`, the connection leaves from that host address, so that pg_hba.conf judges
/// it as it will judge the containers (whose subnet the source belongs to), not by whatever
/// address the host would pick on its own.
async fn connect(t: &Target, host: &str, source: Option<IpAddr>) -> Result<Server, ConnectError> {
    let (client, driver) = open(t, host, source, "mathesarctl-preflight").await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num'), \
             host(inet_client_addr()), pg_is_in_recovery()",
            &[],
        )
        .await
        .map_err(classify)?;
    drop(client);
    let _ = driver.await;
    let version: String = row.get(0);
    let num: String = row.get(1);
    Ok(Server {
        version,
        version_num: num.trim().parse().unwrap_or(0),
        client_addr: row.get::<_, Option<String>>(2).and_then(|a| a.parse().ok()),
        read_only: row.get::<_, Option<bool>>(3).unwrap_or(false),
    })
}

/// "localhost:5432", "[::1]:5432".
fn describe(t: &Target, host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{}", t.port)
    } else {
        format!("{host}:{}", t.port)
    }
}

fn ways(key: Key, example: &str) -> String {
    format!(
        "{}={example} / `{key}: {example}` / dpkg-reconfigure mathesar",
        key.env_var()
    )
}

fn connected(t: &Target, server: &Server, where_: String) -> Check {
    // A replica of a highly available cluster: Mathesar writes to both its databases, and the
    // address given must follow the primary through a failover (README "Several hosts").
    if server.read_only {
        return Check::not_ok(
            t.name,
            Status::Fail,
            format!(
                "the PostgreSQL server at {where_} is a read-only standby (in recovery): Mathesar writes to {}",
                t.dbname
            ),
            format!(
                "give the address that always leads to the primary (a load balancer checking Patroni's /primary, or the cluster's virtual IP): {}",
                ways(t.keys.host, "pg-primary.example.org")
            ),
        );
    }
    let major = major(server.version_num);
    if server.version_num != 0 && major < MIN_SERVER_MAJOR {
        return Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL {} at {where_}: Mathesar supports PostgreSQL {MIN_SERVER_MAJOR} and later",
                server.version
            ),
            format!("upgrade the server to PostgreSQL {MIN_SERVER_MAJOR} or later"),
        );
    }
    Check::pass(
        t.name,
        format!(
            "PostgreSQL {} at {where_}, database {} as user {}",
            server.version, t.dbname, t.user
        ),
    )
}

/// What a refusal means and how to fix it, for refusals that are the same on every route.
fn refused(t: &Target, e: &ConnectError, at: &str, opts: &Options) -> Option<Check> {
    let k = t.keys;
    Some(match e {
        ConnectError::Auth(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!(
                "PostgreSQL at {at} refused the login of user {} to database {}: {e}",
                t.user, t.dbname
            ),
            format!(
                "check `{}` and `{}` (the password is not shown): {}, or change the role's password on the server (ALTER ROLE {} PASSWORD ...)",
                k.user,
                k.password,
                ways(k.password, "..."),
                t.user
            ),
        ),
        ConnectError::NoDatabase(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "create it on the server (CREATE DATABASE {} OWNER {};) or name an existing one in `{}` ({})",
                t.dbname,
                t.user,
                k.dbname,
                ways(k.dbname, &t.dbname)
            ),
        ),
        ConnectError::Cleartext => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "make the server's pg_hba.conf use scram-sha-256 (or md5) instead of password for user {}; \
                 if it does already, something between this host and the server asked for the password: check the network path, \
                 enable TLS on the server (ssl = on in postgresql.conf) and keep the sslmode at prefer or require",
                t.user
            ),
        ),
        ConnectError::NoTls(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "enable TLS on the server (ssl = on in postgresql.conf); `{}` set to prefer connects without it, readable on the network",
                t.sslmode_key()
            ),
        ),
        ConnectError::Certificate(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "`{}` is {}: the server's certificate must be signed by the CA in `db-ca-file`{}; check that file and the server's ssl_cert_file",
                t.sslmode_key(),
                t.sslmode.as_str(),
                if t.sslmode == SslMode::VerifyFull {
                    format!(" and name {}", t.host)
                } else {
                    String::new()
                }
            ),
        ),
        ConnectError::Ca(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at} was not tried: {e}"),
            format!(
                "set `db-ca-file` to the PEM file of the CA that signed the server's certificate ({})",
                ways(Key::DbCaFile, "/etc/ssl/postgres-ca.pem")
            ),
        ),
        ConnectError::Other(_) => Check::not_ok(
            t.name,
            opts.needed(),
            format!("PostgreSQL at {at} failed: {e}"),
            "check the server's log; then run `mathesarctl check` again".to_string(),
        ),
        _ => return None,
    })
}

fn unreachable(t: &Target, e: &ConnectError, at: &str, opts: &Options) -> Check {
    let k = t.keys;
    Check::not_ok(
        t.name,
        opts.needed(),
        format!("cannot reach PostgreSQL at {at}: {e}"),
        format!(
            "start PostgreSQL there, or correct `{}`/`{}` ({}); a firewall must let this host reach port {}",
            k.host,
            k.port,
            ways(k.host, "db.example.org"),
            t.port
        ),
    )
}

/// The pg_hba.conf line admitting the containers.
fn hba_line(t: &Target, subnet: &str) -> String {
    format!("host {} {} {subnet} scram-sha-256", t.dbname, t.user)
}

/// The check of one database from the way it was reached: directly, through Docker's gateway to
/// this host, or on loopback only (no engine to ask for the gateway).
fn verdict(t: &Target, route: &Route, opts: &Options) -> Check {
    match route {
        Route::Direct(a) => direct(t, a, opts),
        Route::LocalOnly(a) => local_only(t, a, opts),
        Route::Gateway {
            gateway,
            subnet,
            via,
            local,
        } => through_gateway(
            t,
            &Gateway::new(t, *gateway, subnet.as_deref(), via, local),
            via,
            local,
            opts,
        ),
    }
}

/// A host the containers use as given.
fn direct(t: &Target, a: &Attempt, opts: &Options) -> Check {
    let at = describe(t, &a.host);
    match &a.result {
        Ok(server) => connected(t, server, at),
        Err(e) => refused(t, e, &at, opts).unwrap_or_else(|| match e {
            ConnectError::Hba(_) => Check::not_ok(
                t.name,
                Status::Fail,
                format!("PostgreSQL at {at} refuses this host: {e}"),
                format!(
                    "on the server, add `{}` to pg_hba.conf (with the address the message names as ADDRESS/32), then reload PostgreSQL (SELECT pg_reload_conf();)",
                    hba_line(t, "ADDRESS/32")
                ),
            ),
            _ => unreachable(t, e, &at, opts),
        }),
    }
}

/// A loopback host without the Docker Engine: only the host's own view can be checked.
fn local_only(t: &Target, a: &Attempt, opts: &Options) -> Check {
    let at = describe(t, &a.host);
    match &a.result {
        Ok(server) => Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL {} answers on {at}, but the address the containers use ({DOCKER_HOST_GATEWAY}, Docker's bridge gateway) could not be checked without the Docker Engine",
                server.version
            ),
            format!(
                "start Docker and run `mathesarctl check` again; PostgreSQL must listen on the bridge gateway (usually 172.17.0.1) and pg_hba.conf must admit `{}`",
                hba_line(t, DOCKER_DEFAULT_POOL)
            ),
        ),
        Err(e) => refused(t, e, &at, opts).unwrap_or_else(|| unreachable(t, e, &at, opts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::tests::settings;

    pub(super) const START: Options = Options { will_start: true };
    const LATER: Options = Options { will_start: false };
    use crate::pg::tests::{PASSWORD, existing};

    pub(super) fn target(host: &str) -> Target {
        targets(&existing(host)).remove(0)
    }

    pub(super) fn server(num: u32) -> Server {
        Server {
            version: format!("{}.4 (Debian)", num / 10_000),
            version_num: num,
            client_addr: None,
            read_only: false,
        }
    }

    pub(super) fn at(host: &str, result: Result<Server, ConnectError>) -> Attempt {
        Attempt {
            host: host.into(),
            result,
        }
    }

    pub(super) fn gateway(
        via: Result<Server, ConnectError>,
        local: Result<Server, ConnectError>,
    ) -> Route {
        Route::Gateway {
            gateway: "172.17.0.1".parse().unwrap(),
            subnet: None,
            via: at("172.17.0.1", via),
            local: at("localhost", local),
        }
    }

    fn all_text(c: &Check) -> String {
        format!("{} {}", c.detail, c.remedy.clone().unwrap_or_default())
    }

    #[test]
    fn a_reachable_server_passes_with_its_version() {
        let t = target("db.example.org");
        let c = verdict(
            &t,
            &Route::Direct(at("db.example.org", Ok(server(160004)))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert_eq!(
            c.detail,
            "PostgreSQL 16.4 (Debian) at db.example.org:5432, database mathesar as user alice"
        );
        let c = verdict(
            &t,
            &Route::Direct(at("db.example.org", Ok(server(120019)))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("PostgreSQL 13 and later"));
    }

    #[test]
    fn a_standby_fails_and_names_the_primary_s_address() {
        let t = target("pg2.example.org");
        let standby = Server {
            read_only: true,
            ..server(150004)
        };
        let c = verdict(
            &t,
            &Route::Direct(at("pg2.example.org", Ok(standby))),
            &START,
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("read-only standby"), "{}", c.detail);
        let remedy = c.remedy.unwrap_or_default();
        assert!(
            remedy.contains("/primary") && remedy.contains("MATHESAR_EXISTING_DB_HOST"),
            "{remedy}"
        );
    }

    #[test]
    fn refused_logins_fail_whatever_the_route_and_never_show_the_password() {
        let auth = || {
            Err(ConnectError::Auth(
                "password authentication failed for user \"alice\"".into(),
            ))
        };
        for (t, route) in [
            (
                target("db.example.org"),
                Route::Direct(at("db.example.org", auth())),
            ),
            (target("localhost"), gateway(auth(), auth())),
            (
                target("localhost"),
                gateway(Err(ConnectError::Refused), auth()),
            ),
            (
                target("localhost"),
                Route::LocalOnly(at("localhost", auth())),
            ),
        ] {
            for opts in [START, LATER] {
                let c = verdict(&t, &route, &opts);
                assert_eq!(c.status, Status::Fail, "{route:?}");
                let text = all_text(&c);
                assert!(text.contains("refused the login"), "{text}");
                assert!(
                    text.contains("existing-db-password")
                        && text.contains("MATHESAR_EXISTING_DB_PASSWORD"),
                    "{text}"
                );
                assert!(!text.contains(PASSWORD), "{text}");
            }
        }
    }

    #[test]
    fn unreachable_servers_fail_only_when_starting() {
        let t = target("db.example.org");
        let route = Route::Direct(at("db.example.org", Err(ConnectError::Timeout)));
        let c = verdict(&t, &route, &START);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("no answer within 5 s"));
        assert!(c.remedy.unwrap().contains("MATHESAR_EXISTING_DB_HOST"));
        assert_eq!(verdict(&t, &route, &LATER).status, Status::Warn);
        let both = gateway(Err(ConnectError::Refused), Err(ConnectError::Refused));
        let c = verdict(&target("localhost"), &both, &START);
        assert!(
            c.detail
                .contains("cannot reach PostgreSQL at localhost:5432"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_missing_database_says_how_to_create_it() {
        let t = target("db.example.org");
        let route = Route::Direct(at(
            "db.example.org",
            Err(ConnectError::NoDatabase(
                "database \"mathesar\" does not exist".into(),
            )),
        ));
        let c = verdict(&t, &route, &LATER);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.remedy
                .unwrap()
                .contains("CREATE DATABASE mathesar OWNER alice;")
        );
    }

    /// What the client refuses on its own (a clear-text password request, a certificate the
    /// sslmode does not take) fails, with the change on the server or in `db-ca-file` to make.
    #[test]
    fn the_client_s_refusals_name_what_to_change() {
        for mode in ["prefer", "disable"] {
            let mut t = target("127.0.0.1");
            t.sslmode = crate::settings::validate::sslmode(mode).unwrap();
            let route = Route::Direct(at("127.0.0.1", Err(ConnectError::Cleartext)));
            let c = verdict(&t, &route, &START);
            assert_eq!(c.status, Status::Fail);
            assert!(all_text(&c).contains("ssl = on"), "{}", all_text(&c));
        }
        for (mode, host) in [
            ("verify-full", "127.0.0.1"),
            ("verify-ca", "localhost"),
            ("verify-full", "localhost"),
        ] {
            let mut t = target(host);
            t.sslmode = crate::settings::validate::sslmode(mode).unwrap();
            let e = ConnectError::Certificate("UnknownIssuer".into());
            let c = verdict(&t, &Route::Direct(at(host, Err(e))), &START);
            assert_eq!(c.status, Status::Fail);
            assert!(all_text(&c).contains("db-ca-file"), "{}", all_text(&c));
        }
    }

    #[test]
    fn without_the_engine_a_loopback_server_is_a_warning() {
        let c = verdict(
            &target("::1"),
            &Route::LocalOnly(at("::1", Ok(server(160004)))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("[::1]:5432"), "{}", c.detail);
    }

    /// A real connection attempt to a closed port: refused, quickly, with no password in sight.
    #[tokio::test]
    async fn a_closed_port_is_refused_without_showing_the_password() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let s = settings(&[
            (Key::UserDb, "existing"),
            (Key::ExistingDbHost, "127.0.0.1"),
            (Key::ExistingDbPort, &port.to_string()),
            (Key::ExistingDbUser, "alice"),
            (Key::ExistingDbPassword, PASSWORD),
        ]);
        let bridge = Bridge {
            gateway: "127.0.0.1".parse().unwrap(),
            project: None,
        };
        for b in [None, Some(&bridge)] {
            let checks = check(&s, &START, b).await;
            assert_eq!(checks.len(), 1);
            let c = &checks[0];
            assert_eq!(c.status, Status::Fail);
            assert!(c.detail.contains("connection refused"), "{}", c.detail);
            assert!(!all_text(c).contains(PASSWORD));
        }
    }

    #[test]
    fn the_sslmode_answer_is_validated() {
        use crate::settings::validate::{SslMode, sslmode};
        assert_eq!(sslmode("").unwrap(), SslMode::Prefer);
        assert_eq!(sslmode("Require").unwrap(), SslMode::Require);
        assert_eq!(sslmode(" Verify-Full").unwrap(), SslMode::VerifyFull);
        assert_eq!(sslmode("verify-ca").unwrap(), SslMode::VerifyCa);
        assert!(sslmode("verify_full").is_err());
        assert!(sslmode("allow").is_err());
        for m in SslMode::ALL {
            assert_eq!(sslmode(m.as_str()).unwrap(), m);
        }
        let e = Settings::from_answers(&{
            let mut a = crate::sources::defaults::answers(std::path::Path::new("/etc/mathesar"));
            a.set(Key::UserDb, "existing", crate::settings::Source::Default);
            a.set(
                Key::ExistingDbHost,
                "db.example.org",
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbUser,
                "alice",
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbPassword,
                PASSWORD,
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbSslmode,
                "maybe",
                crate::settings::Source::Default,
            );
            a
        })
        .unwrap_err();
        assert!(format!("{e}").contains("existing-db-sslmode"), "{e}");
    }
}

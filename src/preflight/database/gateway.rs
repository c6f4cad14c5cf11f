//! The verdicts on a loopback host reached through Docker's gateway: what the containers' connection
//! and the host's own one say together, and the pg_hba.conf and listen_addresses changes they need.

use std::net::IpAddr;

use super::{Attempt, DOCKER_DEFAULT_POOL, connected, describe, hba_line, refused, unreachable};
use crate::pg::{ConnectError, Server, Target};
use crate::preflight::{Check, Options, Status};
use crate::settings::DOCKER_HOST_GATEWAY;
use crate::stack::engine::PROJECT_NETWORK;

/// Whether `ip` lies in `cidr` ("172.16.0.0/12"); false for anything unparsable.
fn in_subnet(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The client address in a pg_hba.conf refusal: `no pg_hba.conf entry for host "192.0.2.2", ...`.
fn hba_client(message: &str) -> Option<IpAddr> {
    let (_, rest) = message.split_once("for host \"")?;
    rest.split_once('"')?.0.parse().ok()
}

/// What the messages of a loopback host reached through Docker's gateway name.
pub(super) struct Gateway<'a> {
    gateway: IpAddr,
    /// The subnet the containers connect from, and what it is.
    subnet: &'a str,
    subnet_note: String,
    via_at: String,
    local_at: String,
    gateway_note: String,
}

impl<'a> Gateway<'a> {
    pub(super) fn new(
        t: &Target,
        gateway: IpAddr,
        subnet: Option<&'a str>,
        via: &Attempt,
        local: &Attempt,
    ) -> Gateway<'a> {
        let (subnet, subnet_note) = match subnet {
            Some(s) => (
                s,
                format!("the subnet of {PROJECT_NETWORK}, where the containers run"),
            ),
            None => (
                DOCKER_DEFAULT_POOL,
                "Docker's default networks; the containers run on the compose network, not on the default bridge".to_string(),
            ),
        };
        Gateway {
            gateway,
            subnet,
            subnet_note,
            via_at: describe(t, &via.host),
            local_at: describe(t, &local.host),
            gateway_note: format!("where the containers reach this host ({DOCKER_HOST_GATEWAY})"),
        }
    }
}

/// A loopback host: the containers reach it through Docker's gateway (`via`); `local` is the
/// host's own connection, which tells a refusal of the login from one of the address.
pub(super) fn through_gateway(
    t: &Target,
    g: &Gateway,
    via: &Attempt,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let e = match &via.result {
        Ok(server) => return connected_through_gateway(t, g, server),
        Err(e) => e,
    };
    if let ConnectError::Hba(msg) = e {
        return gateway_refused_by_hba(t, g, e, msg, local, opts);
    }
    if let Some(c) = refused(t, e, &g.via_at, opts) {
        return c;
    }
    gateway_unanswered(t, g, e, local, opts)
}

fn connected_through_gateway(t: &Target, g: &Gateway, server: &Server) -> Check {
    let mut c = connected(
        t,
        server,
        format!(
            "{} (containers: {DOCKER_HOST_GATEWAY} = {})",
            g.local_at, g.gateway
        ),
    );
    if let Some(seen) = server.client_addr.filter(|a| !in_subnet(*a, g.subnet)) {
        c.detail.push_str(&format!(
            "; the server saw this test come from {seen} (Docker's NAT), the containers come from {}: pg_hba.conf must admit that too (`{}`)",
            g.subnet,
            hba_line(t, g.subnet)
        ));
    }
    c
}

/// pg_hba.conf refused the test through the gateway.
fn gateway_refused_by_hba(
    t: &Target,
    g: &Gateway,
    e: &ConnectError,
    msg: &str,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let (subnet, subnet_note) = (g.subnet, &g.subnet_note);
    // Docker masquerades the host's own connections from its subnets, so a refusal of an address
    // outside the containers' subnet says nothing about theirs.
    if let Some(seen) = hba_client(msg).filter(|a| !in_subnet(*a, subnet)) {
        let admit = format!(
            "make sure pg_hba.conf admits the containers: `{}` ({subnet}: {subnet_note}), then reload PostgreSQL (systemctl reload postgresql)",
            hba_line(t, subnet)
        );
        if let Err(le) = &local.result {
            if let Some(mut c) = refused(t, le, &g.local_at, opts) {
                if let Some(r) = c.remedy.as_mut() {
                    r.push_str("; then ");
                    r.push_str(&admit);
                }
                return c;
            }
        }
        return Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL listens on {}, {}, but its pg_hba.conf refused this host's test connection, seen as {seen} (Docker's NAT rewrites it); whether it admits the containers, from {subnet}, cannot be tested from the host",
                g.via_at, g.gateway_note
            ),
            admit,
        );
    }
    Check::not_ok(
        t.name,
        Status::Fail,
        format!(
            "PostgreSQL at {}, {}, refuses the containers: {e}",
            g.via_at, g.gateway_note
        ),
        format!(
            "add `{}` to pg_hba.conf ({subnet}: {subnet_note}), then reload PostgreSQL (systemctl reload postgresql)",
            hba_line(t, subnet)
        ),
    )
}

/// Nothing answered through the gateway: PostgreSQL listens on loopback only, or a firewall is in
/// between, or the login is refused on loopback too.
fn gateway_unanswered(
    t: &Target,
    g: &Gateway,
    e: &ConnectError,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let (via_at, local_at, gateway_note) = (&g.via_at, &g.local_at, &g.gateway_note);
    let listen = listen_remedy(t, g.gateway, g.subnet, &g.subnet_note);
    match &local.result {
        // Listening on loopback only (or a firewall in between): the usual case.
        Ok(server) => Check::not_ok(
            t.name,
            Status::Fail,
            format!(
                "PostgreSQL {} answers on {local_at} but not on {via_at}, {gateway_note}: {e}",
                server.version
            ),
            listen,
        ),
        Err(le) => match refused(t, le, local_at, opts) {
            // Refused on loopback too: fix the login first, then what the containers need.
            Some(mut c) => {
                c.detail = format!(
                    "{}; and {via_at}, {gateway_note}, does not answer: {e}",
                    c.detail
                );
                if let Some(r) = c.remedy.as_mut() {
                    r.push_str("; then ");
                    r.push_str(&listen);
                }
                c
            }
            None if matches!(le, ConnectError::Hba(_)) => Check::not_ok(
                t.name,
                Status::Fail,
                format!(
                    "PostgreSQL at {local_at} refuses loopback connections ({le}), and {via_at}, {gateway_note}, does not answer: {e}"
                ),
                listen,
            ),
            None => unreachable(t, le, local_at, opts),
        },
    }
}

fn listen_remedy(t: &Target, gateway: IpAddr, subnet: &str, subnet_note: &str) -> String {
    format!(
        "in postgresql.conf set listen_addresses = 'localhost,{gateway}' (or '*'); in pg_hba.conf add `{}` ({subnet}: {subnet_note}); then restart PostgreSQL (systemctl restart postgresql: listen_addresses is read at start only); a firewall must let Docker's networks reach port {}",
        hba_line(t, subnet),
        t.port
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{START, gateway, server, target};
    use super::super::{Route, verdict};
    use super::*;

    #[test]
    fn loopback_through_the_gateway_passes() {
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(server(170002)), Ok(server(170002))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.detail.contains("host.docker.internal = 172.17.0.1"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn loopback_only_servers_get_the_listen_and_hba_changes() {
        let c = verdict(
            &target("localhost"),
            &gateway(Err(ConnectError::Refused), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains(
                "answers on localhost:5432 but not on 172.17.0.1:5432, where the containers reach this host (host.docker.internal): connection refused"
            ),
            "{}",
            c.detail
        );
        let r = c.remedy.unwrap();
        assert!(
            r.contains("listen_addresses = 'localhost,172.17.0.1' (or '*')"),
            "{r}"
        );
        assert!(
            r.contains("host mathesar alice 172.16.0.0/12 scram-sha-256"),
            "{r}"
        );
        assert!(r.contains("restart PostgreSQL"), "{r}");
    }

    #[test]
    fn subnets_and_hba_refusals_parse() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_subnet(ip("172.25.0.5"), "172.16.0.0/12"));
        assert!(in_subnet(ip("172.25.0.5"), "172.25.0.0/16"));
        assert!(!in_subnet(ip("192.0.2.2"), "172.16.0.0/12"));
        assert!(in_subnet(ip("10.1.2.3"), "0.0.0.0/0"));
        assert!(in_subnet(ip("fd00::5"), "fd00::/64"));
        assert!(!in_subnet(ip("fd00::5"), "172.16.0.0/12"));
        for bad in ["172.16.0.0", "x/12", "172.16.0.0/33", ""] {
            assert!(!in_subnet(ip("172.16.0.1"), bad), "{bad}");
        }
        assert_eq!(
            hba_client(
                "no pg_hba.conf entry for host \"192.0.2.2\", user \"alice\", database \"mathesar\", no encryption"
            ),
            Some(ip("192.0.2.2"))
        );
        assert_eq!(hba_client("no pg_hba.conf entry for replication"), None);
    }

    #[test]
    fn a_refusal_of_the_nated_test_connection_is_inconclusive() {
        let hba = || {
            Err(ConnectError::Hba(
                "no pg_hba.conf entry for host \"192.0.2.2\", user \"alice\"".into(),
            ))
        };
        let c = verdict(
            &target("localhost"),
            &gateway(hba(), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("seen as 192.0.2.2"), "{}", c.detail);
        let r = c.remedy.unwrap();
        assert!(
            r.contains("host mathesar alice 172.16.0.0/12 scram-sha-256"),
            "{r}"
        );
        // A wrong password on loopback is still a definite failure.
        let auth = Err(ConnectError::Auth("password authentication failed".into()));
        let c = verdict(&target("localhost"), &gateway(hba(), auth), &START);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.remedy
                .unwrap()
                .contains("then make sure pg_hba.conf admits")
        );
    }

    #[test]
    fn a_success_seen_from_outside_the_subnet_says_what_else_to_admit() {
        let mut seen = server(160004);
        seen.client_addr = Some("192.0.2.2".parse().unwrap());
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(seen), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.detail.contains("saw this test come from 192.0.2.2"),
            "{}",
            c.detail
        );
        let mut inside = server(160004);
        inside.client_addr = Some("172.17.0.1".parse().unwrap());
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(inside), Ok(server(160004))),
            &START,
        );
        assert!(!c.detail.contains("saw this test"), "{}", c.detail);
    }

    #[test]
    fn a_gateway_refused_by_pg_hba_names_the_project_subnet() {
        let mut route = gateway(
            Err(ConnectError::Hba(
                "no pg_hba.conf entry for host \"172.18.0.1\"".into(),
            )),
            Ok(server(160004)),
        );
        if let Route::Gateway { subnet, .. } = &mut route {
            *subnet = Some("172.18.0.0/16".into());
        }
        let c = verdict(&target("127.0.0.1"), &route, &START);
        assert_eq!(c.status, Status::Fail);
        let r = c.remedy.unwrap();
        assert!(
            r.contains("host mathesar alice 172.18.0.0/16 scram-sha-256"),
            "{r}"
        );
        assert!(
            r.contains("mathesar_default") && r.contains("reload"),
            "{r}"
        );
    }
}

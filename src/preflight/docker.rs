//! The Docker Engine, through its API: version, the ports our own stack publishes, and the
//! address containers reach the host at.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum, NetworkInspect,
};
use semver::Version;

use crate::stack::engine::{Engine, PROJECT_NETWORK, Unreachable};

use super::os::Family;
use super::{Check, Options, Status};
use crate::version::lenient;

const NAME: &str = "docker-engine";
pub(super) const MIN_ENGINE: Version = Version::new(20, 0, 0);
/// Seconds for one API request.
const REQUEST_TIMEOUT: u64 = 3;
/// For the version, API negotiation included; the ports and networks then get [`INFO_TIMEOUT`],
/// so that a slow answer there does not hide a good version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(3);
const INFO_TIMEOUT: Duration = Duration::from_secs(2);

/// What the engine told us, for the checks that follow.
#[derive(Clone, Debug, Default)]
pub(super) struct EngineInfo {
    /// Host ports published by the running containers of our compose project.
    pub published_by_us: BTreeSet<u16>,
    pub bridge: Option<Bridge>,
}

/// Where containers reach the host: `host-gateway` is the default bridge's gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Bridge {
    pub gateway: IpAddr,
    /// The project network, once Compose has created it: the containers run there, so their
    /// connections to the gateway come from its subnet, not from the default bridge's.
    pub project: Option<ProjectNet>,
}

/// The compose project's network: its subnet, and the host's own address in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ProjectNet {
    pub subnet: String,
    pub gateway: IpAddr,
}

impl Bridge {
    /// A host address inside the subnet the containers connect from, to test from: the project
    /// network's gateway, else the default bridge's (both inside Docker's default pools).
    pub(super) fn test_source(&self) -> IpAddr {
        self.project.as_ref().map_or(self.gateway, |p| p.gateway)
    }
}

pub(super) struct Probe {
    pub check: Check,
    pub info: Option<EngineInfo>,
}

/// Host ports our containers hold: those running ones publish, and those a restarting one keeps
/// between its attempts (Docker keeps its network, and the port, while the restart policy waits:
/// a crash-looping proxy must not make its own port look taken by another program).
async fn held_by_us(engine: &Engine, containers: &[ContainerSummary]) -> BTreeSet<u16> {
    let mut ports = published_ports(containers);
    for c in containers
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::RESTARTING))
    {
        if let Some(id) = &c.id
            && let Ok(Some(i)) = engine.inspect(id).await
        {
            ports.extend(bound_ports(&i));
        }
    }
    ports
}

/// Host ports a container is configured to publish.
fn bound_ports(c: &ContainerInspectResponse) -> BTreeSet<u16> {
    c.host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref())
        .into_iter()
        .flat_map(|b| b.values().flatten().flatten())
        .filter_map(|b| b.host_port.as_deref()?.parse().ok())
        .collect()
}

/// Host ports our running containers publish (any address, TCP).
pub(super) fn published_ports(containers: &[ContainerSummary]) -> BTreeSet<u16> {
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| p.public_port)
        .collect()
}

/// The first IPv4 (else any) IPAM gateway of a network.
pub(super) fn gateway_of(net: &NetworkInspect) -> Option<IpAddr> {
    let configs = net.ipam.as_ref()?.config.as_ref()?;
    let mut found: Vec<IpAddr> = configs
        .iter()
        .filter_map(|c| c.gateway.as_deref()?.parse().ok())
        .collect();
    found.sort_by_key(|ip| !ip.is_ipv4());
    found.into_iter().next()
}

/// The first IPv4 subnet of a network with its gateway.
fn project_net(net: &NetworkInspect) -> Option<ProjectNet> {
    net.ipam
        .as_ref()?
        .config
        .as_ref()?
        .iter()
        .filter(|c| c.subnet.as_deref().is_some_and(|s| !s.contains(':')))
        .find_map(|c| {
            Some(ProjectNet {
                subnet: c.subnet.clone()?,
                gateway: c.gateway.as_deref()?.parse().ok()?,
            })
        })
}

async fn info(engine: &Engine) -> EngineInfo {
    let list = engine.project_containers();
    let bridge = engine.network("bridge");
    let project = engine.network(PROJECT_NETWORK);
    let (list, bridge, project) = tokio::join!(list, bridge, project);
    // Best effort: without these, ports owned by our stack look busy and the loopback
    // database check falls back to 127.0.0.1, both reported in their own checks.
    let published_by_us = match list {
        Ok(l) => held_by_us(engine, &l).await,
        Err(_) => BTreeSet::new(),
    };
    let bridge = bridge
        .ok()
        .as_ref()
        .and_then(gateway_of)
        .map(|gateway| Bridge {
            gateway,
            project: project.ok().as_ref().and_then(project_net),
        });
    EngineInfo {
        published_by_us,
        bridge,
    }
}

pub(super) async fn probe(opts: &Options, family: Family) -> Probe {
    match Engine::connect_within(REQUEST_TIMEOUT, VERSION_TIMEOUT).await {
        Ok((engine, v)) => {
            let info = tokio::time::timeout(INFO_TIMEOUT, info(&engine))
                .await
                .unwrap_or_default();
            let platform = v.platform.as_ref().map(|p| p.name.as_str());
            Probe {
                check: verdict(
                    v.version.as_deref().unwrap_or(""),
                    v.api_version.as_deref(),
                    platform,
                    family,
                ),
                info: Some(info),
            }
        }
        Err(e) => Probe {
            check: unreachable(&e, opts, family),
            info: None,
        },
    }
}

fn install_command(family: Family) -> &'static str {
    match family {
        Family::Debian => "apt install docker.io",
        Family::Rpm => {
            "dnf install docker-ce (Docker's repository) or dnf install moby-engine (Fedora)"
        }
        Family::Other => {
            "install Docker Engine from your distribution (Debian/Ubuntu: apt install docker.io; RPM: dnf install docker-ce)"
        }
    }
}

/// The engine answered: is it recent enough, and is it Docker at all?
pub(super) fn verdict(
    version: &str,
    api: Option<&str>,
    platform: Option<&str>,
    family: Family,
) -> Check {
    let api = api.map(|a| format!(", API {a}")).unwrap_or_default();
    let upgrade = format!(
        "upgrade Docker Engine to {MIN_ENGINE} or later ({}), then systemctl restart docker",
        install_command(family)
    );
    if platform.is_some_and(|p| p.to_ascii_lowercase().contains("podman")) {
        return Check::not_ok(
            NAME,
            Status::Fail,
            format!("the engine on the Docker socket is Podman {version}{api}, not Docker Engine"),
            format!(
                "Mathesar runs on Docker Engine: {}",
                install_command(family)
            ),
        );
    }
    match lenient(version) {
        Some(v) if v >= MIN_ENGINE => Check::pass(NAME, format!("Docker Engine {version}{api}")),
        Some(_) => Check::not_ok(
            NAME,
            Status::Fail,
            format!("Docker Engine {version}{api} is older than {MIN_ENGINE}"),
            upgrade,
        ),
        None => Check::not_ok(
            NAME,
            Status::Warn,
            format!(
                "Docker Engine reports an unrecognised version `{version}`{api}; Mathesar needs {MIN_ENGINE} or later"
            ),
            format!("check `docker version`; {upgrade}"),
        ),
    }
}

/// The engine did not answer: required when the stack starts now, else a warning.
pub(super) fn unreachable(e: &Unreachable, opts: &Options, family: Family) -> Check {
    let start = "systemctl enable --now docker";
    let remedy = match e {
        Unreachable::NoSocket(_) => format!(
            "install Docker Engine ({}) and start it: {start}",
            install_command(family)
        ),
        Unreachable::Refused(_) | Unreachable::Timeout(..) => format!(
            "start it: {start} (see `journalctl -u docker` if it does not start); if it is not installed: {}",
            install_command(family)
        ),
        Unreachable::Denied(_) => "run mathesarctl as root (sudo)".to_string(),
        Unreachable::Unsupported(_) => {
            "unset DOCKER_HOST, or point it at the local engine (unix:///var/run/docker.sock)"
                .to_string()
        }
        Unreachable::Other { .. } => {
            format!("check the engine: `docker info`, `journalctl -u docker`; {start}")
        }
    };
    Check::not_ok(NAME, opts.needed(), e.to_string(), remedy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{Ipam, IpamConfig, PortSummary};
    use std::collections::HashMap;

    #[test]
    fn engine_versions_are_compared_with_the_minimum() {
        for v in ["20.10.24", "26.1.5+dfsg1", "28.2.2", "20.0.0"] {
            let c = verdict(
                v,
                Some("1.45"),
                Some("Docker Engine - Community"),
                Family::Debian,
            );
            assert_eq!(c.status, Status::Pass, "{v}");
            assert!(
                c.detail.contains(v) && c.detail.contains("API 1.45"),
                "{}",
                c.detail
            );
        }
        let c = verdict("19.03.15", Some("1.40"), None, Family::Debian);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("older than 20.0.0"), "{}", c.detail);
        assert!(c.remedy.unwrap().contains("apt install docker.io"));
        let c = verdict("1.13.1", None, None, Family::Rpm);
        assert_eq!(c.status, Status::Fail);
        assert!(c.remedy.unwrap().contains("dnf install"));
        assert_eq!(verdict("", None, None, Family::Other).status, Status::Warn);
    }

    #[test]
    fn podman_is_not_docker() {
        let c = verdict(
            "4.9.4",
            Some("1.41"),
            Some("linux/amd64/fedora-40 Podman Engine"),
            Family::Rpm,
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("Podman"));
    }

    #[test]
    fn an_unreachable_engine_fails_only_when_starting() {
        let start = Options { will_start: true };
        let later = Options { will_start: false };
        let refused = Unreachable::Refused("/var/run/docker.sock".into());
        let c = unreachable(&refused, &start, Family::Debian);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("not running"));
        let r = c.remedy.unwrap();
        assert!(
            r.contains("systemctl enable --now docker") && r.contains("apt install docker.io"),
            "{r}"
        );
        assert_eq!(
            unreachable(&refused, &later, Family::Debian).status,
            Status::Warn
        );
        let c = unreachable(
            &Unreachable::NoSocket("/var/run/docker.sock".into()),
            &start,
            Family::Rpm,
        );
        assert!(c.detail.contains("/var/run/docker.sock"));
        assert!(c.remedy.unwrap().contains("dnf install"));
        let c = unreachable(
            &Unreachable::Denied("/var/run/docker.sock".into()),
            &start,
            Family::Rpm,
        );
        assert!(c.remedy.unwrap().contains("root"));
    }

    #[test]
    fn a_restarting_containers_configured_ports_are_ours() {
        use bollard::models::{HostConfig, PortBinding};
        let binding = |port: &str| PortBinding {
            host_ip: None,
            host_port: Some(port.into()),
        };
        let c = ContainerInspectResponse {
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([
                    (
                        "8080/tcp".to_string(),
                        Some(vec![binding("8080"), binding("8080")]),
                    ),
                    ("443/tcp".to_string(), Some(vec![binding("8443")])),
                    ("2019/tcp".to_string(), None),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(bound_ports(&c), BTreeSet::from([8080, 8443]));
        assert!(bound_ports(&ContainerInspectResponse::default()).is_empty());
    }

    #[test]
    fn our_published_ports_are_collected() {
        let port = |public: Option<u16>, private: u16| PortSummary {
            public_port: public,
            private_port: private,
            ..Default::default()
        };
        let containers = vec![
            ContainerSummary {
                ports: Some(vec![
                    port(Some(80), 80),
                    port(Some(80), 80),
                    port(None, 2019),
                ]),
                ..Default::default()
            },
            ContainerSummary {
                ports: Some(vec![port(Some(5432), 5432)]),
                ..Default::default()
            },
            ContainerSummary::default(),
        ];
        assert_eq!(published_ports(&containers), BTreeSet::from([80, 5432]));
    }

    #[test]
    fn the_bridge_gateway_prefers_ipv4() {
        let cfg = |gw: &str, subnet: &str| IpamConfig {
            gateway: Some(gw.into()),
            subnet: Some(subnet.into()),
            ..Default::default()
        };
        let net = NetworkInspect {
            ipam: Some(Ipam {
                config: Some(vec![
                    cfg("fd00::1", "fd00::/64"),
                    cfg("172.17.0.1", "172.17.0.0/16"),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(gateway_of(&net), Some("172.17.0.1".parse().unwrap()));
        assert_eq!(
            project_net(&net),
            Some(ProjectNet {
                subnet: "172.17.0.0/16".into(),
                gateway: "172.17.0.1".parse().unwrap()
            })
        );
        let mut b = Bridge {
            gateway: "172.17.0.1".parse().unwrap(),
            project: None,
        };
        assert_eq!(b.test_source(), b.gateway);
        b.project = project_net(&net).map(|p| ProjectNet {
            gateway: "172.23.0.1".parse().unwrap(),
            ..p
        });
        assert_eq!(b.test_source().to_string(), "172.23.0.1");
        assert_eq!(gateway_of(&NetworkInspect::default()), None);
    }
}

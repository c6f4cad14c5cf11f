//! The host ports the stack publishes: free, or already ours.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;

use super::docker::EngineInfo;
use super::{Check, Options};
use crate::settings::{Key, Settings};

const NAME: &str = "ports";
/// TCP state LISTEN in /proc/net/tcp (include/net/tcp_states.h).
const TCP_LISTEN: &str = "0A";

/// One port the stack publishes, with the answer that chooses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Published {
    pub key: Key,
    pub port: u16,
}

/// What binding the port found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    Free,
    /// Ports below 1024 need root to bind: the verdict then rests on the listening sockets alone.
    FreeByListing,
    Busy(Vec<Owner>),
}

/// A process holding a listening socket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Owner {
    pub pid: u32,
    pub comm: String,
}

/// A LISTEN socket from /proc/net/tcp or tcp6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ListenSocket {
    pub port: u16,
    pub inode: u64,
}

/// The ports this configuration publishes, as the compose template publishes them.
pub(super) fn published(s: &Settings) -> Vec<Published> {
    let mut out = vec![Published {
        key: Key::HttpPort,
        port: s.http_port,
    }];
    if s.serves_https() {
        out.push(Published {
            key: Key::HttpsPort,
            port: s.https_port,
        });
    }
    if let (Some(port), true) = (s.db_port, s.bundled_db()) {
        out.push(Published {
            key: Key::DbPort,
            port,
        });
    }
    out
}

pub(super) fn check(s: &Settings, opts: &Options, engine: Option<&EngineInfo>) -> Check {
    let ours = engine.map(|e| &e.published_by_us);
    let ports = published(s);
    let results: Vec<(Published, Option<Probe>)> = ports
        .iter()
        .map(|p| {
            let held_by_us = ours.is_some_and(|o| o.contains(&p.port));
            (*p, (!held_by_us).then(|| probe(p.port)))
        })
        .collect();
    let taken: BTreeSet<u16> = ports.iter().map(|p| p.port).collect();
    verdict(&results, opts, |key| suggest(key, &taken))
}

/// Combines the per-port findings (`None`: published by our own running stack) into one check.
pub(super) fn verdict(
    results: &[(Published, Option<Probe>)],
    opts: &Options,
    suggest: impl Fn(Key) -> u16,
) -> Check {
    let mut fine = Vec::new();
    let mut busy = Vec::new();
    let mut remedies = Vec::new();
    let mut behind_hint = false;
    for (p, probe) in results {
        let what = format!("{} {}", p.key, p.port);
        match probe {
            None => fine.push(format!("{what} (published by Mathesar's running stack)")),
            Some(Probe::Free) => fine.push(format!("{what} free")),
            Some(Probe::FreeByListing) => fine.push(format!(
                "{what} free (no listening socket; not bound: not root)"
            )),
            Some(Probe::Busy(owners)) => {
                busy.push(format!(
                    "port {} ({}) is in use by {}",
                    p.port,
                    p.key,
                    describe(owners)
                ));
                let alt = suggest(p.key);
                let how = format!(
                    "{}={alt} / `{}: {alt}` / dpkg-reconfigure mathesar",
                    p.key.env_var(),
                    p.key
                );
                let find = if owners.is_empty() {
                    format!(" (`sudo ss -ltnp 'sport = :{}'` shows it)", p.port)
                } else if owners.iter().any(|o| o.comm == "docker-proxy") {
                    format!(
                        " (a container publishes it: `docker ps --filter publish={}`)",
                        p.port
                    )
                } else {
                    String::new()
                };
                remedies.push(format!("stop it{find} or choose another {} ({how})", p.key));
                // A web server already on the standard web ports: Mathesar can sit behind it.
                if matches!(p.key, Key::HttpPort | Key::HttpsPort)
                    && [80, 443].contains(&p.port)
                    && !behind_hint
                {
                    behind_hint = true;
                    remedies.push(
                        "or keep that web server in front of Mathesar: `trusted-proxies: 127.0.0.1`, `http-bind: 127.0.0.1` and another http-port, and proxy the domain to it (README: behind a reverse proxy)"
                            .to_string(),
                    );
                }
            }
        }
    }
    if busy.is_empty() {
        return Check::pass(NAME, fine.join(", "));
    }
    let mut detail = busy.join("; ");
    if !fine.is_empty() {
        detail.push_str(&format!("; {}", fine.join(", ")));
    }
    Check::not_ok(NAME, opts.needed(), detail, remedies.join("; "))
}

/// "nginx (pid 1234)", "nginx (pids 1234, 1240), apache2 (pid 99)", or "another program".
pub(super) fn describe(owners: &[Owner]) -> String {
    if owners.is_empty() {
        return "another program".to_string();
    }
    let mut by_name: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for o in owners {
        by_name.entry(&o.comm).or_default().push(o.pid);
    }
    by_name
        .into_iter()
        .map(|(comm, mut pids)| {
            pids.sort_unstable();
            pids.dedup();
            let list = pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let s = if pids.len() == 1 { "" } else { "s" };
            format!("{comm} (pid{s} {list})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds the port on every address as Docker's proxy does, and names the holder when busy.
fn probe(port: u16) -> Probe {
    match bind_all(port) {
        Ok(()) => Probe::Free,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            // Not root: a privileged port cannot be bound, so look at the listening sockets.
            let inodes = listening_inodes(port);
            if inodes.is_empty() {
                Probe::FreeByListing
            } else {
                Probe::Busy(owners(&inodes))
            }
        }
        Err(_) => Probe::Busy(owners(&listening_inodes(port))),
    }
}

/// std sets SO_REUSEADDR on Unix, as Go's listener in the Docker proxy does: a socket lingering
/// in TIME_WAIT does not count as busy, a LISTEN socket on any local address does.
fn bind_all(port: u16) -> std::io::Result<()> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
    if ipv6_available() {
        TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)))?;
    }
    Ok(())
}

fn ipv6_available() -> bool {
    TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))).is_ok()
}

/// A port for the remedy: a free one near the usual alternative, not already taken by another
/// published port.
fn suggest(key: Key, taken: &BTreeSet<u16>) -> u16 {
    let base = match key {
        Key::HttpsPort => 8443,
        Key::DbPort => 5433,
        _ => 8080,
    };
    (base..base + 50)
        .find(|p| !taken.contains(p) && probe(*p) == Probe::Free)
        .unwrap_or(base)
}

fn listening_inodes(port: u16) -> BTreeSet<u64> {
    // Through /proc/self: the unit runs with ProcSubset=pid, which hides /proc/net.
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| parse_proc_net_tcp(&t))
        .filter(|s| s.port == port && s.inode != 0)
        .map(|s| s.inode)
        .collect()
}

/// The LISTEN sockets of a /proc/net/tcp or tcp6 table (proc_net_tcp(5)).
pub(super) fn parse_proc_net_tcp(text: &str) -> Vec<ListenSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() < 10 || f[3] != TCP_LISTEN {
                return None;
            }
            let (_, port) = f[1].rsplit_once(':')?;
            Some(ListenSocket {
                port: u16::from_str_radix(port, 16).ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// The inode of a `socket:[INODE]` fd link.
pub(super) fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The processes with an fd on one of `inodes`. Other users' fds are readable only by root:
/// without root the list may be empty, and the message then says "another program".
fn owners(inodes: &BTreeSet<u64>) -> Vec<Owner> {
    let mut out = Vec::new();
    if inodes.is_empty() {
        return out;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|l| socket_inode(&l.to_string_lossy()))
                .is_some_and(|i| inodes.contains(&i))
        });
        if holds {
            out.push(Owner {
                pid,
                comm: comm(&dir).unwrap_or_else(|| "?".into()),
            });
        }
    }
    out
}

fn comm(proc_dir: &Path) -> Option<String> {
    let c = std::fs::read_to_string(proc_dir.join("comm")).ok()?;
    Some(c.trim().to_string()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;
    use crate::preflight::tests::settings;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1580 1 00000000ae99e7f5 100 0 0 10 0
   1: 020200C0:A88C 507100CB:01BB 01 00000000:00000000 00:00000000 00000000     0        0 85486 1 00000000e7779381 20 4 1 50 146
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 06 00000000:00000000 03:00000F5C 00000000     0        0 0 3 0000000000000000
";

    #[test]
    fn proc_net_tcp_lists_listen_sockets_only() {
        assert_eq!(
            parse_proc_net_tcp(TCP),
            vec![
                ListenSocket {
                    port: 80,
                    inode: 1580
                },
                ListenSocket {
                    port: 8080,
                    inode: 4242
                }
            ]
        );
        assert_eq!(
            parse_proc_net_tcp(TCP6),
            vec![ListenSocket {
                port: 443,
                inode: 31337
            }]
        );
        assert!(parse_proc_net_tcp("header\n   0: garbage\n").is_empty());
        assert!(parse_proc_net_tcp("").is_empty());
    }

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        for other in ["pipe:[12345]", "/dev/null", "socket:[x]", "socket:[1"] {
            assert_eq!(socket_inode(other), None, "{other}");
        }
    }

    #[test]
    fn published_ports_follow_the_compose_template() {
        let keys = |s: &Settings| {
            published(s)
                .iter()
                .map(|p| (p.key, p.port))
                .collect::<Vec<_>>()
        };
        let s = settings(&[]);
        assert_eq!(keys(&s), vec![(Key::HttpPort, 80), (Key::DbPort, 5432)]);
        let s = settings(&[(Key::Domain, "m.example.org"), (Key::DbPort, "")]);
        assert_eq!(keys(&s), vec![(Key::HttpPort, 80), (Key::HttpsPort, 443)]);
        let s = settings(&[(Key::InternalDbHost, "db.example.org")]);
        assert_eq!(keys(&s), vec![(Key::HttpPort, 80)]);
    }

    #[test]
    fn owners_are_grouped_by_name() {
        let o = |pid, comm: &str| Owner {
            pid,
            comm: comm.into(),
        };
        assert_eq!(describe(&[o(1234, "nginx")]), "nginx (pid 1234)");
        assert_eq!(
            describe(&[o(1240, "nginx"), o(1234, "nginx"), o(99, "apache2")]),
            "apache2 (pid 99), nginx (pids 1234, 1240)"
        );
        assert_eq!(describe(&[]), "another program");
    }

    const START: Options = Options { will_start: true };
    const LATER: Options = Options { will_start: false };
    const HTTP: Published = Published {
        key: Key::HttpPort,
        port: 80,
    };
    const DB: Published = Published {
        key: Key::DbPort,
        port: 5432,
    };

    #[test]
    fn a_busy_port_names_the_process_and_how_to_choose_another() {
        let nginx = Probe::Busy(vec![Owner {
            pid: 1234,
            comm: "nginx".into(),
        }]);
        let c = verdict(
            &[(HTTP, Some(nginx.clone())), (DB, Some(Probe::Free))],
            &START,
            |_| 8080,
        );
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.detail,
            "port 80 (http-port) is in use by nginx (pid 1234); db-port 5432 free"
        );
        assert_eq!(
            c.remedy.as_deref(),
            Some(
                "stop it or choose another http-port (MATHESAR_HTTP_PORT=8080 / `http-port: 8080` / dpkg-reconfigure mathesar); or keep that web server in front of Mathesar: `trusted-proxies: 127.0.0.1`, `http-bind: 127.0.0.1` and another http-port, and proxy the domain to it (README: behind a reverse proxy)"
            )
        );
        let c = verdict(&[(HTTP, Some(nginx))], &LATER, |_| 8080);
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn ports_of_our_own_stack_count_as_free() {
        let c = verdict(
            &[(HTTP, None), (DB, Some(Probe::FreeByListing))],
            &START,
            |_| 1,
        );
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.detail
                .contains("http-port 80 (published by Mathesar's running stack)")
        );
        assert!(c.detail.contains("not root"));
    }

    #[test]
    fn unknown_holders_and_containers_get_a_way_to_find_them() {
        let c = verdict(&[(DB, Some(Probe::Busy(vec![])))], &START, |_| 5433);
        assert!(c.detail.contains("in use by another program"));
        let r = c.remedy.unwrap();
        assert!(
            r.contains("sport = :5432") && r.contains("MATHESAR_DB_PORT=5433"),
            "{r}"
        );
        let proxy = Probe::Busy(vec![Owner {
            pid: 7,
            comm: "docker-proxy".into(),
        }]);
        let r = verdict(&[(HTTP, Some(proxy))], &START, |_| 8080)
            .remedy
            .unwrap();
        assert!(r.contains("docker ps --filter publish=80"), "{r}");
    }

    #[test]
    fn a_port_we_listen_on_is_busy_and_names_us() {
        // Below the ephemeral range, so that no outgoing connection takes it once released.
        let (l, port) = (20_000..21_000)
            .find_map(|p| Some((TcpListener::bind((Ipv4Addr::UNSPECIFIED, p)).ok()?, p)))
            .unwrap();
        let Probe::Busy(owners) = probe(port) else {
            panic!("port {port} should be busy")
        };
        let me = std::process::id();
        assert!(owners.iter().any(|o| o.pid == me), "{owners:?}");
        drop(l);
        // Another process on this machine may take the port the moment it is released: what
        // must hold is that we are no longer named.
        match probe(port) {
            Probe::Free | Probe::FreeByListing => {}
            Probe::Busy(owners) => assert!(owners.iter().all(|o| o.pid != me), "{owners:?}"),
        }
    }
}

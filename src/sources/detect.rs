//! Values found on the machine: the address shown when there is no domain.

use std::net::IpAddr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// The first global address of an interface that is up, IPv4 preferred; Docker's own bridges are
/// skipped because nobody outside can reach them.
pub(crate) fn external_address() -> Option<String> {
    let mut v4 = None;
    let mut v6 = None;
    for ifa in getifaddrs().ok()? {
        let up = ifa.flags.contains(InterfaceFlags::IFF_UP)
            && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let docker = ifa.interface_name.starts_with("docker")
            || ifa.interface_name.starts_with("br-")
            || ifa.interface_name.starts_with("veth");
        if !up || docker {
            continue;
        }
        let Some(addr) = ifa.address else { continue };
        if let Some(sin) = addr.as_sockaddr_in() {
            v4.get_or_insert(IpAddr::V4(sin.ip()));
        } else if let Some(sin6) = addr.as_sockaddr_in6() {
            let ip = sin6.ip();
            // Link-local addresses need a zone and are useless in a URL.
            if (ip.segments()[0] & 0xffc0) != 0xfe80 {
                v6.get_or_insert(IpAddr::V6(ip));
            }
        }
    }
    v4.or(v6).map(|ip| ip.to_string())
}

/// Used when no address can be found at all.
pub(crate) const FALLBACK_ADDRESS: &str = "localhost";

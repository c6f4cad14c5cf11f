//! The host's cores and memory, which `settings::sizing` sizes Mathesar from at configure time.
//!
//! Memory: `/proc/meminfo`'s `MemTotal`, lowered by the cgroup v2 limit of the system when one is
//! set: `/sys/fs/cgroup/memory.max` at the root of the hierarchy this process sees, which is a
//! container's or a VM slice's own limit in an LXC or systemd-nspawn guest (the real root cgroup
//! has no such file). Docker's containers run under that hierarchy, so its limit is theirs too.
//! This process's own cgroup (an SSH session, apt) is not the containers', and is not read.
//! Cores: `available_parallelism` (CPU affinity and this process's CPU quota), lowered likewise
//! by the root's `cpu.max` quota. Nothing is followed but these fixed paths, only read.

use std::path::Path;

use crate::settings::sizing::Host;

const MEMINFO: &str = "/proc/meminfo";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The host as this process sees it; what cannot be read is left out (memory) or taken as 1 core.
pub(crate) fn read() -> Host {
    read_from(Path::new(MEMINFO), Path::new(CGROUP_ROOT))
}

fn read_from(meminfo: &Path, cgroup: &Path) -> Host {
    let text = |p: &Path| std::fs::read_to_string(p).ok();
    let total = text(meminfo).as_deref().and_then(mem_total_bytes);
    let limit = text(&cgroup.join("memory.max"))
        .as_deref()
        .and_then(cgroup_memory_max);
    let memory = match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    };
    let cores = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    let quota = text(&cgroup.join("cpu.max"))
        .as_deref()
        .and_then(cgroup_cpu_max);
    Host {
        cores: quota.map_or(cores, |q| cores.min(q)).max(1),
        memory_mib: memory.map(|b| b / (1024 * 1024)),
    }
}

/// `MemTotal:       16314268 kB` in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then_some(kib.checked_mul(1024)?)
}

/// `memory.max`: a number of bytes, or `max` (no limit).
fn cgroup_memory_max(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|&b| b > 0)
}

/// `cpu.max`: `QUOTA PERIOD` in microseconds, or `max PERIOD` (no limit); whole cores, rounded
/// up (a quota of 1.5 cores runs 2 workers' worth of threads).
fn cgroup_cpu_max(text: &str) -> Option<u32> {
    let mut parts = text.split_whitespace();
    let quota: u64 = parts.next()?.parse().ok()?;
    let period: u64 = parts.next()?.parse().ok().filter(|&p| p > 0)?;
    u32::try_from(quota.div_ceil(period)).ok().map(|c| c.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cgroup_files() {
        let meminfo = "MemFree:  100 kB\nMemTotal:       16314268 kB\nSwapTotal: 0 kB\n";
        assert_eq!(mem_total_bytes(meminfo), Some(16_314_268 * 1024));
        assert_eq!(mem_total_bytes("MemTotal: lots\n"), None);
        assert_eq!(mem_total_bytes("MemTotal: 5 MB\n"), None);
        assert_eq!(mem_total_bytes(""), None);
        assert_eq!(cgroup_memory_max("max\n"), None);
        assert_eq!(cgroup_memory_max("2147483648\n"), Some(2 << 30));
        assert_eq!(cgroup_memory_max("0\n"), None);
        assert_eq!(cgroup_cpu_max("max 100000\n"), None);
        assert_eq!(cgroup_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(cgroup_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(cgroup_cpu_max("10000 100000\n"), Some(1));
        assert_eq!(cgroup_cpu_max("100000 0\n"), None);
    }

    #[test]
    fn the_lower_of_the_machine_and_its_cgroup_limit() {
        let dir = tempfile::tempdir().unwrap();
        let meminfo = dir.path().join("meminfo");
        let cgroup = dir.path().join("cgroup");
        std::fs::create_dir(&cgroup).unwrap();
        std::fs::write(&meminfo, "MemTotal: 8388608 kB\n").unwrap();
        let h = read_from(&meminfo, &cgroup);
        assert_eq!(h.memory_mib, Some(8192), "no cgroup files: the machine");
        assert!(h.cores >= 1);
        std::fs::write(cgroup.join("memory.max"), "1073741824\n").unwrap();
        std::fs::write(cgroup.join("cpu.max"), "100000 100000\n").unwrap();
        let h = read_from(&meminfo, &cgroup);
        assert_eq!((h.cores, h.memory_mib), (1, Some(1024)));
        std::fs::write(cgroup.join("memory.max"), "max\n").unwrap();
        assert_eq!(read_from(&meminfo, &cgroup).memory_mib, Some(8192));
        // Nothing readable: memory unknown, still a core.
        let h = read_from(&dir.path().join("none"), &dir.path().join("none"));
        assert_eq!(h.memory_mib, None);
        assert!(h.cores >= 1);
    }
}

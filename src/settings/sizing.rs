//! How much of the host Mathesar's containers use: gunicorn's workers, threads and timeouts, and
//! each container's memory limit, computed at configure time from the host's cores and memory
//! (read by `preflight::host`) and the answers `workers`, `threads` and `request-timeout`. A pure
//! function: the same host and answers always give the same `.env`, so a re-run changes nothing.
//!
//! Upstream's image starts `gunicorn config.wsgi` with gunicorn's defaults (one synchronous worker
//! unless `WEB_CONCURRENCY` says more, 30 s timeout): one slow request blocks every other user,
//! and a long one is killed at 30 s. Gunicorn 23 (upstream's `requirements.txt` pins 23.0.0)
//! reads `WEB_CONCURRENCY` for its workers and `GUNICORN_CMD_ARGS` for the rest; the image's
//! command line names only the bind address and the directory, so both are honoured.

use std::fmt;

use super::Settings;

/// What one gunicorn worker of Mathesar takes. Not measured here: a worker is a whole Django
/// process with SQLAlchemy, both psycopg drivers, clevercsv and the storage back-ends imported
/// (a 229 MB virtual environment on disk), which sits above 100 MB at rest, and an import or a
/// large table read holds its data in the worker while the request runs; 200 MiB is the middle of
/// the 150-250 MB such a worker is usually budgeted.
pub(crate) const WORKER_MIB: u64 = 200;
/// Left to everything but the workers: the kernel and system services, the Docker Engine, the
/// bundled PostgreSQL (128 MB shared buffers by default plus its connections), Caddy and
/// gunicorn's own arbiter process.
pub(crate) const RESERVED_MIB: u64 = 768;
/// Below this, the workers the memory carries are fewer than upstream's default of 3: said at
/// configure time, never refused.
pub(crate) const MIN_MEMORY_MIB: u64 = 1536;
/// At most this many workers by default: each holds up to `threads` requests at once, and each
/// request up to two PostgreSQL connections (Mathesar's own database and the user database);
/// 8 x 4 x 2 = 64 stays well below PostgreSQL's default `max_connections` of 100.
pub(crate) const MAX_AUTO_WORKERS: u32 = 8;
/// Threads per worker (gunicorn's `gthread` worker class): a slow request (an import, a large
/// table, a database upgrade) occupies one thread, and the worker's other threads and the other
/// workers go on serving.
pub(crate) const DEFAULT_THREADS: u32 = 4;
/// Gunicorn's `--timeout`: upstream's next release raises it from 30 s to 180 s so that the step
/// after a Mathesar upgrade is not killed half-way. With `gthread` workers it is the time a
/// worker may stop answering gunicorn's arbiter (hung), not a limit on one request.
pub(crate) const DEFAULT_TIMEOUT_SECS: u32 = 180;
/// How long gunicorn lets requests in progress finish when it is stopped or restarted.
pub(crate) const GRACEFUL_TIMEOUT_SECS: u32 = 30;
/// Memory limit of the container that needs little: Caddy uses tens of MB.
pub(crate) const PROXY_MEM_MIB: u64 = 256;
/// No limit below this for the application and PostgreSQL, whatever the host.
pub(crate) const MIN_LIMIT_MIB: u64 = 512;

/// The host as `preflight::host` found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Host {
    /// CPUs this host can use (at least 1).
    pub cores: u32,
    /// Memory in MiB; `None` when it could not be read (taken as [`MIN_MEMORY_MIB`]).
    pub memory_mib: Option<u64>,
}

/// Memory is counted in steps of this size: a total that moves by a few MiB (a balloon driver, a
/// kernel update reserving more) gives the same `.env`, so a re-run still changes nothing.
pub(crate) const MEMORY_STEP_MIB: u64 = 128;

impl Host {
    fn memory(&self) -> u64 {
        let m = self.memory_mib.unwrap_or(MIN_MEMORY_MIB);
        m / MEMORY_STEP_MIB * MEMORY_STEP_MIB
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = if self.cores == 1 { "core" } else { "cores" };
        match self.memory_mib {
            Some(m) => write!(f, "{} {cores}, {:.1} GiB", self.cores, m as f64 / 1024.0),
            None => write!(f, "{} {cores}, memory unknown", self.cores),
        }
    }
}

/// What the containers get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sizing {
    pub host: Host,
    pub workers: u32,
    pub threads: u32,
    pub timeout_secs: u32,
    /// Memory limits in MiB.
    pub service_mem_mib: u64,
    pub db_mem_mib: u64,
    pub proxy_mem_mib: u64,
}

/// What the application's memory limit must hold: the workers and gunicorn's arbiter.
fn service_needs_mib(workers: u32) -> u64 {
    u64::from(workers) * WORKER_MIB + 128
}

/// Workers for a host: gunicorn's rule of thumb, 2 x cores + 1 (upstream's compose file says
/// the same), no more than the memory left after [`RESERVED_MIB`] carries at [`WORKER_MIB`] each,
/// at most [`MAX_AUTO_WORKERS`], at least 1.
pub(crate) fn auto_workers(host: Host) -> u32 {
    let by_cpu = host.cores.max(1).saturating_mul(2).saturating_add(1);
    let by_memory = host.memory().saturating_sub(RESERVED_MIB) / WORKER_MIB;
    let by_memory = u32::try_from(by_memory).unwrap_or(u32::MAX);
    by_cpu.min(by_memory).clamp(1, MAX_AUTO_WORKERS)
}

impl Sizing {
    /// The sizing for `host`, with the answers that override it.
    pub(crate) fn new(host: Host, s: &Settings) -> Sizing {
        let memory = host.memory();
        let workers = s.workers.unwrap_or_else(|| auto_workers(host));
        Sizing {
            host,
            workers,
            threads: s.threads.unwrap_or(DEFAULT_THREADS),
            timeout_secs: s.request_timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
            // Ceilings, not reservations: no container alone can take the memory the others
            // need (an application running away does not get PostgreSQL killed). They add up to
            // more than the host; the application's always holds what its workers need.
            service_mem_mib: (memory * 3 / 5)
                .max(service_needs_mib(workers))
                .max(MIN_LIMIT_MIB),
            db_mem_mib: (memory / 2).max(MIN_LIMIT_MIB),
            proxy_mem_mib: PROXY_MEM_MIB,
        }
    }

    /// `GUNICORN_CMD_ARGS`: gunicorn reads it after its configuration file and before its
    /// command line, which names only the address and the directory. The workers travel in
    /// `WEB_CONCURRENCY`, upstream's documented variable. `--preload`: Django is imported once
    /// and the workers forked from it (sharing its pages), instead of each worker importing it
    /// again - on a small host the workers' start otherwise takes the CPU for seconds. Django
    /// opens database connections per thread on first use, never at import, so none is shared.
    pub(crate) fn gunicorn_cmd_args(&self) -> String {
        format!(
            "--worker-class gthread --threads {} --timeout {} --graceful-timeout {GRACEFUL_TIMEOUT_SECS} --preload",
            self.threads, self.timeout_secs
        )
    }

    /// What a host or the answers make slow or fragile, with what to do: shown at configure time,
    /// never a refusal.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let memory = self.host.memory_mib;
        if let Some(m) = memory.filter(|&m| m < MIN_MEMORY_MIB) {
            out.push(format!(
                "this host has {m} MiB of memory, less than the {MIN_MEMORY_MIB} MiB Mathesar needs to serve several users at once: \
                 {} worker(s) of {} threads; imports and large tables will be slow, and a few people at once will wait on each other. \
                 Give the machine at least 2 GiB of memory, then run `mathesarctl configure` again",
                self.workers, self.threads
            ));
        }
        if memory.is_none() {
            out.push(format!(
                "the host's memory could not be read: sized as if it had {MIN_MEMORY_MIB} MiB ({} workers). \
                 Set the answer `workers` to size it yourself",
                self.workers
            ));
        }
        let left = self.host.memory().saturating_sub(RESERVED_MIB);
        if u64::from(self.workers) * WORKER_MIB > left {
            out.push(format!(
                "{} workers need about {} MiB, more than the {left} MiB this host leaves them: under load the host will swap \
                 or the kernel will kill processes. Lower the answer `workers` (empty: sized from the host)",
                self.workers,
                u64::from(self.workers) * WORKER_MIB,
            ));
        }
        out
    }
}

impl fmt::Display for Sizing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} worker(s) x {} threads, {} s timeout; memory limits: application {} MiB, database {} MiB (host: {})",
            self.workers,
            self.threads,
            self.timeout_secs,
            self.service_mem_mib,
            self.db_mem_mib,
            self.host
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Key, for_tests};

    fn host(cores: u32, gib: f64) -> Host {
        Host {
            cores,
            memory_mib: Some((gib * 1024.0) as u64),
        }
    }

    #[test]
    fn workers_follow_the_cores_bounded_by_memory() {
        // 2 x cores + 1 when the memory carries them.
        assert_eq!(auto_workers(host(1, 4.0)), 3);
        assert_eq!(auto_workers(host(2, 4.0)), 5);
        assert_eq!(auto_workers(host(2, 2.0)), 5);
        // The memory decides: (1024 - 768) / 200 = 1, (1536 - 768) / 200 = 3.
        assert_eq!(auto_workers(host(4, 1.0)), 1);
        assert_eq!(auto_workers(host(4, 1.5)), 3);
        assert_eq!(auto_workers(host(16, 2.0)), 6);
        // Never none, never beyond the ceiling.
        assert_eq!(auto_workers(host(1, 0.5)), 1);
        assert_eq!(auto_workers(host(0, 0.25)), 1);
        assert_eq!(auto_workers(host(64, 256.0)), MAX_AUTO_WORKERS);
        // Memory unknown: as the minimum, upstream's default of 3.
        let unknown = Host {
            cores: 8,
            memory_mib: None,
        };
        assert_eq!(auto_workers(unknown), 3);
    }

    #[test]
    fn a_few_mib_more_or_less_change_nothing() {
        let s = |mib| {
            let h = Host {
                cores: 2,
                memory_mib: Some(mib),
            };
            Sizing::new(h, &for_tests(&[]))
        };
        let base = s(3968);
        for mib in [3969, 3990, 4000, 4095] {
            let other = s(mib);
            assert_eq!(
                (other.workers, other.service_mem_mib, other.db_mem_mib),
                (base.workers, base.service_mem_mib, base.db_mem_mib),
                "{mib}"
            );
        }
    }

    #[test]
    fn defaults_and_answers() {
        let s = Sizing::new(host(2, 4.0), &for_tests(&[]));
        assert_eq!((s.workers, s.threads, s.timeout_secs), (5, 4, 180));
        assert_eq!(
            s.gunicorn_cmd_args(),
            "--worker-class gthread --threads 4 --timeout 180 --graceful-timeout 30 --preload"
        );
        assert_eq!((s.service_mem_mib, s.db_mem_mib), (2457, 2048));
        assert!(s.warnings().is_empty(), "{:?}", s.warnings());
        let chosen = for_tests(&[
            (Key::Workers, "2"),
            (Key::Threads, "8"),
            (Key::RequestTimeout, "600"),
        ]);
        let s = Sizing::new(host(2, 4.0), &chosen);
        assert_eq!((s.workers, s.threads, s.timeout_secs), (2, 8, 600));
        assert!(s.gunicorn_cmd_args().contains("--threads 8 --timeout 600 "));
    }

    #[test]
    fn limits_have_a_floor_and_grow_with_the_host() {
        let small = Sizing::new(host(1, 0.5), &for_tests(&[]));
        assert_eq!((small.service_mem_mib, small.db_mem_mib), (512, 512));
        let big = Sizing::new(host(8, 32.0), &for_tests(&[]));
        assert_eq!((big.service_mem_mib, big.db_mem_mib), (19660, 16384));
        assert_eq!(big.proxy_mem_mib, 256);
        // The application's limit always holds its workers, chosen or not.
        for cores in [1, 2, 4, 8, 16, 64] {
            for mib in [256, 512, 1024, 1536, 2048, 3072, 4096, 8192, 65536] {
                let h = Host {
                    cores,
                    memory_mib: Some(mib),
                };
                for w in [None, Some("1"), Some("32")] {
                    let answers: Vec<_> = w.map(|w| (Key::Workers, w)).into_iter().collect();
                    let s = Sizing::new(h, &for_tests(&answers));
                    assert!(service_needs_mib(s.workers) <= s.service_mem_mib, "{s}");
                    assert!(s.db_mem_mib >= MIN_LIMIT_MIB);
                }
            }
        }
    }

    #[test]
    fn a_small_host_is_told_what_will_be_slow_and_what_to_do() {
        let s = Sizing::new(host(1, 1.0), &for_tests(&[]));
        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("1024 MiB"), "{}", w[0]);
        assert!(w[0].contains("imports and large tables will be slow"));
        assert!(w[0].contains("at least 2 GiB"));
        // Enough memory: nothing to say.
        assert!(
            Sizing::new(host(1, 1.5), &for_tests(&[]))
                .warnings()
                .is_empty()
        );
        // More workers than the limit carries.
        let s = Sizing::new(host(2, 2.0), &for_tests(&[(Key::Workers, "16")]));
        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("16 workers need about 3200 MiB, more than the 1280 MiB"),
            "{}",
            w[0]
        );
        // Memory unknown: said, with the answer that sizes it.
        let s = Sizing::new(
            Host {
                cores: 2,
                memory_mib: None,
            },
            &for_tests(&[]),
        );
        assert!(s.warnings()[0].contains("answer `workers`"));
    }

    #[test]
    fn shown_in_one_line() {
        let s = Sizing::new(host(2, 4.0), &for_tests(&[]));
        assert_eq!(
            s.to_string(),
            "5 worker(s) x 4 threads, 180 s timeout; memory limits: application 2457 MiB, database 2048 MiB (host: 2 cores, 4.0 GiB)"
        );
    }
}

//! `mathesarctl doctor [--bundle FILE]`: the preflight checks and the running stack's status, and
//! on request a support bundle: versions, the unit's status and journal, each container's logs and
//! state, `docker compose ps` and `config`, the configuration files and listings of the
//! directories, with every secret replaced by `<redacted>` (see `day2::redact`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;

use crate::cli::DoctorArgs;
use crate::day2::backup;
use crate::day2::bundle::{Bundle, listing};
use crate::day2::images;
use crate::day2::redact::Redactor;
use crate::exit::{Code, Failure, Outcome};
use crate::preflight;
use crate::stack::compose::Compose;
use crate::stack::config;
use crate::stack::engine::{Engine, container_name, service_of};
use crate::stack::registry;
use crate::systemd::UNIT;
use crate::time;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const LOG_LINES: usize = 1000;

/// Runs a program and returns a transcript: the command line, its output and how it ended.
async fn transcript(program: &str, args: &[&str]) -> (String, Option<i32>) {
    let mut text = format!("$ {program} {}\n", args.join(" "));
    let code = match crate::process::output(program, args, COMMAND_TIMEOUT).await {
        Ok(out) => {
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            text.push_str(&format!("({})\n", out.status));
            out.status.code()
        }
        Err(e) => {
            text.push_str(&format!("{e}\n"));
            None
        }
    };
    (text, code)
}

/// `mathesarctl SUB` (this very binary) for the configuration directory.
async fn ourselves(dir: &Path, sub: &[&str]) -> (String, Option<i32>) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "mathesarctl".into());
    let dir = dir.display().to_string();
    let mut args: Vec<&str> = sub.to_vec();
    args.extend(["--config-dir", dir.as_str()]);
    transcript(&exe, &args).await
}

pub(crate) async fn run(args: DoctorArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let mut worst: Option<(Code, String)> = None;
    let mut note = |code: Code, why: String| {
        if worst.is_none() {
            worst = Some((code, why));
        }
    };

    let current = config::load(&dir);
    let preflight_text = match &current {
        Ok(c) => {
            let report =
                preflight::run(&c.settings, &preflight::Options { will_start: true }).await;
            if report.failed() {
                note(Code::Preflight, "the host misses a requirement".into());
            }
            report.to_string()
        }
        Err(e) => {
            note(e.code(), e.to_string());
            format!("no preflight: {e}\n")
        }
    };
    println!("== Host checks\n{preflight_text}");
    let images_text = images_report(current.as_ref().ok().map(|c| &c.settings)).await;
    println!("== Images\n{}", images_text.text);
    if let Some(why) = images_text.problem {
        note(Code::Pull, why);
    }
    let (status_text, status_code) = ourselves(&dir, &["status"]).await;
    let shown: Vec<&str> = status_text.lines().skip(1).collect();
    println!("== Status\n{}", shown.join("\n"));
    if status_code != Some(0) {
        note(Code::Unhealthy, "Mathesar is not running healthy".into());
    }

    if let Some(path) = &args.bundle {
        let stamp = time::compact(SystemTime::now());
        let mut b = Bundle::new(
            format!("mathesar-support-{stamp}"),
            Redactor::from_config_dir(&dir),
        );
        collect(
            &mut b,
            &dir,
            current.as_ref().ok(),
            &preflight_text,
            &status_text,
        )
        .await;
        b.write(path).map_err(|e| Failure::new(Code::Io, e))?;
        println!(
            "Support bundle written to {} (every secret replaced by <redacted>; check it before sending)",
            path.display()
        );
    }

    match worst {
        None => {
            println!("Everything looks right.");
            Ok(())
        }
        Some((code, why)) => Err(Failure::new(code, anyhow!("{why} (see above)"))),
    }
}

struct ImagesReport {
    text: String,
    problem: Option<String>,
}

/// Each image the configuration needs, present or not, and for each registry whether
/// credentials are there (where from, never what they are).
async fn images_report(settings: Option<&crate::settings::Settings>) -> ImagesReport {
    let wanted = images::wanted(settings);
    let mut text = String::new();
    let mut missing = Vec::new();
    match Engine::connect().await {
        Ok(engine) => {
            let absent = engine.missing_images(&wanted).await;
            for i in &wanted {
                let state = match &absent {
                    Ok(a) if a.contains(i) => "missing",
                    Ok(_) => "present",
                    Err(_) => "unknown",
                };
                text.push_str(&format!("  {state:<8} {i}\n"));
            }
            missing = absent.unwrap_or_default();
        }
        Err(e) => text.push_str(&format!("  cannot ask the Docker Engine: {e}\n")),
    }
    let mut registries: Vec<&str> = wanted.iter().map(|i| registry::registry_of(i)).collect();
    registries.sort_unstable();
    registries.dedup();
    for r in registries {
        let l = registry::lookup(r);
        text.push_str(&format!("  registry {r}: {}\n", l.source));
        if let Some(p) = l.problem {
            text.push_str(&format!("    problem: {p}\n"));
        }
    }
    let problem = (!missing.is_empty()).then(|| {
        format!(
            "{} image(s) missing: run `{}`",
            missing.len(),
            crate::stack::pull::RETRY
        )
    });
    ImagesReport {
        text: text.trim_end().to_string(),
        problem,
    }
}

async fn collect(
    b: &mut Bundle,
    dir: &Path,
    current: Option<&config::Current>,
    preflight_text: &str,
    status_text: &str,
) {
    let mut versions = format!("mathesarctl {}\n\n", env!("CARGO_PKG_VERSION"));
    versions.push_str(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    for (p, a) in [
        ("uname", &["-a"][..]),
        ("docker", &["version"][..]),
        ("docker", &["compose", "version"][..]),
        (
            "dpkg-query",
            &[
                "-W",
                "mathesar",
                "docker.io",
                "docker-ce",
                "docker-compose",
                "docker-compose-plugin",
            ][..],
        ),
    ] {
        versions.push('\n');
        versions.push_str(&transcript(p, a).await.0);
    }
    b.add("versions.txt", &versions);
    b.add("preflight.txt", preflight_text);
    b.add("status.txt", status_text);
    b.add(
        "status.json",
        &ourselves(dir, &["status", "--json"]).await.0,
    );
    b.add("show-config.txt", &ourselves(dir, &["show-config"]).await.0);
    b.add(
        "systemctl-status.txt",
        &transcript("systemctl", &["status", UNIT, "--no-pager"])
            .await
            .0,
    );
    b.add(
        "journal.txt",
        &transcript("journalctl", &["-u", UNIT, "-n", "500", "--no-pager"])
            .await
            .0,
    );

    if let Some(c) = current {
        let compose = Compose::new(&c.layout);
        for (name, sub) in [
            ("compose-ps.txt", &["ps", "--all"][..]),
            ("compose-config.txt", &["config"][..]),
        ] {
            let text = match compose.report(sub) {
                Ok(t) => t,
                Err(e) => e.to_string(),
            };
            b.add(name, &text);
        }
        b.add("data-dir.txt", &listing(&c.layout.data_dir, 3));
    }

    match Engine::connect().await {
        Ok(engine) => match engine.project_containers().await {
            Ok(containers) => {
                for c in containers {
                    let Some(id) = c.id.as_deref() else { continue };
                    let name = match engine.inspect(id).await {
                        Ok(Some(i)) => {
                            let name = container_name(&i);
                            let json = serde_json::to_string_pretty(&i).unwrap_or_default();
                            b.add(&format!("containers/{name}.inspect.json"), &json);
                            name
                        }
                        _ => service_of(&c).unwrap_or(id).to_string(),
                    };
                    let logs = engine
                        .last_logs(id, LOG_LINES)
                        .await
                        .unwrap_or_else(|e| e.to_string());
                    b.add(&format!("containers/{name}.log"), &logs);
                }
            }
            Err(e) => b.add("containers/error.txt", &e.to_string()),
        },
        Err(e) => b.add("containers/error.txt", &e.to_string()),
    }

    b.add("config-dir.txt", &listing(dir, 1));
    // An allow-list, each file parsed and masked: never a raw copy of the directory.
    let redactor = Redactor::from_config_dir(dir);
    for (name, text) in crate::day2::redact::config_files(dir, &redactor) {
        b.add(&format!("config/{name}"), &text);
    }
    let mut backups = String::new();
    for d in backup::list(Path::new(backup::DEFAULT_ROOT)) {
        let m = std::fs::read_to_string(d.join(crate::day2::manifest::FILE)).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&m).unwrap_or_default();
        backups.push_str(&format!(
            "{} created {} reason {} version {}\n",
            d.display(),
            v["created"].as_str().unwrap_or("?"),
            v["reason"].as_str().unwrap_or("?"),
            v["package_version"].as_str().unwrap_or("?"),
        ));
    }
    if backups.is_empty() {
        backups = format!("no backup in {}\n", backup::DEFAULT_ROOT);
    }
    b.add("backups.txt", &backups);
    let names: Vec<String> = b.names().map(str::to_string).collect();
    b.add("index.txt", &(names.join("\n") + "\n"));
}

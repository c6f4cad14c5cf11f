//! `mathesarctl show-config`: the effective settings, secrets masked.

use anyhow::anyhow;

use crate::cli::ShowConfigArgs;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::secrets::MASK;
use crate::settings::{Key, Settings};
use crate::sources::{Layers, current};
use crate::storage::ConfigLayout;

pub(crate) fn run(args: ShowConfigArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let layout = ConfigLayout::new(&dir);
    let found = {
        let _reading = super::read_lock(&dir)?;
        current::read(&layout).map_err(|e| Failure::new(e.code(), e))?
    };
    if found.env_text.is_none() {
        return Err(Failure::new(
            Code::Io,
            anyhow!(
                "{} has no configuration yet; run `mathesarctl configure`",
                layout.env_file().display()
            ),
        ));
    }
    let answers = Layers::current(found.answers).merge(&dir);
    let settings = Settings::from_answers(&answers).code(Code::InvalidAnswer)?;
    let shown: Vec<(Key, String)> = settings
        .to_answers(crate::settings::Source::Generated)
        .iter()
        .map(|(k, a)| {
            let v = if k.is_secret() && !a.value().is_empty() {
                MASK.to_string()
            } else {
                a.value().to_string()
            };
            (k, v)
        })
        .collect();
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|(k, v)| (k.name().to_string(), serde_json::Value::String(v.clone())))
            .chain([(
                "login-url".to_string(),
                serde_json::Value::String(settings.login_url()),
            )])
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&map).code(Code::Failure)?
        );
    } else {
        for (k, v) in &shown {
            println!("{:<22} {v}", k.name());
        }
        println!("{:<22} {}", "login-url", settings.login_url());
    }
    Ok(())
}

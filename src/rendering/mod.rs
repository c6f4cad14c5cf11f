//! Turning settings into the files the containers read: `.env`, `docker-compose.yml`, the Caddyfile.

pub mod compose;
pub mod env_file;
pub mod images;
pub mod plan;

use crate::secrets::Secret;
use crate::settings::Settings;
use crate::settings::sizing::Sizing;

/// Values that are not answers but belong to an installation: generated once, never regenerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Django's `SECRET_KEY`; it also encrypts stored database credentials, so it must never change.
    pub secret_key: Secret,
    pub watchtower_token: Secret,
}

/// Everything one configuration renders to.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Holds the secrets: never shown by `Debug`.
    pub env: String,
    pub compose: String,
    pub caddyfile: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("env", &crate::secrets::Redacted(&self.env))
            .field("compose", &self.compose)
            .field("caddyfile", &self.caddyfile)
            .finish()
    }
}

/// `sizing`: what the host gives the containers (`settings::sizing`, read at configure time).
pub fn render(
    settings: &Settings,
    state: &State,
    sizing: &Sizing,
) -> Result<Rendered, compose::RenderError> {
    Ok(Rendered {
        env: env_file::render(settings, state, sizing),
        compose: compose::render(settings)?,
        caddyfile: compose::render_caddyfile(settings)?,
    })
}

//! Turning settings into the files the containers read: `.env`, `docker-compose.yml`, the Caddyfile.

pub(crate) mod compose;
pub(crate) mod env_file;
pub(crate) mod held;
pub(crate) mod images;
pub(crate) mod plan;

pub(crate) use crate::secrets::State;
use crate::settings::Settings;
use crate::settings::sizing::Sizing;

/// Everything one configuration renders to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
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
pub(crate) fn render(
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

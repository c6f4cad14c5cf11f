//! The compose file, rendered from the template the package ships. Only structure is rendered
//! here (which services, which ports, which images); values stay `${VAR}` references into `.env`,
//! so that Compose recreates exactly the services whose values changed.

use minijinja::{Environment, context};
use thiserror::Error;

use crate::settings::Settings;

use super::images::image;

pub const TEMPLATE: &str = include_str!("../../packaging/docker-compose.yml.j2");
pub const CADDYFILE: &str = include_str!("../../packaging/Caddyfile");

#[derive(Debug, Error)]
#[error("the compose template cannot be rendered: {0}")]
pub struct RenderError(#[from] minijinja::Error);

pub fn render(s: &Settings) -> Result<String, RenderError> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_template("compose", TEMPLATE)?;
    let registry = s.image_registry.as_deref();
    let out = env.get_template("compose")?.render(context! {
        bundled_db => s.bundled_db(),
        db_port => s.db_port.is_some() && s.bundled_db(),
        https => s.domain.is_some(),
        images => context! {
            db => image("db", registry),
            service => image("service", registry),
            caddy => image("caddy", registry),
            watchtower => image("watchtower", registry),
        },
    })?;
    Ok(out)
}

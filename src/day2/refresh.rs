//! Security rebuilds of the pinned images (the answer `refresh-images`, run daily by
//! `mathesar-refresh.timer`): every image the configuration runs is pulled again under its pinned
//! tag, and the ones for which the registry now gives another image are named. The tags never
//! change here: new versions of Mathesar, PostgreSQL and Caddy come with package upgrades (its
//! backup, its downgrade refusal, its put-back), never from a registry behind the package's back.

use thiserror::Error;

use crate::stack::engine::{Engine, EngineError};
use crate::stack::pull::{self, Mode, PullError};

/// An image whose tag now names another image than before the pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rebuilt {
    pub image: String,
    /// `None`: it was not present.
    pub before: Option<String>,
    pub after: String,
}

impl std::fmt::Display for Rebuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |id: &str| {
            let hex = id.strip_prefix("sha256:").unwrap_or(id);
            hex.get(..12).unwrap_or(hex).to_string()
        };
        match &self.before {
            Some(b) => write!(f, "{} ({} -> {})", self.image, short(b), short(&self.after)),
            None => write!(f, "{} (new: {})", self.image, short(&self.after)),
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum RefreshError {
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Pulls every one of `images` and returns those whose local image changed.
pub(crate) async fn pull_rebuilt(
    engine: &Engine,
    images: &[String],
    mode: Mode,
) -> Result<Vec<Rebuilt>, RefreshError> {
    let mut before = Vec::with_capacity(images.len());
    for i in images {
        before.push(engine.image_id(i).await?);
    }
    pull::pull_all(engine, images, mode).await?;
    let mut rebuilt = Vec::new();
    for (image, before) in images.iter().zip(before) {
        let after = engine.image_id(image).await?.unwrap_or_default();
        if let Some(r) = changed(image, before, after) {
            rebuilt.push(r);
        }
    }
    Ok(rebuilt)
}

fn changed(image: &str, before: Option<String>, after: String) -> Option<Rebuilt> {
    (before.as_deref() != Some(after.as_str())).then(|| Rebuilt {
        image: image.to_string(),
        before,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_image_that_changed_is_rebuilt() {
        let id = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        assert_eq!(changed("a:1", Some(id('a')), id('a')), None);
        let r = changed("a:1", Some(id('a')), id('b')).unwrap();
        assert_eq!(r.to_string(), "a:1 (aaaaaaaaaaaa -> bbbbbbbbbbbb)");
        let r = changed("a:1", None, id('c')).unwrap();
        assert_eq!(r.to_string(), "a:1 (new: cccccccccccc)");
    }
}

//! Image archives for hosts without a registry: the pinned images of this package release (with
//! the `image-registry` prefix of the configuration) exported through the Engine API into one tar
//! file (`docker save` format, gzip-compressed when the name ends in `.gz`), and loaded back.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::StreamExt;
use thiserror::Error;

use crate::rendering::images::Image;
use crate::settings::Settings;
use crate::stack::engine::{Engine, EngineError};
use crate::storage::modes::PRIVATE_FILE;

#[derive(Debug, Error)]
pub(crate) enum ImagesError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the Docker Engine failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImagesError + '_ {
    move |source| ImagesError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The images a configuration runs; without a configuration, the pinned names with no registry
/// prefix.
pub(crate) fn wanted(settings: Option<&Settings>) -> Vec<String> {
    let registry = settings.and_then(|s| s.image_registry.as_deref());
    let mut images = Vec::new();
    if settings.is_none_or(Settings::bundled_db) {
        images.push(Image::Db);
    }
    images.extend([Image::Service, Image::Proxy]);
    images.into_iter().map(|i| i.pinned(registry)).collect()
}

/// The images of `wanted` that are not present.
pub(crate) async fn missing(
    engine: &Engine,
    wanted: &[String],
) -> Result<Vec<String>, ImagesError> {
    Ok(engine.missing_images(wanted).await?)
}

/// Exports `images` into `path` (written to a temporary file, renamed when complete).
/// Returns the archive's size.
pub(crate) async fn save(
    engine: &Engine,
    images: &[String],
    path: &Path,
) -> Result<u64, ImagesError> {
    let gzip = path.extension().is_some_and(|e| e == "gz" || e == "tgz");
    let dir = crate::storage::atomic::dir_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (file, tmp) =
        crate::storage::atomic::create_temp(dir, &name, PRIVATE_FILE).map_err(|source| {
            ImagesError::Io {
                path: dir.to_path_buf(),
                source,
            }
        })?;
    let result = async {
        let mut out: Box<dyn Write> = if gzip {
            Box::new(GzEncoder::new(file, Compression::fast()))
        } else {
            Box::new(file)
        };
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let mut stream = engine.export_images(&names);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ImagesError::Api {
                action: format!("export {}", names.join(", ")),
                source,
            })?;
            size += chunk.len() as u64;
            out.write_all(&chunk).map_err(io(&tmp))?;
        }
        out.flush().map_err(io(&tmp))?;
        drop(out);
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Loads the archive at `path` (plain or gzip-compressed tar) into the engine. Returns what the
/// engine said (`Loaded image: ...` lines).
pub(crate) async fn load(engine: &Engine, path: &Path) -> Result<Vec<String>, ImagesError> {
    let mut file = File::open(path).map_err(io(path))?;
    let chunks = futures_util::stream::poll_fn(move |_| {
        // A local file: short blocking reads are fine here.
        let mut buf = vec![0u8; 1024 * 1024];
        match file.read(&mut buf) {
            Ok(0) => std::task::Poll::Ready(None),
            Ok(n) => {
                buf.truncate(n);
                std::task::Poll::Ready(Some(Ok::<Bytes, std::io::Error>(Bytes::from(buf))))
            }
            Err(e) => std::task::Poll::Ready(Some(Err(e))),
        }
    });
    let mut stream = engine.import_images(chunks);
    let mut said = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|source| ImagesError::Api {
            action: format!("load {}", path.display()),
            source,
        })?;
        if let Some(s) = info.stream {
            let s = s.trim();
            if !s.is_empty() {
                said.push(s.to_string());
            }
        }
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Key;

    use crate::settings::for_tests as settings;

    #[test]
    fn the_images_follow_the_configuration() {
        let plain = wanted(None);
        assert_eq!(
            plain,
            [
                Image::Db.pinned(None),
                Image::Service.pinned(None),
                Image::Proxy.pinned(None)
            ]
        );
        let s = settings(&[
            (Key::ImageRegistry, "registry.example.internal:5000/mirror"),
            (Key::Watchtower, "true"),
            (Key::InternalDbHost, "db.example.internal"),
        ]);
        let w = wanted(Some(&s));
        // No watchtower, whatever the old answer says.
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w.iter()
                .all(|i| i.starts_with("registry.example.internal:5000/mirror/")),
            "{w:?}"
        );
        assert!(!w.iter().any(|i| i.contains("watchtower")));
        assert!(!w.iter().any(|i| i.contains("pgautoupgrade")));
    }
}

//! The camera's background effect in the app: blur, a scene that comes
//! with Tandem, or a picture the person picks. The picked picture is
//! checked (a JPEG or PNG, size-limited, decoder bombs refused: see
//! `tandem_media::still`) and a copy kept in the app's data folder, so the
//! choice holds from one run to the next even when the original moves.

use std::path::{Path, PathBuf};

use tandem_call::media::effects::{Backdrop, Background, SCENES};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt as _;

use crate::AppState;
use crate::dto::{BackgroundChoice, BackgroundStatus};
use crate::error::AppError;

/// The kept copy of the picked picture, and its original name beside it.
const KEPT: &str = "background-picture";
const KEPT_NAME: &str = "background-picture.name";

/// Where the picked picture is kept (none: the app has no data folder,
/// and pictures last until the app closes).
#[derive(Debug)]
pub(crate) struct Backdrops {
    dir: Option<PathBuf>,
    /// The picture picked in this run, when it could not be kept.
    unkept: std::sync::Mutex<Option<Backdrop>>,
}

impl Backdrops {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            unkept: Default::default(),
        }
    }

    /// Checks the picture at `path` and keeps a copy; it, named.
    pub(crate) fn keep(&self, path: &Path) -> Result<Backdrop, AppError> {
        let shown = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let refused = |e: &dyn std::fmt::Display| AppError::invalid(format!("{shown}: {e}"));
        let bytes = tandem_call::media::still::read_file(path).map_err(|e| refused(&e))?;
        let backdrop = Backdrop::from_bytes(&shown, &bytes).map_err(|e| refused(&e))?;
        match &self.dir {
            Some(dir) => {
                // Written aside and renamed: a crash never leaves half a
                // picture as the kept one.
                let write = || -> std::io::Result<()> {
                    std::fs::create_dir_all(dir)?;
                    let part = dir.join(format!("{KEPT}.part"));
                    std::fs::write(&part, &bytes)?;
                    std::fs::rename(&part, dir.join(KEPT))?;
                    std::fs::write(dir.join(KEPT_NAME), backdrop.name())
                };
                if let Err(e) = write() {
                    tracing::warn!(error = %e, "the picked background is not kept for next time");
                    *self.unkept.lock().unwrap_or_else(|p| p.into_inner()) = Some(backdrop.clone());
                }
            }
            None => {
                *self.unkept.lock().unwrap_or_else(|p| p.into_inner()) = Some(backdrop.clone());
            }
        }
        Ok(backdrop)
    }

    /// The picture picked last, read again from its kept copy.
    pub(crate) fn kept(&self) -> Result<Backdrop, AppError> {
        if let Some(b) = self
            .unkept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(b);
        }
        let none = || AppError::invalid("No background picture has been picked yet.");
        let dir = self.dir.as_ref().ok_or_else(none)?;
        let bytes = std::fs::read(dir.join(KEPT)).map_err(|_| none())?;
        let name =
            std::fs::read_to_string(dir.join(KEPT_NAME)).unwrap_or_else(|_| "picture".into());
        Backdrop::from_bytes(&name, &bytes).map_err(|e| {
            AppError::invalid(format!("The kept background picture cannot be used: {e}"))
        })
    }

    /// The kept picture's name, if there is one.
    fn kept_name(&self) -> Option<String> {
        if let Some(b) = self
            .unkept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return Some(b.name().to_owned());
        }
        let dir = self.dir.as_ref()?;
        dir.join(KEPT).is_file().then(|| {
            std::fs::read_to_string(dir.join(KEPT_NAME)).unwrap_or_else(|_| "picture".into())
        })
    }
}

/// What happens behind the person in the camera's pictures, in the
/// preview and the call alike, from the next picture on.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_background(
    state: State<'_, AppState>,
    background: BackgroundChoice,
) -> Result<(), AppError> {
    state.background.set(match background {
        BackgroundChoice::Off => Background::Off,
        BackgroundChoice::Blur => Background::BlurLight,
        BackgroundChoice::BlurStrong => Background::BlurStrong,
        BackgroundChoice::Scene(name) => Background::Picture(
            Backdrop::scene(&name)
                .ok_or_else(|| AppError::invalid(format!("There is no scene called {name:?}.")))?,
        ),
        BackgroundChoice::Picture => Background::Picture(state.backdrops.kept()?),
    });
    Ok(())
}

/// Asks the person for a picture (the system's picker) and puts it behind
/// them; its name, or none when the picker was closed.
#[tauri::command]
#[specta::specta]
pub(crate) async fn background_pick_picture(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Option<String>, AppError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Background picture")
        .add_filter("Pictures", &["jpg", "jpeg", "png"])
        .pick_file(move |picked| {
            let _ = tx.send(picked);
        });
    let Some(path) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let backdrop = state.backdrops.keep(&path)?;
    let name = backdrop.name().to_owned();
    state.background.set(Background::Picture(backdrop));
    Ok(Some(name))
}

/// How the background effect is doing, and what can be chosen.
#[tauri::command]
#[specta::specta]
pub(crate) async fn background_status(
    state: State<'_, AppState>,
) -> Result<BackgroundStatus, AppError> {
    let status = state.background.status();
    Ok(BackgroundStatus {
        problem: status.problem,
        pictures_per_mask: status.pictures_per_mask,
        scenes: SCENES.iter().map(|s| (*s).to_owned()).collect(),
        picture: state.backdrops.kept_name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("tandem-backdrops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A JPEG of a flat colour, `w`×`h`.
    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let rgb = vec![90u8; usize::from(w) * usize::from(h) * 3];
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn a_picked_picture_is_kept_for_the_next_run() {
        let kept_in = dir("kept");
        let picked = kept_in.with_extension("beach.jpg");
        std::fs::write(&picked, jpeg(64, 48)).unwrap_or_else(|e| panic!("{e}"));
        let b = Backdrops::new(Some(kept_in.clone()));
        assert!(b.kept_name().is_none());
        assert!(b.kept().is_err());
        let chosen = b.keep(&picked).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen.size(), (64, 48));
        // The original goes away; the next run still has it.
        std::fs::remove_file(&picked).unwrap_or_else(|e| panic!("{e}"));
        let next_run = Backdrops::new(Some(kept_in.clone()));
        let again = next_run.kept().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.size(), (64, 48));
        assert_eq!(next_run.kept_name(), Some(chosen.name().to_owned()));
        assert!(chosen.name().ends_with("beach.jpg"), "{}", chosen.name());
        let _ = std::fs::remove_dir_all(&kept_in);
    }

    #[test]
    fn what_is_not_a_picture_is_refused_and_the_kept_one_stays() {
        let kept_in = dir("refused");
        let b = Backdrops::new(Some(kept_in.clone()));
        let good = kept_in.with_extension("good.png.jpg");
        std::fs::write(&good, jpeg(32, 32)).unwrap_or_else(|e| panic!("{e}"));
        b.keep(&good).unwrap_or_else(|e| panic!("{e}"));
        for (name, bytes) in [
            ("script.jpg", b"#!/bin/sh\n".to_vec()),
            ("cut.jpg", jpeg(32, 32)[..40].to_vec()),
        ] {
            let path = kept_in.with_extension(name);
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
            let e = b
                .keep(&path)
                .err()
                .unwrap_or_else(|| panic!("{name} taken"));
            assert!(e.message.contains(name), "{}", e.message);
            let _ = std::fs::remove_file(&path);
        }
        assert_eq!(b.kept().map(|k| k.size()).ok(), Some((32, 32)));
        let _ = std::fs::remove_file(&good);
        let _ = std::fs::remove_dir_all(&kept_in);
    }
}

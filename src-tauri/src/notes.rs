//! The coach's private notes, one per platform and session: kept in the
//! app's data folder as the person types (each save written whole to a new
//! file, flushed, then renamed over the old one, so a crash or a closed
//! window never leaves half a note), never sent to anyone. After the call
//! the ended screen exports them, with the chat, as Markdown into the
//! person's downloads folder.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use specta::Type;

use crate::error::AppError;

/// The longest note kept (about 250 pages of text).
pub const MAX_NOTE_BYTES: usize = 1024 * 1024;
/// The longest Markdown export written.
const MAX_EXPORT_BYTES: usize = 4 * 1024 * 1024;

/// Which session a note belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct NoteKey {
    pub platform_id: String,
    /// The session's id or room, or (join links) the link: only its hash
    /// is kept, as the note's file name.
    pub session: String,
}

/// A note as kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub text: String,
    /// The session's title when it was last saved.
    pub title: String,
    /// When it was last saved, ms since the Unix epoch (0: never).
    pub updated_ms: f64,
}

/// Where notes live and where exports go.
#[derive(Debug, Clone)]
pub struct Notes {
    dir: Option<PathBuf>,
    exports: Option<PathBuf>,
}

impl Notes {
    /// Notes under `dir` (none: nothing is kept, and saving says so),
    /// exports into `exports`.
    pub fn new(dir: Option<PathBuf>, exports: Option<PathBuf>) -> Self {
        Notes { dir, exports }
    }

    fn path(&self, key: &NoteKey) -> Result<PathBuf, AppError> {
        let dir = self.dir.as_ref().ok_or_else(|| {
            AppError::internal("this system gives Tandem no folder to keep notes in")
        })?;
        let mut h = Sha256::new();
        h.update(key.platform_id.as_bytes());
        h.update([0]);
        h.update(key.session.as_bytes());
        let name: String = h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(dir.join(format!("{name}.json")))
    }

    /// The note of `key`; an empty one when there is none yet.
    pub fn load(&self, key: &NoteKey) -> Result<Note, AppError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AppError::internal(format!("the note in {} is unreadable: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Note::default()),
            Err(e) => Err(AppError::internal(format!(
                "the note in {} could not be read: {e}",
                path.display()
            ))),
        }
    }

    /// Keeps `text` as `key`'s note; when it was saved.
    pub fn save(&self, key: &NoteKey, title: &str, text: &str) -> Result<f64, AppError> {
        if text.len() > MAX_NOTE_BYTES {
            return Err(AppError::invalid(
                "The note is longer than 1 MB: it was not saved. Shorten it, or export it and start another.",
            ));
        }
        let path = self.path(key)?;
        let updated_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64);
        let note = Note {
            text: text.to_owned(),
            title: title.chars().take(200).collect(),
            updated_ms,
        };
        let bytes = serde_json::to_vec(&note).map_err(AppError::internal)?;
        write_whole(&path, &bytes).map_err(|e| {
            AppError::internal(format!(
                "the note could not be saved to {}: {e}",
                path.display()
            ))
        })?;
        Ok(updated_ms)
    }

    /// Writes `markdown` as a new file named after `title` in the exports
    /// folder (never over another file); its path.
    pub fn export(&self, title: &str, markdown: &str) -> Result<String, AppError> {
        if markdown.len() > MAX_EXPORT_BYTES {
            return Err(AppError::invalid("The export is longer than 4 MB."));
        }
        let dir = self.exports.as_ref().ok_or_else(|| {
            AppError::internal("this system has no downloads folder to save into")
        })?;
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::internal(format!("{} could not be made: {e}", dir.display())))?;
        let stem = format!("Tandem notes - {}", file_stem(title));
        for n in 1..1000 {
            let name = if n == 1 {
                format!("{stem}.md")
            } else {
                format!("{stem} ({n}).md")
            };
            let path = dir.join(name);
            // `create_new`: an existing file is never overwritten.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(markdown.as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(|e| {
                            AppError::internal(format!(
                                "{} could not be written: {e}",
                                path.display()
                            ))
                        })?;
                    return Ok(path.display().to_string());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(AppError::internal(format!(
                        "{} could not be written: {e}",
                        path.display()
                    )));
                }
            }
        }
        Err(AppError::internal(format!(
            "{} already holds 999 exports of this session",
            dir.display()
        )))
    }
}

/// A file name from a session's title: no path separators, control or
/// reserved characters, no leading dots, at most 80 characters, never a
/// name Windows reserves.
pub fn file_stem(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut stem: String = words
        .join(" ")
        .trim_start_matches(['.', ' '])
        .chars()
        .take(80)
        .collect();
    stem = stem.trim_end_matches(['.', ' ']).to_owned();
    let reserved = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "LPT1", "LPT2", "LPT3",
    ];
    if stem.is_empty() || reserved.contains(&stem.to_ascii_uppercase().as_str()) {
        stem = "session".into();
    }
    stem
}

/// Writes `bytes` to `path` whole: to a new file beside it, flushed to
/// disk, then renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// The note of a session.
#[tauri::command]
#[specta::specta]
pub(crate) async fn notes_load(
    state: tauri::State<'_, crate::AppState>,
    key: NoteKey,
) -> Result<Note, AppError> {
    let notes = state.notes.clone();
    tokio::task::spawn_blocking(move || notes.load(&key))
        .await
        .map_err(AppError::internal)?
}

/// Keeps a session's note (the UI saves as the person types); when.
#[tauri::command]
#[specta::specta]
pub(crate) async fn notes_save(
    state: tauri::State<'_, crate::AppState>,
    key: NoteKey,
    title: String,
    text: String,
) -> Result<f64, AppError> {
    let notes = state.notes.clone();
    tokio::task::spawn_blocking(move || notes.save(&key, &title, &text))
        .await
        .map_err(AppError::internal)?
}

/// Saves notes and chat as a Markdown file in the downloads folder; its path.
#[tauri::command]
#[specta::specta]
pub(crate) async fn notes_export(
    state: tauri::State<'_, crate::AppState>,
    title: String,
    markdown: String,
) -> Result<String, AppError> {
    let notes = state.notes.clone();
    tokio::task::spawn_blocking(move || notes.export(&title, &markdown))
        .await
        .map_err(AppError::internal)?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tandem-notes-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn notes_are_kept_per_session_whole_and_never_under_the_links_name() {
        let d = scratch("keep");
        let notes = Notes::new(Some(d.join("notes")), Some(d.join("out")));
        let a = NoteKey {
            platform_id: "p1".into(),
            session: "https://x/join?token=secret-link".into(),
        };
        let b = NoteKey {
            platform_id: "p2".into(),
            session: "https://x/join?token=secret-link".into(),
        };
        assert_eq!(notes.load(&a).unwrap(), Note::default());
        let t = notes
            .save(&a, "Session with Sam", "Goals:\n- sleep")
            .unwrap();
        assert!(t > 0.0);
        notes.save(&b, "Other", "b's").unwrap();
        let got = notes.load(&a).unwrap();
        assert_eq!(
            (got.text.as_str(), got.title.as_str()),
            ("Goals:\n- sleep", "Session with Sam")
        );
        assert_eq!(notes.load(&b).unwrap().text, "b's");
        // Files are named by hash; the link never appears in a name, and no
        // half-written file is left beside them.
        let names: Vec<String> = std::fs::read_dir(d.join("notes"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".json") && !n.contains("secret")),
            "{names:?}"
        );
        // Too long is refused and the old note stays.
        let long = "x".repeat(MAX_NOTE_BYTES + 1);
        assert!(notes.save(&a, "t", &long).is_err());
        assert_eq!(notes.load(&a).unwrap().text, "Goals:\n- sleep");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn exports_get_safe_names_and_never_overwrite() {
        let d = scratch("export");
        let notes = Notes::new(Some(d.join("notes")), Some(d.join("out")));
        let first = notes.export("../../etc/Sam: week 3?", "# one").unwrap();
        let second = notes.export("../../etc/Sam: week 3?", "# two").unwrap();
        assert!(
            first.ends_with("/Tandem notes - etc Sam week 3.md"),
            "{first}"
        );
        assert!(
            second.ends_with("/Tandem notes - etc Sam week 3 (2).md"),
            "{second}"
        );
        assert!(Path::new(&first).starts_with(d.join("out")));
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "# one");
        assert_eq!(file_stem("CON"), "session");
        assert_eq!(file_stem("..."), "session");
        assert_eq!(file_stem("a\u{0}b\nc"), "a b c");
        assert_eq!(file_stem(&"é".repeat(100)).chars().count(), 80);
        let _ = std::fs::remove_dir_all(&d);
    }
}
